"""Bulk slot files: for one half-hour slot, one Parquet and one CSV file per retailer with
the current value of every supply point it supplies that day.

One pass over a slot (:meth:`SlotFileStore.publish`) reads the slot's current values once
(the one rule, :func:`~openami.storage.current_values_sql.current_versions_sql`, here "as
of" the pass: versions recorded up to ``as_of_s``), joined to the audience the caller
passes in (supply point key, ID and a retailer code per point, from the registry's "who
supplies a point on a day"), sorts the rows by retailer with Arrow and writes each
retailer's slice. Nothing here creates a Python object per supply point.

Files are written to a temporary name beside their final one, fsynced and renamed: a file
is complete or absent, and a killed writer leaves at most a ``.``-prefixed temporary that
is never listed (and is overwritten by the next pass). A pass that finds its file already
written (a restart in the middle of a pass) leaves it as it is. The manifest of a pass is
written last; the catalogue lists the files of completed passes only.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.slot_files_formats import (
    Writer,
    derive_csv,
    file_table,
    whole_file,
)
from openami.storage.slot_files_layout import (
    FORMATS,
    MEDIA_TYPES,
    FileName,
    Layout,
    Manifest,
    parse_file_id,
)
from openami.storage.slot_files_values import SMALL_AUDIENCE, join_audience, read_versions

#: what the caller passes: who sees each supply point (``recipient``: index into the list
#: of retailer IDs passed beside it)
AUDIENCE_SCHEMA = pa.schema(
    [
        ("supply_point_key", pa.int64()),
        ("supply_point_id", pa.string()),
        ("recipient", pa.int32()),
    ]
)
_TS = pa.timestamp("ms", tz="UTC")
WRITE_ROWS = 1_048_576  # rows taken and written at a time per file
CHUNK_BYTES = 1 << 20

_CHANGED_SLOTS = """
SELECT DISTINCT slot FROM half_hour_values WHERE recorded_at >= ? AND recorded_at <= ?
ORDER BY slot
"""


class SlotSource(Protocol):
    """Where a pass reads a slot's value versions from: the process's own DuckDB interval
    store (:class:`DuckSlotSource`) or the shared one (``slot_files_shared``)."""

    #: whether each version carries its recording time (else corrections go by version)
    recorded_times: bool

    def changed_slots(self, after_s: float, until_s: float) -> list[int]: ...
    def versions(
        self,
        slot: int,
        as_of_s: float,
        changed_after_s: float | None,
        audience_keys: pa.Table | None,
    ) -> pa.Table: ...


class DuckSlotSource:
    """Versions and changed slots from a DuckDB interval store."""

    recorded_times = True

    def __init__(self, store: DuckIntervalStore) -> None:
        self.store = store

    def changed_slots(self, after_s: float, until_s: float) -> list[int]:
        """Slots with a value version recorded in ``[after_s, until_s]`` (the instant of the
        round before included: an edit between two ticks has the clock's standing time)."""
        table = self.store.query(_CHANGED_SLOTS, [after_s, until_s])
        return [int(s) for s in table.column("slot").to_pylist()]

    def versions(
        self,
        slot: int,
        as_of_s: float,
        changed_after_s: float | None,
        audience_keys: pa.Table | None,
    ) -> pa.Table:
        return read_versions(self.store, slot, as_of_s, changed_after_s, audience_keys)


@dataclass(frozen=True)
class SlotFile:
    """One file of one retailer, as the catalogue lists it."""

    file_id: str
    slot: int
    kind: str
    seq: int
    fmt: str
    rows: int
    size_bytes: int | None  # a CSV file not derived yet: None
    etag: str
    as_of_s: float
    written_at_s: float

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.fmt]


def split_by_recipient(values: pa.Table, recipients: int) -> tuple[pa.Array, np.ndarray]:
    """The row order that groups ``values`` by recipient code (a stable counting sort in
    Arrow: within a recipient the input order stays, by supply point when the input is),
    and where each recipient's run starts in it (``recipients + 1`` bounds)."""
    codes = values.column("recipient")
    order = pc.sort_indices(codes)
    counts = np.bincount(np.asarray(codes.to_numpy(), dtype=np.int64), minlength=recipients)[
        :recipients
    ]
    bounds = np.zeros(recipients + 1, np.int64)
    np.cumsum(counts, out=bounds[1:])
    return order, bounds


