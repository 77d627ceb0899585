"""The interval store's side of the MDMS VEE ingest: its transactions, the look-ups a plan
needs and the appends of a checked part.

The MDMS (:mod:`openami.mdms.ingest`) decides what a batch of register reads becomes; this
module is where that meets DuckDB. :class:`IntervalIngest` opens the ingest's transactions
on a :class:`DuckIntervalStore` — a read transaction per part that is checked, one write
transaction for a whole batch (committed early where a part must see the one before it
stored), or a transaction per part — and counts every one it commits or rolls back in
:attr:`DuckIntervalStore.generation`, so that state kept in memory beside the store (the
MDMS tick cache) knows whether anything else wrote. :class:`IngestTransaction` offers the
look-ups (stored reads, current versions, running means, events, whether a range is fresh
ground) and :meth:`IngestTransaction.append`, which writes what one part adds: reads, value
versions or day rows, the running means and one ``ingest_log`` row.

Key arguments are sorted NumPy arrays; results are Arrow tables sorted by their keys.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from openami.storage import duckdb_mdms as db
from openami.storage import interval_appends
from openami.storage.duckdb_interval import COUNT_WRITE, DuckIntervalStore

I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]


@dataclass
class IngestAppend:
    """What one checked part of a batch appends (each ``None`` where there is nothing)."""

    #: READ_SCHEMA columns, optionally ``db.TAKE_COLUMN`` (append only the rows it marks)
    reads: pa.Table | None = None
    #: ``db.VALUE_SCHEMA``: value versions of the reads
    values: pa.Table | None = None
    #: ``day_rows`` columns (see :mod:`openami.storage.day_rows`)
    day_rows: pa.Table | None = None
    #: supply_point_key, n, sum_wh: folded into the running means (V06)
    history_folds: pa.Table | None = None
    #: supply_point_key (sorted, unique), n, mean_wh: running means written as they are
    history_means: pa.Table | None = None
    #: per ``history_means`` row: its key already has a stored mean
    history_means_stored: BoolArr | None = None

    def writes_anything(self) -> bool:
        return self.reads is not None or self.day_rows is not None


@dataclass(frozen=True)
class IngestLogRow:
    """One ``ingest_log`` row: what an ingest call stored under one sequence number."""

    ingest_seq: int
    recorded_at_s: float
    rows_in: int
    reads_new: int
    values_new: int
    reason: str


@dataclass(frozen=True)
class FreshGround:
    """Ranges a dense part writes to: the meters' reads at ``first_boundary …
    last_boundary + 1``, the supply points' values in ``first_slot … last_slot``, and either's
    day rows of the days starting there (and the day after ``last_slot``'s)."""

    first_meter: int
    last_meter: int
    first_key: int
    last_key: int
    first_boundary: int
    last_boundary: int
    first_slot: int
    last_slot: int


def log_ingest(cur: duckdb.DuckDBPyConnection, row: IngestLogRow) -> None:
    cur.execute(
        "INSERT INTO ingest_log (ingest_seq, recorded_at, rows_in, reads_new, values_new, reason) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [row.ingest_seq, row.recorded_at_s, row.rows_in, row.reads_new, row.values_new, row.reason],
    )


def _keys(name: str, values: I64) -> pa.Table:
    return pa.table({name: values})


class IngestTransaction:
    """Look-ups and appends of the VEE ingest inside one transaction (one cursor)."""

    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self._cur = cur

    # -- look-ups ---------------------------------------------------------------------------
    def existing_reads(self, meter_ids: I64, first_boundary: int, last_boundary: int) -> pa.Table:
        """Current read per (meter, boundary) of the meters (sorted, unique) in the range:
        meter_id, boundary, import_register_wh, export_register_wh."""
        return db.existing_reads(
            self._cur, _keys("meter_id", meter_ids), first_boundary, last_boundary
        )

    def duplicate_rows(self, candidates: pa.Table, first_boundary: int, last_boundary: int) -> I64:
        """Row numbers (``candidates.row``) of reads identical to one already stored."""
        return np.asarray(
            db.duplicate_rows(self._cur, candidates, first_boundary, last_boundary),
            dtype=np.int64,
        )

    def current_versions(self, keys: I64, first_slot: int, last_slot: int) -> pa.Table:
        """Latest version per (supply point, slot) of the keys (sorted, unique) in the
        range: supply_point_key, slot, version, import_wh, export_wh, quality."""
        return db.current_versions(
            self._cur, _keys("supply_point_key", keys), first_slot, last_slot
        )

    def running_means(self, keys: I64) -> pa.Table:
        """V06 running means of the keys (sorted, unique): supply_point_key, n, mean_wh."""
        return db.history(self._cur, _keys("supply_point_key", keys))

    def events_between(self, start_s: float, end_s: float) -> pa.Table:
        """Meter event periods overlapping ``[start_s, end_s)``: meter_id, kind, start_s,
        end_s (last gasp / restore pairs as outages)."""
        return db.events_between(self._cur, start_s, end_s)

    def reads_at_day_start(
        self, meter_ids: I64, first_boundary: int, last_boundary: int
    ) -> pa.Table:
        """Current read of the meters (sorted, unique) at the JST day starts in the range."""
        return db.reads_at_day_start(
            self._cur, _keys("meter_id", meter_ids), first_boundary, last_boundary
        )

    def meters_with_reads_from(self, meter_ids: I64, first_boundary: int) -> I64:
        """The meters (sorted) with any read at or after ``first_boundary``."""
        return np.asarray(
            db.meters_with_reads_from(self._cur, _keys("meter_id", meter_ids), first_boundary),
            dtype=np.int64,
        )

    def keys_with_values_from(self, keys: I64, first_slot: int) -> I64:
        """The supply points (sorted) with any value version at or after ``first_slot``."""
        return np.asarray(
            db.keys_with_values_from(self._cur, _keys("supply_point_key", keys), first_slot),
            dtype=np.int64,
        )

    def nothing_stored(self, ground: FreshGround) -> bool:
        """Nothing stored yet on ``ground`` (conservative range checks that zone maps
        answer)."""
        row = self._cur.execute(
            """
            SELECT EXISTS (SELECT 1 FROM hh_reads WHERE boundary BETWEEN $lo AND $hi + 1
                             AND meter_id BETWEEN $mlo AND $mhi)
                OR EXISTS (SELECT 1 FROM hh_values WHERE slot BETWEEN $slo AND $shi
                             AND supply_point_key BETWEEN $klo AND $khi)
                OR EXISTS (SELECT 1 FROM day_rows WHERE day_first_slot BETWEEN $slo AND $shi + 1
                             AND (meter_id BETWEEN $mlo AND $mhi
                                  OR supply_point_key BETWEEN $klo AND $khi))
            """,
            {
                "lo": ground.first_boundary,
                "hi": ground.last_boundary,
                "mlo": ground.first_meter,
                "mhi": ground.last_meter,
                "slo": ground.first_slot,
                "shi": ground.last_slot,
                "klo": ground.first_key,
                "khi": ground.last_key,
            },
        ).fetchall()
        return not (row and row[0][0])

    # -- appends ----------------------------------------------------------------------------
    def append(self, part: IngestAppend, log: IngestLogRow, history_cap: int) -> None:
        """Append what one part adds and its ``ingest_log`` row (V06 counts capped at
        ``history_cap``)."""
        cur = self._cur
        if part.day_rows is not None:
            db.append_day_rows(cur, part.day_rows, log.ingest_seq)
        if part.reads is not None:
            assert part.values is not None
            interval_appends.append_reads(cur, part.reads, log.ingest_seq)
            interval_appends.append_values(cur, part.values, log.recorded_at_s, log.reason)
        if part.history_folds is not None:
            db.update_history(cur, part.history_folds, history_cap)
        if part.history_means is not None:
            assert part.history_means_stored is not None
            db.set_history(cur, part.history_means, part.history_means_stored)
        log_ingest(cur, log)


class IngestWriter(IngestTransaction):
    """A write transaction of its own cursor, for a store thread that appends the parts of
    one batch while its caller (holding :meth:`IntervalIngest.locked`) checks the next.
    One thread at a time calls it (the store thread, then the caller to close it)."""

    def __init__(self, store: DuckIntervalStore) -> None:
        super().__init__(store.cursor())
        self._store = store

    def begin(self) -> None:
        self._cur.execute("BEGIN TRANSACTION")

    def commit_and_begin(self) -> None:
        """Commit what is appended so far (a later part must see it stored), go on."""
        self._cur.execute(COUNT_WRITE)
        self._cur.execute("COMMIT")
        self._store.generation += 1
        self._cur.execute("BEGIN TRANSACTION")

    def commit(self) -> None:
        self._cur.execute(COUNT_WRITE)
        self._cur.execute("COMMIT")

    def roll_back(self) -> None:
        with contextlib.suppress(duckdb.Error):  # no transaction open: the commit itself failed
            self._cur.execute("ROLLBACK")

    def close(self) -> None:
        """Close the cursor; the transaction counts as a write whatever became of it."""
        self._store.generation += 1
        self._cur.close()


class IntervalIngest:
    """The VEE ingest's transactions on one interval store."""

    def __init__(self, store: DuckIntervalStore) -> None:
        self._store = store

    @property
    def generation(self) -> int:
        """Committed (or failed) write transactions since the store was opened."""
        return self._store.generation

    def locked(self) -> AbstractContextManager[bool]:
        """Hold the store's lock across the transactions of one batch."""
        return self._store.locked()

    def next_ingest_seq(self) -> int:
        return self._store.next_ingest_seq()

    @contextmanager
    def open_part(self, lock: bool = True) -> Iterator[IngestTransaction]:
        """One transaction for checking (and storing) a part: committed on success, rolled
        back on any error. ``lock=False`` only for a caller that holds :meth:`locked` (or a
        thread working for it)."""
        with self._store.transaction(lock=lock) as cur:
            yield IngestTransaction(cur)

    def append_alone(self, part: IngestAppend, log: IngestLogRow, history_cap: int) -> None:
        """Append one part in a transaction of its own (for a thread working for the
        caller that holds :meth:`locked`)."""
        with self.open_part(lock=False) as tx:
            tx.append(part, log, history_cap)

    def writer(self) -> IngestWriter:
        """A cursor for one long write transaction (see :class:`IngestWriter`)."""
        return IngestWriter(self._store)
