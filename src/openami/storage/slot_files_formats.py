"""The two forms of a slot file, and how each is written complete-or-absent.

**Parquet** is written by the pass, for every retailer (zstd; no dictionary for the
22-digit supply point IDs, which are all distinct: a dictionary there costs CPU and makes
the file larger). **CSV** is derived from the Parquet file: by default on its first
download (:func:`derive_csv`, then kept), or by the pass itself when the store is made
with ``eager_csv``. Both ways produce the same bytes: the CSV writer sees the same rows in
the same order and every field's text depends on its value only.

Every file is written under a ``.``-prefixed temporary name beside its final one, fsynced
and renamed.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from openami.storage.slot_files_layout import FILE_MODE

_TS = pa.timestamp("ms", tz="UTC")
#: the columns of every slot file
FILE_SCHEMA = pa.schema(
    [
        ("supply_point_id", pa.string()),
        ("slot_start", _TS),
        ("import_wh", pa.int64()),
        ("export_wh", pa.int64()),
        ("quality", pa.string()),  # null: no value stored for the slot yet
        ("version", pa.int32()),
        ("recorded_at", _TS),
    ]
)
ROW_GROUP_ROWS = 65_536
#: dictionary-encoded Parquet columns: the ones with few distinct values
_DICTIONARY_COLUMNS = ["slot_start", "import_wh", "export_wh", "quality", "version", "recorded_at"]
#: a temporary older than this was left by a killed writer (a live one renames sooner)
_STALE_TEMP_S = 3600.0


def file_table(part: pa.Table) -> pa.Table:
    return part.select(FILE_SCHEMA.names).cast(FILE_SCHEMA, safe=False)


def _iso_jst(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """ISO 8601 JST text of a timestamp column with few distinct values (a slot start, the
    instants of a few collection rounds): each distinct value is formatted once."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    encoded = pc.dictionary_encode(array.cast(pa.timestamp("s", tz="Asia/Tokyo"), safe=False))
    text = pc.strftime(encoded.dictionary, "%Y-%m-%dT%H:%M:%S%z")
    text = pc.replace_substring(text, "+0900", "+09:00")
    return text.take(encoded.indices)


def csv_table(table: pa.Table) -> pa.Table:
    """The CSV form of file rows: instants as ISO 8601 JST text."""
    for name in ("slot_start", "recorded_at"):
        position = table.schema.get_field_index(name)
        table = table.set_column(position, name, _iso_jst(table.column(name)))
    return table


#: nothing needs quoting (22-digit IDs, ISO instants, quality names, numbers): quoting
#: would only scan every string
CSV_OPTIONS = pcsv.WriteOptions(quoting_style="none")


def parquet_writer(sink: object) -> pq.ParquetWriter:
    return pq.ParquetWriter(
        sink, FILE_SCHEMA, compression="zstd", use_dictionary=_DICTIONARY_COLUMNS
    )


class Writer:
    """One file being written under its temporary name, part by part. ``exclusive``: the
    only writer of this name (a pass), which removes any temporary a killed writer left;
    else (a download deriving a CSV, maybe in several processes at once) only temporaries
    older than an hour are removed."""

    def __init__(self, path: Path, fmt: str, exclusive: bool = True) -> None:
        self.path = path
        self.fmt = fmt
        now_s = time.time()
        for stale in path.parent.glob(f".{path.name}.tmp-*"):
            try:
                if exclusive or now_s - stale.stat().st_mtime > _STALE_TEMP_S:
                    stale.unlink(missing_ok=True)  # left by a writer killed mid-file
            except FileNotFoundError:
                continue
        self.tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
        descriptor = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        self.fh = open(descriptor, "wb")  # noqa: SIM115  # closed in finish()
        self.parquet: pq.ParquetWriter | None = None
        self.csv: pcsv.CSVWriter | None = None

    def write(self, part: pa.Table) -> None:
        if self.fmt == "parquet":
            if self.parquet is None:
                self.parquet = parquet_writer(self.fh)
            self.parquet.write_table(part, row_group_size=ROW_GROUP_ROWS)
            return
        text = csv_table(part)
        if self.csv is None:
            self.csv = pcsv.CSVWriter(self.fh, text.schema, write_options=CSV_OPTIONS)
        self.csv.write_table(text)

    def finish(self) -> None:
        """Close, fsync and rename: the file appears complete or not at all."""
        for writer in (self.parquet, self.csv):
            if writer is not None:
                writer.close()
        self.fh.flush()
        os.fsync(self.fh.fileno())  # durable before it becomes visible
        self.fh.close()
        os.replace(self.tmp, self.path)

    def abandon(self) -> None:
        """Drop the temporary (a failed derivation)."""
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


_DERIVING = threading.Lock()
_PATH_LOCKS: dict[Path, threading.Lock] = {}


def derive_csv(parquet_path: Path, csv_path: Path) -> None:
    """Write ``csv_path`` from the Parquet file beside it, one row group at a time, unless
    it is there already (one derivation per path at a time in this process; another
    process deriving the same file renames the same bytes over it)."""
    with _DERIVING:
        lock = _PATH_LOCKS.setdefault(csv_path, threading.Lock())
    with lock:
        if csv_path.exists():
            return
        writer = Writer(csv_path, "csv", exclusive=False)
        try:
            source = pq.ParquetFile(parquet_path)
            for batch in source.iter_batches(batch_size=ROW_GROUP_ROWS * 16):
                writer.write(pa.Table.from_batches([batch]))
            if writer.csv is None:  # no rows: the header only
                writer.write(FILE_SCHEMA.empty_table())
            writer.finish()
        except BaseException:
            writer.abandon()
            raise
    with _DERIVING:
        _PATH_LOCKS.pop(csv_path, None)


def whole_file(table: pa.Table, fmt: str) -> bytes:
    """A small file in memory (a third party's rendering)."""
    sink = pa.BufferOutputStream()
    if fmt == "parquet":
        writer = parquet_writer(sink)
        writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        writer.close()
    else:
        pcsv.write_csv(csv_table(table), sink, CSV_OPTIONS)
    return bytes(sink.getvalue().to_pybytes())