def _take_ascending(
    batches: list[pa.RecordBatch], offsets: np.ndarray, rows: np.ndarray
) -> pa.Table:
    """The rows ``rows`` (ascending, as a stable sort leaves one recipient's run) of the
    table made of ``batches`` (``offsets``: where each starts), taken batch by batch: a
    take on a many-chunk table would concatenate whole columns for every part."""
    cut = np.searchsorted(rows, offsets)
    pieces = [
        batch.take(pa.array(rows[cut[i] : cut[i + 1]] - offsets[i]))
        for i, batch in enumerate(batches)
        if cut[i + 1] > cut[i]
    ]
    return pa.Table.from_batches(pieces, batches[0].schema)


class SlotFileStore:
    """The slot files under ``root``, written from the interval store ``store`` (a DuckDB
    store, or another :class:`SlotSource` such as the shared store's)."""

    def __init__(
        self,
        root: Path,
        store: DuckIntervalStore | SlotSource | None,
        threads: int = 2,
        eager_csv: bool = False,
    ) -> None:
        """``eager_csv``: a pass writes the CSV files too (else each is derived from its
        Parquet file on its first download). ``store`` None: writing and reading files
        only (no pass)."""
        self.layout = Layout(root)
        source = DuckSlotSource(store) if isinstance(store, DuckIntervalStore) else store
        self.source: SlotSource | None = source
        self.threads = threads
        self.pass_formats = FORMATS if eager_csv else ("parquet",)

    # -- reading the interval store ------------------------------------------------------------
    def changed_slots(self, after_s: float, until_s: float) -> list[int]:
        """Slots with a value version recorded in ``[after_s, until_s]`` (the instant of the
        round before included: an edit between two ticks has the clock's standing time)."""
        return self._source().changed_slots(after_s, until_s)

    def _source(self) -> SlotSource:
        if self.source is None:
            raise RuntimeError("this slot-file store was opened without values")
        return self.source

    def slot_values(
        self,
        slot: int,
        audience: pa.Table,
        as_of_s: float,
        changed_after_s: float | None = None,
        earlier: list[Manifest] | None = None,
    ) -> pa.Table:
        """Every audience point with its current value of ``slot`` as of ``as_of_s`` (null
        where none is stored). For a correction (``changed_after_s``: the instant of the
        pass before), only the points whose current version is newer than the version the
        ``earlier`` passes gave them: a version recorded at the very instant of the pass
        before may or may not be in it (an edit between two ticks of a clock that stands
        still), so the versions in the earlier files decide."""
        small = audience.num_rows <= SMALL_AUDIENCE
        keys = pa.table({"supply_point_key": audience.column("supply_point_key").cast(pa.int64())})
        source = self._source()
        versions = source.versions(slot, as_of_s, changed_after_s, keys if small else None)
        values = join_audience(slot, audience, versions)
        if changed_after_s is not None and source.recorded_times:  # new versions only
            since = pa.scalar(int(changed_after_s * 1000), _TS)
            values = values.filter(pc.greater_equal(values.column("recorded_at"), since))
        elif changed_after_s is not None:  # no recording times: the versions decide below
            values = values.filter(pc.is_valid(values.column("version")))
        if changed_after_s is None or values.num_rows == 0:
            return values
        before = self._versions(earlier or [])
        joined = values.join(before, "supply_point_id", join_type="left outer")
        newer = pc.or_kleene(
            pc.is_null(joined.column("version_before")),
            pc.greater(joined.column("version"), joined.column("version_before")),
        )
        changed = joined.filter(pc.fill_null(newer, False)).drop(["version_before"])
        order = pc.sort_indices(changed, sort_keys=[("supply_point_key", "ascending")])
        return changed.take(order).select(values.column_names)

    def _versions(self, passes: list[Manifest]) -> pa.Table:
        """The highest version each supply point had in the files of ``passes``."""
        parts = [
            pa.table(
                {"supply_point_id": pa.array([], pa.string()), "version": pa.array([], pa.int32())}
            )
        ]
        for manifest in passes:
            for recipient in manifest.rows:
                name = FileName(manifest.slot, manifest.kind, manifest.seq, "parquet")
                path = self.layout.file_path(recipient, name)
                if path.exists():
                    parts.append(pq.read_table(path, columns=["supply_point_id", "version"]))
        table = pa.concat_tables(parts)
        grouped = table.group_by("supply_point_id").aggregate([("version", "max")])
        return grouped.rename_columns(["supply_point_id", "version_before"])

    # -- writing -------------------------------------------------------------------------------
    def publish(
        self,
        slot: int,
        kind: str,
        seq: int,
        audience: pa.Table,
        recipients: list[str],
        as_of_s: float,
        changed_after_s: float | None = None,
    ) -> Manifest | None:
        """One pass over ``slot``: query, split, write every retailer's files, then the
        manifest. None (and nothing written) when a correction finds nothing changed."""
        earlier = self.layout.manifests(slot) if changed_after_s is not None else None
        values = self.slot_values(slot, audience, as_of_s, changed_after_s, earlier)
        if changed_after_s is not None and values.num_rows == 0:
            return None
        return self.write(slot, kind, seq, values, recipients, as_of_s, changed_after_s)

    def write(
        self,
        slot: int,
        kind: str,
        seq: int,
        values: pa.Table,
        recipients: list[str],
        as_of_s: float,
        changed_after_s: float | None = None,
        written_at_s: float | None = None,
    ) -> Manifest:
        """Write the files of ``values`` (columns of :data:`FILE_SCHEMA` plus ``recipient``
        and ``supply_point_key``), one Parquet file (and with ``eager_csv`` one CSV file)
        per recipient with rows, then the manifest."""
        order, bounds = split_by_recipient(values, len(recipients))
        order_np = np.asarray(order.to_numpy(), dtype=np.int64)
        batches = [b for b in values.to_batches() if b.num_rows]
        offsets = np.zeros(len(batches) + 1, np.int64)
        np.cumsum([b.num_rows for b in batches], out=offsets[1:])
        jobs = []
        rows: dict[str, int] = {}
        for code, recipient in enumerate(recipients):
            lo, hi = int(bounds[code]), int(bounds[code + 1])
            if hi > lo:
                rows[recipient] = hi - lo
                jobs.append((recipient, lo, hi))
                self.layout.make_dirs(
                    self.layout.file_path(recipient, FileName(slot, kind, seq, "csv"))
                )

        def one(job: tuple[str, int, int]) -> None:
            recipient, lo, hi = job
            paths = {
                fmt: self.layout.file_path(recipient, FileName(slot, kind, seq, fmt))
                for fmt in self.pass_formats
            }
            todo = [fmt for fmt, path in paths.items() if not path.exists()]
            if not todo:  # written before a restart: complete, leave them
                return
            writers = [Writer(paths[fmt], fmt) for fmt in todo]
            # in parts, so that an incumbent's slice is never materialised whole
            for start in range(lo, hi, WRITE_ROWS):
                rows = order_np[start : min(start + WRITE_ROWS, hi)]
                part = file_table(_take_ascending(batches, offsets, rows))
                for writer in writers:
                    writer.write(part)
            for writer in writers:
                writer.finish()

        # largest first, so that the incumbents' files do not finish last on one thread
        jobs.sort(key=lambda job: job[1] - job[2])
        with ThreadPoolExecutor(max_workers=max(1, self.threads)) as pool:
            list(pool.map(one, jobs))
        manifest = Manifest(
            slot,
            kind,
            seq,
            as_of_s,
            changed_after_s,
            as_of_s if written_at_s is None else written_at_s,
            rows,
        )
        # pending first: a crash after the manifest still gets its webhooks queued
        self.layout.write_small(self.layout.pending_path(slot, manifest.pass_name), "")
        self.layout.save_manifest(manifest)
        return manifest

    # -- the catalogue -------------------------------------------------------------------------
    def manifests(self, slot: int) -> list[Manifest]:
        return self.layout.manifests(slot)

    def pending(self) -> list[Manifest]:
        """Completed passes whose webhooks may not be queued yet (stale markers of passes
        that never completed are dropped: the pass is done again)."""
        out = []
        for slot, pass_name in self.layout.pending():
            manifest = self.layout.manifest(slot, pass_name)
            if manifest is None:
                self.layout.clear_pending(slot, pass_name)
            else:
                out.append(manifest)
        return out

    def announced(self, manifest: Manifest) -> None:
        self.layout.clear_pending(manifest.slot, manifest.pass_name)

    def files_of(self, recipient: str, slot: int) -> list[SlotFile]:
        """The retailer's files of ``slot``, from completed passes."""
        out = []
        for manifest in self.layout.manifests(slot):
            if recipient not in manifest.rows:
                continue
            for fmt in FORMATS:
                found = self._file(recipient, manifest, fmt)
                if found is not None:
                    out.append(found)
        return out

    def file(self, recipient: str, file_id: str) -> SlotFile | None:
        """The retailer's file ``file_id``, or None (malformed, unknown or another's); a
        CSV file not derived yet is derived now (a download)."""
        name = parse_file_id(file_id)
        if name is None:
            return None
        manifest = self.layout.manifest(name.slot, name.pass_name)
        if manifest is None or recipient not in manifest.rows:
            return None
        return self._file(recipient, manifest, name.fmt, derive=True)

    def _file(
        self, recipient: str, manifest: Manifest, fmt: str, derive: bool = False
    ) -> SlotFile | None:
        """A listed file; a CSV file is listed as soon as its Parquet file is there (its
        size: None until it is derived). The ETag follows the Parquet file, which the CSV
        file is made from: the same before and after the derivation."""
        name = FileName(manifest.slot, manifest.kind, manifest.seq, fmt)
        parquet = self.layout.file_path(recipient, replace(name, fmt="parquet"))
        try:
            source = parquet.stat()
        except FileNotFoundError:
            return None
        size_bytes: int | None = source.st_size
        if fmt != "parquet":
            path = self.layout.file_path(recipient, name)
            if derive:
                derive_csv(parquet, path)
            size_bytes = path.stat().st_size if derive or path.exists() else None
        return SlotFile(
            name.file_id,
            manifest.slot,
            manifest.kind,
            manifest.seq,
            fmt,
            manifest.rows[recipient],
            size_bytes,
            f'"{fmt}-{source.st_size:x}-{source.st_mtime_ns:x}"',
            manifest.as_of_s,
            manifest.written_at_s,
        )

    def parse_file_id(self, file_id: str) -> FileName | None:
        """The parts of a well-formed file ID, or None."""
        return parse_file_id(file_id)

    def file_names(self, manifest: Manifest) -> list[FileName]:
        """The names of a pass's files (one per format)."""
        return [FileName(manifest.slot, manifest.kind, manifest.seq, fmt) for fmt in FORMATS]

    def media_type(self, fmt: str) -> str:
        return MEDIA_TYPES[fmt]

    def chunks(self, recipient: str, file: SlotFile) -> Iterator[bytes]:
        """The bytes of a listed file, in chunks (for a streaming download)."""
        name = FileName(file.slot, file.kind, file.seq, file.fmt)
        with open(self.layout.file_path(recipient, name), "rb") as fh:
            while chunk := fh.read(CHUNK_BYTES):
                yield chunk

    def render(self, manifest: Manifest, audience: pa.Table, fmt: str) -> bytes:
        """A file of the same pass for another audience (a third party's consented points),
        made on request: the same values as the pass (as of its instant, only the points
        changed after the previous pass for a correction)."""
        order = [(m.kind, m.seq) for m in self.layout.manifests(manifest.slot)]
        earlier = [
            m
            for m in self.layout.manifests(manifest.slot)
            if order.index((m.kind, m.seq)) < order.index((manifest.kind, manifest.seq))
        ]
        values = self.slot_values(
            manifest.slot, audience, manifest.as_of_s, manifest.changed_after_s, earlier
        )
        return whole_file(file_table(values), fmt)
