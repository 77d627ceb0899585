"""Bulk import of register reads from CSV or Parquet, and CSV export of half-hour values.

Import columns: ``supply_point_id``, ``slot_start`` (ISO 8601 with a UTC offset: the instant
the registers were read, on the :00/:30 grid), ``import_register_wh``,
``export_register_wh`` (may be empty) and optionally ``meter_id`` (needed only to tell the
old and the new meter apart at a meter exchange). Every row is checked with set-based SQL;
bad rows are reported with their line and reason and the good rows are kept (the
file formats and the check's SQL live in ``storage/bulk_import.py``). Rows go to the
MDMS in chunks of one transaction each, so an interrupted import can simply be run again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import READ_SCHEMA, ReadSource
from openami.mdms.ingest import VeeIngestResult
from openami.mdms.jobs import EstimationResult
from openami.mdms.vee_config import VeeConfig, decode_flags_array
from openami.storage.bulk_import import PARQUET_SUFFIXES, check_import_rows, read_import_file
from openami.storage.values_export import values_csv_text

if TYPE_CHECKING:
    from openami.mdms.service import Mdms


@dataclass
class ImportCheck:
    """Rows of a file split into good reads and bad rows with reasons."""

    rows: int
    reads: pa.Table  # READ_SCHEMA + clock_offset_s, ordered by line
    bad: list[tuple[int, str]] = field(default_factory=list)
    same_duplicates: int = 0


def check_rows(
    table: pa.Table,
    keys: pa.Table,
    installations: pa.Table,
    cfg: VeeConfig,
    received_at: float,
    header_lines: int = 1,
) -> ImportCheck:
    """Validate rows; ``keys`` maps supply_point_id → supply_point_key (known ones only)."""
    out = check_import_rows(
        _raw_rows(table, header_lines), keys, installations, cfg.rule("V09").p("max_s")
    )
    reason = out.column("reason")
    bad_mask = np.asarray(reason.is_valid(), dtype=bool)
    bad = list(
        zip(
            out.column("line").filter(pa.array(bad_mask)).to_pylist(),
            reason.filter(pa.array(bad_mask)).to_pylist(),
            strict=True,
        )
    )
    same_dup = np.asarray(pc.fill_null(out.column("same_dup"), False), dtype=bool)
    good = out.filter(pa.array(~bad_mask & ~same_dup))
    reads = pa.table(
        {
            "meter_id": good.column("meter_id"),
            "boundary": good.column("boundary"),
            "import_register_wh": good.column("imp"),
            "export_register_wh": good.column("exp"),
            "received_at": pa.array(np.full(good.num_rows, received_at)),
            "source": pa.array(np.full(good.num_rows, ReadSource.BULK, dtype=np.uint8)),
        },
        schema=READ_SCHEMA,
    ).append_column("clock_offset_s", good.column("off_s"))
    return ImportCheck(table.num_rows, reads, bad, int(same_dup.sum()))


def _raw_rows(table: pa.Table, header_lines: int) -> pa.Table:
    """The file's columns as text with their line numbers; a Parquet timestamp (which must
    carry a zone) as epoch seconds in ``epoch_given``."""
    n = table.num_rows
    epoch_given = pa.nulls(n, pa.float64())
    col = table.column("slot_start")
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            raise ValueError("slot_start: Parquet timestamps must carry a time zone (UTC offset)")
        epoch_given = pc.divide(col.cast(pa.timestamp("us", "UTC")).cast(pa.int64()), 1e6)
        col = pa.nulls(n, pa.string())

    def text(name: str) -> pa.ChunkedArray | pa.Array:
        if name not in table.column_names:
            return pa.nulls(n, pa.string())
        return table.column(name).cast(pa.string())

    return pa.table(
        {
            "line": np.arange(n, dtype=np.int64) + 1 + header_lines,
            "supply_point_id": text("supply_point_id"),
            "slot_start": col.cast(pa.string()),
            "epoch_given": epoch_given,
            "import_register_wh": text("import_register_wh"),
            "export_register_wh": text("export_register_wh"),
            "meter_id_text": text("meter_id"),
        }
    )


@dataclass
class ImportReport:
    rows: int
    good_rows: int
    bad: list[tuple[int, str]]
    same_duplicates: int
    reads_new: int = 0
    values_new: int = 0
    invalid: int = 0
    flagged: int = 0
    chunks: int = 0
    estimation: EstimationResult | None = None

    def add(self, r: VeeIngestResult) -> None:
        self.reads_new += r.reads_new
        self.values_new += r.values_new
        self.invalid += r.invalid
        self.flagged += r.flagged
        self.chunks += 1


def import_reads(
    mdms: Mdms,
    path: Path,
    chunk_rows: int,
    estimate: bool,
    progress: Callable[[VeeIngestResult], None] | None,
) -> ImportReport:
    """``Mdms.import_file``: check every row, ingest the good ones chunk by chunk, then
    estimate the gaps between the file's first and last read."""
    table = read_import_file(path)
    check = check_rows(
        table,
        _known_keys(mdms, table),
        mdms.installations,
        mdms.vee,
        mdms.clock.timestamp(),
        0 if path.suffix.lower() in PARQUET_SUFFIXES else 1,
    )
    report = ImportReport(check.rows, check.reads.num_rows, check.bad, check.same_duplicates)
    for chunk in chunks(check.reads, chunk_rows):
        result = mdms.ingest(chunk, reason="bulk import")
        report.add(result)
        if progress is not None:
            progress(result)
    if estimate and check.reads.num_rows:
        report.estimation = _estimate_between_reads(mdms, check.reads)
    return report


