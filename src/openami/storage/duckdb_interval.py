"""DuckDB interval store: register reads and half-hour value versions, append-only.

Tables
- ``register_reads``: every distinct register read a meter delivered: meter, boundary
  (slot index of the :00/:30 instant the registers were taken), import/export registers [Wh],
  when it was received, how (scheduled, retry, backfill) and an ingest sequence number.
- ``half_hour_values``: every version of every half-hour value per supply point and slot:
  import/export energy [Wh], quality, version number, when and why it was recorded, and
  (MDMS VEE) the estimation method, the failed-rule flags, final or preliminary, and who
  edited it. The current value is the highest version.

Nothing is updated or deleted; ingesting the same rows twice adds nothing. The MDMS writes
(its VEE ingest, ``mdms/ingest.py``, through this store's transactions); the store itself
only adds the missing marks (:meth:`DuckIntervalStore.mark_missing`).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import Quality
from openami.storage.duckdb_checkpoints import (
    CHECKPOINT_THRESHOLD_ENV,
    DEFAULT_CHECKPOINT_THRESHOLD,
    BackgroundCheckpoint,
)
from openami.storage.interval_schema import (
    DAY_VALUE_COLS,
    DAY_VALUE_PRESENT,
    DEFAULT_REASON,
    HH_SELECT,
    TABLES,
    VIEWS,
    WRITE_SEQ,
    create_values_view,
    migrate,
    migrate_tick_values,
)
from openami.storage.quality_sql import quality_sql
from openami.storage.slot_sql import installed

#: appended inside every write transaction: the row count is the number of committed writes
#: the file has ever had (appends never conflict, so concurrent transactions may both add)
COUNT_WRITE = "INSERT INTO store_writes VALUES (epoch(current_timestamp))"

__all__ = [
    "COUNT_WRITE",
    "DAY_VALUE_COLS",
    "DAY_VALUE_PRESENT",
    "DEFAULT_REASON",
    "HH_SELECT",
    "DuckIntervalStore",
    "StoreInUse",
]

# the expected (supply point, slot) pairs without any version get a 'missing' one
_MARK_MISSING = f"""
INSERT INTO hh_value_versions (supply_point_key, slot, import_wh, export_wh, quality,
    version, recorded_at, reason)
SELECT e.supply_point_key, e.slot, NULL, NULL, {quality_sql(Quality.MISSING)}, 1, ?,
       'no register reads by the deadline'
FROM (SELECT DISTINCT i.supply_point_key, s.slot
      FROM q_mark_inst i JOIN range(?, ? + 1) s(slot) ON {installed("i", "s.slot")}) e
ANTI JOIN (SELECT DISTINCT supply_point_key, slot FROM hh_slots(?, ?)) h
    ON h.supply_point_key = e.supply_point_key AND h.slot = e.slot
RETURNING supply_point_key, slot
"""


class StoreInUse(RuntimeError):
    """The interval store's file is held by another process."""


