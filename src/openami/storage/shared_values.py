"""The shared interval store: value versions in a Delta Lake table many processes read.

Each MDMS worker keeps its partitions' values in a private DuckDB working store
(``DuckIntervalStore``) that no other process may open. :class:`SharedValueStore` publishes
what a working store committed to one Delta Lake table (``deltalake``, delta-rs): writers
append, any number of readers (``storage/shared_read.py``, Spark, DuckDB, Polars) read
consistent snapshots at the same time, and nobody waits for anybody. The layout is
``storage/shared_layout.py``; the comparison with Iceberg that chose Delta is in
``docs/interval-store.md``.

Publication is idempotent: the working store numbers its value versions
(:meth:`DuckIntervalStore.track_writes`: ``hh_values.write_seq``; day rows already carry
their ``ingest_seq``), and each append commits, *in the same Delta commit*, the highest
numbers it holds as Delta application transactions (``<source>/values``,
``<source>/days``). A crash after the commit is therefore seen by the next call, which
publishes only what is newer; a crash before it leaves nothing behind but an orphan file
that ``vacuum`` removes.

Compaction rewrites one day's tick rows and day rows as one day file sorted by supply point
(``shape=day``, the current version per slot), replacing them in one commit (overwrite with
the ``day`` predicate). A tick appended to that day meanwhile makes the commit fail (delta-rs
conflict check) and the compaction starts again; readers keep reading the snapshot they
hold. ``vacuum`` deletes files no longer in the table once they are older than a retention
that outlasts any reader's query.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from openami.log import get_logger
from openami.storage.day_pack import PACK_REASON
from openami.storage.duckdb_interval import (
    DAY_VALUE_COLS,
    DAY_VALUE_PRESENT,
    DEFAULT_REASON,
    DuckIntervalStore,
)
from openami.storage.duckdb_reads import read_query
from openami.storage.quality_sql import HH_QUALITY, quality_code_sql
from openami.storage.shared_layout import (
    PARTITION_BY,
    SHAPE_DAY,
    SHAPE_WINDOW,
    TABLE_SCHEMA,
    day_rows,
    explode_day_rows,
    jst_day_numbers,
    latest_versions,
    tick_rows,
)
from openami.storage.shared_windows import build_window, stale_windows

log = get_logger(__name__)

#: wall seconds between two publications of the single-process MDMS (``openami serve``)
PUBLISH_EVERY_S = 5.0
#: value versions per commit when a working store has much to publish (first publication)
CHUNK_ROWS = 2_000_000
#: files no longer in the table are deleted by ``vacuum`` once older than this
RETENTION_HOURS = 1.0
#: day rows per Parquet row group of a day file: a point read decodes one group per day
DAY_ROW_GROUP_ROWS = 128
COMPACT_ATTEMPTS = 5
DIRECTORY_MODE = 0o700

_VALUES = f"""
SELECT supply_point_key, slot, import_wh, export_wh,
       CAST({quality_code_sql(HH_QUALITY)} AS UTINYINT) AS qcode, version, recorded_at,
       COALESCE(vee_flags, 0) AS vee_flags, COALESCE(final, false) AS final, method,
       edited_by, NULLIF(reason, '{DEFAULT_REASON}') AS reason, write_seq
FROM hh_values WHERE write_seq > $after ORDER BY write_seq LIMIT $limit
"""
_DAY_SEQS = f"""
SELECT DISTINCT d.ingest_seq FROM day_rows d JOIN ingest_log l USING (ingest_seq)
WHERE d.ingest_seq > $after AND l.reason IS DISTINCT FROM '{PACK_REASON}'
ORDER BY 1
"""
_NEWER = f"""
SELECT EXISTS (SELECT 1 FROM hh_values WHERE write_seq > $values)
    OR EXISTS (SELECT 1 FROM day_rows d JOIN ingest_log l USING (ingest_seq)
               WHERE d.ingest_seq > $days AND l.reason IS DISTINCT FROM '{PACK_REASON}') AS newer
"""
_DAY_VALUES = f"""
SELECT supply_point_key, slot, import_wh, export_wh,
       CAST({quality_code_sql("quality")} AS UTINYINT) AS qcode, version, recorded_at,
       vee_flags, final, method, edited_by, NULLIF(reason, '{DEFAULT_REASON}') AS reason
FROM (SELECT {DAY_VALUE_COLS}
      FROM day_rows d CROSS JOIN range(1, 49) r(i) JOIN ingest_log l USING (ingest_seq)
      WHERE d.ingest_seq = $seq AND {DAY_VALUE_PRESENT})
