"""Point-day files: one supply point's day rows without a DuckDB statement per request.

A point read (``storage/point_read.py``) costs two DuckDB statements, ~10 ms of CPU each time
mostly spent planning and converting, for one row per day. For an interval store opened
**read-only** (hub processes over a loaded store; nothing can write the file while they have
it open) the day rows never change, so they are copied once, one Arrow IPC file per JST day
with the point read's columns (:data:`~openami.storage.point_read.DAY_ROW_COLUMNS`) sorted by
supply point, uncompressed, and memory-mapped: a point-day is a binary search in the day's
keys and a zero-copy slice, and the same :func:`~openami.storage.point_read.assemble_current`
as always makes the current values from it (one rule). The narrow versions (``hh_values``:
ticks not yet packed, estimates, edits) stay in DuckDB; a request asks them only when its
point has narrow versions in the range (their key and slot span are read once). A day whose
file is not written yet, or a store opened for writing, is read as before.

The files lie in ``<store>.pointdays/<fingerprint>/`` (owner-only), the fingerprint naming
the file's committed writes, size and modification time, so a changed store never meets old
files; several processes share one copy (a file lock: one builds, the others wait and map
it) and the operating system's page cache. ~80 MB per 100,000 points and day.
"""

from __future__ import annotations

import fcntl
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.ipc as ipc

from openami.clock import SLOTS_PER_DAY
from openami.log import get_logger
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.point_read import (
    DAY_ROW_COLUMNS,
    DAY_ROWS_FROM,
    NARROW,
    assemble_current,
)

log = get_logger(__name__)

Int64s = npt.NDArray[np.int64]
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700

_DAYS = "SELECT DISTINCT day_first_slot FROM day_rows ORDER BY 1"
_ONE_DAY = f"""
SELECT d.supply_point_key, {DAY_ROW_COLUMNS}
{DAY_ROWS_FROM}
WHERE d.day_first_slot = $first
ORDER BY d.supply_point_key
"""
_NARROW_SPANS = """
SELECT supply_point_key, min(slot) AS lo, max(slot) AS hi
FROM hh_values GROUP BY supply_point_key ORDER BY supply_point_key
"""


@dataclass(frozen=True)
class _Day:
    keys: Int64s  # supply point keys, ascending (a view of the mapped file)
    rows: pa.Table  # DAY_ROW_COLUMNS, row i for keys[i]