def _known_keys(mdms: Mdms, table: pa.Table) -> pa.Table:
    """supply_point_id → supply_point_key of the file's supply points the registry knows."""
    ids = pc.unique(table.column("supply_point_id").cast(pa.string())).drop_null().to_pylist()
    known = mdms.registry.supply_point_key_of(ids)
    return pa.table(
        {
            "supply_point_id": pa.array(list(known), pa.string()),
            "supply_point_key": pa.array(list(known.values()), pa.int64()),
        }
    )


def _estimate_between_reads(mdms: Mdms, reads: pa.Table) -> EstimationResult | None:
    """Estimate the gaps of the supply points the reads belong to, between the first and
    the last read's boundary (None when they are all at one boundary)."""
    boundary = reads.column("boundary")
    first, last = int(pc.min(boundary).as_py()), int(pc.max(boundary).as_py())
    if last <= first:
        return None
    points = mdms.install_index.lookup(reads.column("meter_id").to_numpy(), boundary.to_numpy())
    keys_hit = sorted({int(k) for k in np.unique(points) if k >= 0})
    return mdms.estimate(first, last - 1, keys_hit or None, user="bulk import")


def chunks(table: pa.Table, rows: int) -> Iterator[pa.Table]:
    """Slices of about ``rows`` rows; a slice ends where the meter changes (within another
    ``rows`` rows), so that a file grouped by supply point keeps each meter-day in one chunk
    and the MDMS can take the whole chunk as day rows (``mdms/grid.py``)."""
    n = table.num_rows
    meter = np.asarray(pc.fill_null(table.column("meter_id"), -1).to_numpy(), dtype=np.int64)
    start = 0
    while start < n:
        stop = min(start + rows, n)
        if stop < n:
            change = np.flatnonzero(meter[stop : stop + rows] != meter[stop - 1])
            stop = stop + int(change[0]) if len(change) else min(stop + rows, n)
        yield table.slice(start, stop - start)
        start = stop


def values_csv(values: pa.Table, supply_point_id: str, first_slot: int, last_slot: int) -> str:
    """CSV of every slot in the range: values with quality, final, method, flags, version
    and the ESPI QualityOfReading code. Slots without any value yet have quality
    ``not_yet_available``."""
    flags = pa.array(decode_flags_array(pc.fill_null(values.column("vee_flags"), 0).to_numpy()))
    vals = (
        values.append_column("flags", flags)
        if values.num_rows
        else values.append_column("flags", pa.array([], pa.string()))
    )
    return values_csv_text(vals, supply_point_id, first_slot, last_slot)