"""


@dataclass(frozen=True)
class StoreStatus:
    """What ``status`` shows: table version, files and bytes per shape, days held."""

    version: int
    files: dict[str, int]
    bytes: dict[str, int]
    first_day: date | None
    last_day: date | None


class SharedValueStore:
    """One shared interval store (a Delta table at ``uri``: a directory or an object-store
    URI with ``storage_options``). ``after_commit`` is a test hook called right after each
    publication commit (before the caller learns of it)."""

    def __init__(
        self,
        uri: str | Path,
        storage_options: dict[str, str] | None = None,
        after_commit: Callable[[int], None] | None = None,
    ) -> None:
        self.uri = str(uri)
        self.storage_options = storage_options
        self._after_commit = after_commit
        self._tracked: set[int] = set()  # working stores numbered (id)
        self._seen: dict[str, tuple[int, int]] = {}  # source → watermarks last published

    # -- the table --------------------------------------------------------------------------
    def table(self) -> DeltaTable:
        """The table's newest version, created (empty) on first use."""
        try:
            return DeltaTable(self.uri, storage_options=self.storage_options)
        except TableNotFoundError:
            if "://" not in self.uri:
                Path(self.uri).mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
            try:
                DeltaTable.create(
                    self.uri,
                    schema=TABLE_SCHEMA,
                    partition_by=PARTITION_BY,
                    name="half_hour_values",
                    description="openami published half-hour value versions",
                    storage_options=self.storage_options,
                )
            except Exception:  # another process created it first: use that one
                if not DeltaTable.is_deltatable(self.uri, self.storage_options):
                    raise
            return DeltaTable(self.uri, storage_options=self.storage_options)

    def watermarks(self, source: str) -> tuple[int, int]:
        """(value write sequence, ingest sequence) published from ``source`` so far."""
        dt = self.table()
        return (
            dt.transaction_version(_app(source, "values")) or 0,
            dt.transaction_version(_app(source, "days")) or 0,
        )

    # -- publication ------------------------------------------------------------------------
    def publish_new(self, store: DuckIntervalStore, source: str) -> int:
        """Append the value versions ``store`` committed since ``source``'s last publication;
        returns how many. Safe to call again after any crash (see the module docstring)."""
        if not source or "/" in source:
            raise ValueError(f"source {source!r}: a non-empty name without '/' (e.g. p07)")
        if id(store) not in self._tracked:
            store.track_writes()
            self._tracked.add(id(store))
        # what this object last saw published is at most the table's: the table is read
        # (and is the truth) only when the working store has something newer
        values_mark, days_mark = self._seen.get(source, (0, 0))
        if self._nothing_after(store, values_mark, days_mark):
            return 0
        values_mark, days_mark = self.watermarks(source)
        published = 0
        while True:
            chunk = read_query(store, _VALUES, {"after": values_mark, "limit": CHUNK_ROWS})
            if chunk.num_rows == 0:
                break
            values_mark = int(pc.max(chunk.column("write_seq")).as_py())
            published += self._append(chunk.drop_columns(["write_seq"]), source, values_mark)
        seqs = read_query(store, _DAY_SEQS, {"after": days_mark}).column("ingest_seq")
        for seq in seqs.to_pylist():
            values = read_query(store, _DAY_VALUES, {"seq": seq})
            days_mark = int(seq)
            published += self._append(values, source, days_mark, kind="days")
        self._seen[source] = (values_mark, days_mark)
        return published

    @staticmethod
    def _nothing_after(store: DuckIntervalStore, values_mark: int, days_mark: int) -> bool:
        newer = read_query(store, _NEWER, {"values": values_mark, "days": days_mark})
        return not newer.column("newer")[0].as_py()

    def _append(self, versions: pa.Table, source: str, mark: int, kind: str = "values") -> int:
        rows = tick_rows(versions, source)
        write_deltalake(
            self.uri,
            rows,
            mode="append",
            partition_by=PARTITION_BY,
            storage_options=self.storage_options,
            commit_properties=CommitProperties(
                app_transactions=[Transaction(_app(source, kind), mark)]
            ),
        )
        if self._after_commit is not None:
            self._after_commit(rows.num_rows)
        return rows.num_rows

    # -- compaction -------------------------------------------------------------------------
    def compact_day(self, day: date) -> int:
        """Replace the day's tick rows and day rows by one day file (current version per
        slot, sorted by supply point), in one commit; returns the supply points in it
        (0 and no commit when the day holds nothing)."""
        for _ in range(COMPACT_ATTEMPTS):
            dt = self.table()
            actions = _actions(dt)
            mine = pc.and_(
                pc.equal(actions.column("partition.day"), day),
                pc.not_equal(actions.column("partition.shape"), SHAPE_WINDOW),
            )
            files = actions.filter(mine)
            if files.num_rows == 0:
                return 0
            rows_of_day = (pc.field("day") == day) & (pc.field("shape") != SHAPE_WINDOW)
            data = dt.to_pyarrow_dataset().to_table(filter=rows_of_day)
            if files.num_rows == 1 and files.column("partition.shape")[0].as_py() == SHAPE_DAY:
                return int(data.num_rows)  # one day file already: nothing would change
            rows = day_rows(latest_versions(_current_of(data)), _day_number(day))
            try:
                write_deltalake(
                    dt,
                    rows,
                    mode="overwrite",
                    predicate=f"day = '{day.isoformat()}' AND shape <> '{SHAPE_WINDOW}'",
                    partition_by=PARTITION_BY,
                    writer_properties=WriterProperties(
                        compression="ZSTD", max_row_group_size=DAY_ROW_GROUP_ROWS
                    ),
                    target_file_size=1 << 40,  # one file per day
                )
            except CommitFailedError:
                continue  # a tick for this day arrived meanwhile: read again
            return rows.num_rows
        raise RuntimeError(f"compaction of {day} conflicted {COMPACT_ATTEMPTS} times")

    def compact_days(self, first: date, last: date) -> dict[date, int]:
        done: dict[date, int] = {}
        day = first
        while day <= last:
            done[day] = self.compact_day(day)
            day += timedelta(days=1)
        return done

    def build_windows(self, through: date | None = None) -> dict[int, int]:
        """(Re)build the point-major window files whose day files changed, counting the days
        up to ``through`` (all when None; ``storage/shared_windows.py``); returns window
        first day number → rows."""
        dt = self.table()
        last = None if through is None else _day_number(through)
        return {first: build_window(dt.table_uri, first, last) for first in stale_windows(dt, last)}

    def days_with_ticks(self) -> list[date]:
        """Days that hold tick rows (what a scheduled compaction has to do)."""
        actions = _actions(self.table())
        ticks = pc.equal(actions.column("partition.shape"), "tick")
        return sorted(set(actions.filter(ticks).column("partition.day").to_pylist()))

    # -- maintenance ------------------------------------------------------------------------
    def vacuum(self, retention_hours: float = RETENTION_HOURS, dry_run: bool = False) -> list[str]:
        """Delete files the table no longer holds and older than the retention (readers
        keep the files of the snapshot they read that long); returns them."""
        dt = self.table()
        removed = dt.vacuum(
            retention_hours=max(0, int(np.ceil(retention_hours))),
            dry_run=dry_run,
            enforce_retention_duration=False,
            full=True,  # also files no commit lists (a writer killed before its commit)
        )
        if not dry_run:
            dt.create_checkpoint()
            dt.cleanup_metadata()
        return list(removed)

    def status(self) -> StoreStatus:
        dt = self.table()
        actions = _actions(dt)
        files: dict[str, int] = {}
        sizes: dict[str, int] = {}
        for shape, size in zip(
            actions.column("partition.shape").to_pylist(),
            actions.column("size_bytes").to_pylist(),
            strict=True,
        ):
            files[shape] = files.get(shape, 0) + 1
            sizes[shape] = sizes.get(shape, 0) + int(size)
        days = actions.column("partition.day").to_pylist()
        return StoreStatus(
            dt.version(), files, sizes, min(days) if days else None, max(days) if days else None
        )