class DuckIntervalStore:
    """One DuckDB database file (or ``:memory:``), safe to share between threads."""

    def __init__(
        self,
        path: str | Path = ":memory:",
        memory_limit: str | None = None,
        read_only: bool = False,
        threads: int | None = None,
    ) -> None:
        """``read_only``: open an existing, up-to-date file for reading only (several
        processes may, while none writes it; e.g. hub replicas over a loaded store).
        ``memory_limit`` (e.g. ``"4GB"``; else ``$OPENAMI_DUCKDB_MEMORY_LIMIT``, else
        DuckDB's default of 80 % of RAM) caps DuckDB's buffer pool: a process that also keeps
        the MDMS tick state and registry look-ups in memory (GiB at national scale) leaves
        DuckDB less than its default. ``threads``: DuckDB's worker threads for this file
        (None: one per core); an MDMS worker's partition stores use one each."""
        self.path = str(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        self._cursor_lock = threading.Lock()
        try:
            self._con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            raise StoreInUse(
                f"the interval store {self.path} is open in another process (one openami "
                "per data directory): stop that one first"
            ) from None
        limit = memory_limit or os.environ.get("OPENAMI_DUCKDB_MEMORY_LIMIT")
        if limit:
            self._con.execute(f"SET memory_limit = '{_size(limit)}'")
        if threads is not None:
            if not 1 <= threads <= 1024:
                raise ValueError(f"DuckDB threads must be 1-1024, not {threads}")
            self._con.execute(f"SET threads = {int(threads)}")
        if not read_only:  # see storage/duckdb_checkpoints.py
            threshold = os.environ.get(CHECKPOINT_THRESHOLD_ENV) or DEFAULT_CHECKPOINT_THRESHOLD
            self._con.execute(f"SET checkpoint_threshold = '{_size(threshold)}'")
            migrate(self._con)
            self._con.execute(TABLES)
            migrate_tick_values(self._con)
            create_values_view(self._con)
            self._con.execute(VIEWS)
        # fetchall: a half-read result would keep a transaction open and block CHECKPOINT
        #: a checkpoint after a large ingest, on a helper thread (``start()``)
        self.background_checkpoint = BackgroundCheckpoint(self.checkpoint, self._wal_bytes)
        rows = self._con.execute("SELECT COALESCE(MAX(ingest_seq), 0) FROM ingest_log").fetchall()
        self._seq = int(rows[0][0]) if rows else 0
        #: committed write transactions since this object opened the file: a reader that
        #: keeps derived state in memory (the MDMS tick cache) compares it to know that
        #: nothing else wrote
        self.generation = 0

    def close(self, wait_s: float = 60.0) -> None:
        """Close the file. A cursor's call still running in another thread (the read-only
        store's point-day files being written) makes DuckDB refuse at once: the close is
        tried again until that call ends (at most ``wait_s``); the thread's next call then
        fails, and it gives up."""
        deadline = time.monotonic() + wait_s
        self.background_checkpoint.wait(wait_s)
        with self._lock:
            while True:
                try:
                    self._con.close()
                    return
                except duckdb.ResourceInUseException:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._cursor_lock:  # cursors may be made by two threads (see transaction)
            return self._con.cursor()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own, for a caller that holds :meth:`locked` and runs its own
        transaction (the VEE ingest's store thread); count its commits in
        :attr:`generation`."""
        return self._cursor()

    @contextmanager
    def transaction(
        self, lock: bool = True, counted: bool = True
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside one transaction, holding the store's lock: commit on success,
        roll back on any error (used by the MDMS VEE pipeline). ``lock=False`` only for a
        helper thread working for a caller that holds :meth:`locked` meanwhile.
        ``counted=False`` only for a transaction that changes nothing the VEE reads (reads,
        schema checks, job watermarks): it does not move :attr:`generation` or
        :meth:`durable_writes`, so state kept beside the store stays in step."""
        with self._lock if lock else nullcontext():
            cur = self._cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
                if counted:
                    cur.execute(COUNT_WRITE)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                if not counted:  # a failed commit may still have changed something
                    self.generation += 1
                raise
            finally:
                if counted:
                    self.generation += 1  # also after a failed commit: assume it changed
                cur.close()

    def locked(self) -> AbstractContextManager[bool]:
        """Hold the store's lock across several transactions (e.g. one batch in parts)."""
        return self._lock

    def durable_writes(self) -> int:
        """Committed write transactions the file has ever had (not only since it was
        opened, unlike :attr:`generation`): state saved beside the store with this count is
        still in step with it when the count has not moved."""
        rows = self.query("SELECT count(*) FROM store_writes").to_pylist()
        return int(rows[0]["count_star()"]) if rows else 0

    def track_writes(self) -> None:
        """Give every value version in ``hh_values`` a write sequence number (``write_seq``,
        increasing in commit order, since every write holds the store's lock) from now on
        and for good; idempotent. Day rows need none: their ``ingest_seq`` already is one."""
        with self._lock:
            had = self._con.execute(
                "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'hh_value_versions' "
                "AND column_name = 'write_seq'"
            ).fetchall()[0][0]
            if not had:
                self._con.execute(WRITE_SEQ)
                create_values_view(self._con)
                # the numbers given to the rows already there must survive a crash: a WAL
                # replay of the ALTER would draw them again, differently
                self._con.execute("CHECKPOINT")

    def next_ingest_seq(self) -> int:
        """Reserve the next ingest sequence number (call inside :meth:`transaction`)."""
        with self._lock:
            self._seq += 1
            return self._seq

    # -- missing marks ----------------------------------------------------------------------
    def mark_missing(
        self, installations: pa.Table, first_slot: int, last_slot: int, recorded_at: float
    ) -> int:
        """Record a 'missing' version for each (supply point, slot) in ``first_slot..
        last_slot`` that has a meter installed during the slot (``slot_sql.installed``) and
        no version yet; returns how many. ``installations``: supply_point_key, valid_from,
        valid_to [epoch s] (as ``Registry.installations_table``)."""
        marked = self.mark_missing_points(installations, first_slot, last_slot, recorded_at)
        return int(pc.sum(marked.column("marked")).as_py() or 0)

    def mark_missing_points(
        self, installations: pa.Table, first_slot: int, last_slot: int, recorded_at: float
    ) -> pa.Table:
        """As :meth:`mark_missing`; per supply point marked: ``supply_point_key``, its
        ``last_slot`` marked and how many slots were ``marked`` (sorted by supply point)."""
        inst = installations.select(["supply_point_key", "valid_from", "valid_to"])
        with self._lock:
            cur = self._cursor()
            cur.register("q_mark_inst", inst)
            cur.execute("BEGIN TRANSACTION")
            try:
                marked = cur.sql(
                    _MARK_MISSING,
                    params=[recorded_at, first_slot, last_slot, first_slot, last_slot],
                ).to_arrow_table()
                cur.execute(COUNT_WRITE)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                self.generation += 1
                cur.close()
        per_point = marked.group_by("supply_point_key").aggregate(
            [("slot", "max"), ("slot", "count")]
        )
        return per_point.rename_columns(["supply_point_key", "last_slot", "marked"]).sort_by(
            "supply_point_key"
        )

    # -- queries ----------------------------------------------------------------------------
    def _wal_bytes(self) -> int:
        if self.path == ":memory:":
            return 0
        try:
            return Path(f"{self.path}.wal").stat().st_size
        except FileNotFoundError:  # no log (yet, or folded in and removed)
            return 0

    def checkpoint(self) -> bool:
        """CHECKPOINT, so DuckDB drops emptied row groups now (after a pack or a clustering;
        otherwise it happens at the next automatic checkpoint or on close). Not possible
        while another connection holds an open transaction: then ``False``."""
        try:
            self.query("CHECKPOINT")
        except duckdb.TransactionException:
            return False
        return True

    def query(self, sql: str, params: list[object] | None = None, **tables: pa.Table) -> pa.Table:
        """Run a read-only query with Arrow tables registered under the given names."""
        with self._lock:
            cur = self._cursor()
            try:
                for name, table in tables.items():
                    cur.register(name, table)
                return cur.sql(sql, params=params or []).to_arrow_table()
            finally:
                cur.close()


def _size(text: str) -> str:
    """A DuckDB memory size such as ``4GB`` or ``512MiB`` (anything else is refused, so
    that the value never reaches SQL unchecked)."""
    if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", text):
        raise ValueError(f"memory limit {text!r}: expected a size such as 4GB or 512MiB")
    return text.strip()