class PointDays:
    """The point-day files of one read-only store: :meth:`build` writes (or finds) them,
    :meth:`current_values` answers from them."""

    def __init__(self, store: DuckIntervalStore, directory: Path) -> None:
        if not store.read_only:
            raise ValueError("point-day files copy a read-only store (a writer changes it)")
        self._store = store
        self.directory = directory
        self._days: dict[int, _Day] = {}
        self._day_slots: Int64s = np.zeros(0, np.int64)  # every day of the store
        self._narrow: tuple[Int64s, Int64s, Int64s] | None = None  # key, lo, hi; None: not read
        self._lock = threading.Lock()
        self.ready = threading.Event()  # every day is mapped
        self.requests_from_files = 0  # answered here, not by DuckDB (tests, benchmarks)

    @classmethod
    def beside(cls, store: DuckIntervalStore) -> PointDays | None:
        """Point-day files for a read-only store in a file (``None`` otherwise)."""
        if not store.read_only or store.path == ":memory:":
            return None
        path = Path(store.path)
        stat = path.stat()
        fingerprint = f"w{store.durable_writes()}-s{stat.st_size}-m{stat.st_mtime_ns}"
        return cls(store, path.with_name(path.name + ".pointdays") / fingerprint)

    @classmethod
    def start(cls, store: DuckIntervalStore) -> PointDays | None:
        """:meth:`beside`, its files written or found in a background thread."""
        files = cls.beside(store)
        if files is not None:
            files.build_in_background()
        return files

    # -- building ---------------------------------------------------------------------------
    def build(self) -> int:
        """Write the files missing (one process at a time) and map every day; returns the
        days written here."""
        cur = self._store.cursor()  # read-only: no write of this process to interleave with
        try:
            spans = cur.sql(_NARROW_SPANS).to_arrow_table()
            key, lo, hi = (np.asarray(spans.column(c).to_numpy(), np.int64) for c in range(3))
            days = np.asarray(cur.sql(_DAYS).to_arrow_table().column(0).to_numpy(), np.int64)
            with self._lock:
                self._narrow = (key, lo, hi)
                self._day_slots = days
            self.directory.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
            written = 0
            with open(self.directory / ".lock", "w") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)  # another process may be writing them
                for first in days.tolist():
                    path = self.directory / f"day-{first}.arrow"
                    if not path.exists():
                        self._write(cur, first, path)
                        written += 1
                    self._map(first, path)
            self.ready.set()
            return written
        finally:
            cur.close()

    def _write(self, cur: duckdb.DuckDBPyConnection, first: int, path: Path) -> None:
        rows = cur.sql(_ONE_DAY, params={"first": first}).to_arrow_table()
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as sink, ipc.new_file(sink, rows.schema) as writer:
            writer.write_table(rows.combine_chunks())  # one batch: keys map as one array
        os.replace(tmp, path)  # complete or absent

    def _map(self, first: int, path: Path) -> None:
        rows = ipc.open_file(pa.memory_map(str(path), "r")).read_all()
        keys = np.asarray(rows.column("supply_point_key").chunk(0).to_numpy(), np.int64)
        with self._lock:
            self._days[first] = _Day(keys, rows.drop_columns(["supply_point_key"]))

    def build_in_background(self) -> threading.Thread:
        """:meth:`build` in a daemon thread (the store is read as before meanwhile)."""

        def run() -> None:
            try:
                days = self.build()
                log.info("point_days.ready", written=days, directory=str(self.directory))
            except Exception as exc:  # e.g. a full disk: the store answers as before
                log.warning("point_days.failed", error=type(exc).__name__, detail=str(exc))

        thread = threading.Thread(target=run, name="point-days", daemon=True)
        thread.start()
        return thread

    # -- reading ----------------------------------------------------------------------------
    def _needs_narrow(self, key: int, first_slot: int, last_slot: int) -> bool:
        assert self._narrow is not None
        keys, lo, hi = self._narrow
        i = int(np.searchsorted(keys, key))
        return i < len(keys) and keys[i] == key and lo[i] <= last_slot and hi[i] >= first_slot

    def day_rows(self, key: int, first_slot: int, last_slot: int) -> pa.Table | None:
        """The point's day rows for ``[first_slot, last_slot]`` (as ``point_read`` selects
        them), or ``None`` while a day of the range is not mapped yet."""
        days = self._day_slots
        wanted = days[(days >= first_slot - (SLOTS_PER_DAY - 1)) & (days <= last_slot)]
        parts = []
        for first in wanted.tolist():
            day = self._days.get(first)
            if day is None:
                return None
            lo, hi = np.searchsorted(day.keys, [key, key + 1])
            if hi > lo:
                parts.append(day.rows.slice(int(lo), int(hi - lo)))
        if not parts:
            if not self._days:
                return None
            return next(iter(self._days.values())).rows.slice(0, 0)
        return pa.concat_tables(parts) if len(parts) > 1 else parts[0]

    def current_values(
        self, supply_point_key: int, first_slot: int, last_slot: int, final_periods: pa.Table
    ) -> pa.Table | None:
        """As ``point_read.current_values``; ``None`` when the files cannot answer yet."""
        if self._narrow is None:
            return None
        days = self.day_rows(supply_point_key, first_slot, last_slot)
        if days is None:
            return None
        narrow = None
        if self._needs_narrow(supply_point_key, first_slot, last_slot):
            params = {"key": supply_point_key, "lo": first_slot, "hi": last_slot}
            cur = self._store.cursor()
            try:
                narrow = cur.sql(NARROW, params=params).to_arrow_table()
            finally:
                cur.close()
        self.requests_from_files += 1
        return assemble_current(days, narrow, first_slot, last_slot, final_periods)