def _app(source: str, kind: str) -> str:
    return f"openami/{source}/{kind}"


def _day_number(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _actions(dt: DeltaTable) -> pa.Table:
    """The table's files: path, size_bytes, partition.day (date), partition.shape."""
    actions = pa.table(dt.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return pa.table(
            {
                "path": pa.array([], pa.string()),
                "size_bytes": pa.array([], pa.int64()),
                "partition.day": pa.array([], pa.date32()),
                "partition.shape": pa.array([], pa.string()),
            }
        )
    return actions.select(["path", "size_bytes", "partition.day", "partition.shape"])


def _current_of(data: pa.Table) -> pa.Table:
    """A day's rows of both shapes → one row per version: supply_point_key, slot, values."""
    is_day = pc.equal(data.column("shape"), SHAPE_DAY)
    wide = explode_day_rows(data.filter(is_day))
    narrow = data.filter(pc.invert(is_day)).select(wide.column_names).cast(wide.schema)
    return pa.concat_tables([wide, narrow])


def days_of_slots(first_slot: int, last_slot: int) -> list[date]:
    numbers = jst_day_numbers(np.array([first_slot, last_slot], dtype=np.int64))
    return [date(1970, 1, 1) + timedelta(days=int(n)) for n in range(numbers[0], numbers[1] + 1)]


#: the source name of the single-process MDMS (``openami serve``)
SINGLE_SOURCE = "all"


class TickPublisher:
    """A tick hook (``Simulation.after_tick``) that publishes the working store's new value
    versions to the shared store at ``uri``, at most every ``every_s`` wall seconds (each
    publication is a table commit of some tens of ms; a catch-up of many ticks makes a few);
    :meth:`flush` publishes the rest (on shutdown). A failure (disk full, store unreachable)
    is logged and does not stop the MDMS: the next call publishes what is still missing."""

    def __init__(
        self,
        store: DuckIntervalStore,
        uri: str,
        source: str = SINGLE_SOURCE,
        every_s: float = PUBLISH_EVERY_S,
    ) -> None:
        self.shared = SharedValueStore(uri)
        self._store, self._source, self._every_s = store, source, every_s
        self._last = -float("inf")

    def __call__(self, now_s: float) -> None:
        if time.monotonic() - self._last >= self._every_s:
            self.flush(now_s)

    def flush(self, now_s: float | None = None) -> int:
        self._last = time.monotonic()
        try:
            count = self.shared.publish_new(self._store, self._source)
        except Exception as exc:  # the MDMS goes on; nothing is lost, only later
            log.warning("shared_values.publish_failed", error=type(exc).__name__, sim_s=now_s)
            return 0
        if count:
            log.debug("shared_values.published", values=count, sim_s=now_s)
        return count
