"""Reading the shared interval store from any process: current values by point or slot.

A :class:`SharedValuesReader` follows the Delta table (``storage/shared_values.py``): before
a query it loads the table's newer commits (at most every ``refresh_s`` seconds, so a value
is seen seconds after its publication), keeps the footers of the day and window files it
has met (row-group key ranges: a point's day is one small row group of a day file, its 16
days one or two of a window file, ``storage/shared_windows.py``) and the tick rows not yet
compacted in memory, sorted by supply point. A point query reads the windows that cover its
days (those holding the days' current day files) and the day files of the other days.
Nothing it does takes a lock or writes: writers and compaction never wait for it, and a
file compaction removed stays readable until ``vacuum`` deletes it after the retention (a
reader refreshes long before).

Local tables only (a directory or ``file://``): the footer cache reads the data files
directly. Engines that read Delta (Spark, DuckDB with ``delta_scan``, Polars) read any URI.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable

from openami.bus.messages import QCODE_NONE
from openami.log import get_logger
from openami.storage.shared_layout import (
    CURRENT_COLUMNS,
    DAY_LISTS,
    SHAPE_DAY,
    SHAPE_WINDOW,
    empty_current,
    explode_day_rows,
    first_slot_of_day_number,
    jst_day_numbers,
    latest_versions,
)
from openami.storage.shared_windows import covered_days, window_sources

log = get_logger(__name__)
_TICK_COLUMNS = ["supply_point_key", "slot", *(name for name, _ in CURRENT_COLUMNS)]
_DAY_COLUMNS = ["supply_point_key", "slot", *(name for name, _ in DAY_LISTS)]
_CURRENT_SCHEMA = empty_current(with_key=True).schema
_VALUE_NAMES = tuple(name for name, _ in CURRENT_COLUMNS)
#: reads a point's days in parallel (Parquet decoding releases the GIL)
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="shared-read")
#: tick rows kept unsorted (each query scans them) before they join the sorted tail
RECENT_ROWS = 250_000


@dataclass
class _KeyedFile:
    """A day or window file's footer and the key range of each row group (rows sorted by
    key)."""

    file: pq.ParquetFile
    first_keys: np.ndarray
    last_keys: np.ndarray

    @classmethod
    def open(cls, path: str) -> _KeyedFile:
        file = pq.ParquetFile(path, memory_map=True)
        meta = file.metadata
        column = file.schema_arrow.get_field_index("supply_point_key")
        lows, highs = [], []
        for i in range(meta.num_row_groups):
            stats = meta.row_group(i).column(column).statistics
            lows.append(stats.min)
            highs.append(stats.max)
        return cls(file, np.array(lows, dtype=np.int64), np.array(highs, dtype=np.int64))

    def point(self, key: int) -> pa.Table | None:
        """The key's rows (columns of the day lists), or None: one row in a day file, one
        per day in a window file; one row group, two when the key's rows straddle them."""
        low = int(np.searchsorted(self.last_keys, key, side="left"))
        high = int(np.searchsorted(self.first_keys, key, side="right"))
        if low >= high:
            return None
        # small groups: the thread pool would cost more than it saves
        groups = list(range(low, high))
        rows = self.file.read_row_groups(groups, columns=_DAY_COLUMNS, use_threads=False)
        keys = rows.column("supply_point_key").to_numpy()
        at, end = (int(i) for i in np.searchsorted(keys, [key, key + 1]))
        return rows.slice(at, end - at) if end > at else None

    def slot(self, position: int, targets: tuple[str, ...]) -> pa.Table:
        """Every supply point's value at one slot of the day (those with a version), in
        the value columns ``targets`` (only their lists are decoded)."""
        pairs = [
            (name, target, kind)
            for (name, _), (target, kind) in zip(DAY_LISTS, CURRENT_COLUMNS, strict=True)
            if target in targets
        ]
        lists = self.file.read(columns=["supply_point_key", *(name for name, _, _ in pairs)])
        columns = {"supply_point_key": lists.column("supply_point_key")}
        for name, target, kind in pairs:
            columns[target] = pc.cast(pc.list_element(lists.column(name), position), kind)
        table = pa.table(columns)
        return table.filter(pc.not_equal(table.column("qcode"), QCODE_NONE))


def _sorted_tail(tables: list[pa.Table]) -> tuple[pa.Table, np.ndarray]:
    """Tick rows sorted by supply point and slot, and their keys."""
    if not tables:
        return _CURRENT_SCHEMA.empty_table(), np.empty(0, np.int64)
    tail = pa.concat_tables([t.cast(_CURRENT_SCHEMA) for t in tables])
    tail = tail.sort_by([("supply_point_key", "ascending"), ("slot", "ascending")])
    return tail, tail.column("supply_point_key").to_numpy()


def _point_rows(job: tuple[_KeyedFile, set[int] | None], key: int) -> pa.Table | None:
    """A point's rows of a day file (``days`` None) or of a window file, only the rows of
    the ``days`` it covers."""
    file, days = job
    rows = file.point(key)
    if rows is None or days is None:
        return rows
    numbers = jst_day_numbers(rows.column("slot").to_numpy())
    return rows.filter(pa.array(np.isin(numbers, list(days))))


class SharedValuesReader:
    """Current values from the shared interval store at ``uri`` (thread-safe)."""

    def __init__(self, uri: str | Path, refresh_s: float = 1.0, windows: bool = True) -> None:
        self.uri = str(uri).removeprefix("file://")
        self.refresh_s = refresh_s
        self.use_windows = windows  # False: point queries read day files only (baseline)
        self._lock = threading.Lock()  # held only to take or swap the snapshot's state
        self._loading = threading.Lock()  # one refresh at a time
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        self._table: DeltaTable | None = None
        self._version = -1
        self._checked = -float("inf")
        self._days: dict[str, tuple[int, _KeyedFile]] = {}  # path → (day number, footer)
        self._ticks: dict[str, pa.Table] = {}  # path → its tick rows
        self._windows: dict[str, tuple[int, _KeyedFile, set[str]]] = {}  # → first, sources
        self._covering: list[tuple[_KeyedFile, frozenset[int]]] = []  # window, its days
        self._tail = _CURRENT_SCHEMA.empty_table()
        self._tail_keys = np.empty(0, dtype=np.int64)
        self._recent = _CURRENT_SCHEMA.empty_table()  # tick rows not yet in the sorted tail

    @property
    def version(self) -> int:
        """The table version the last answer came from (-1 before the first)."""
        return self._version

    def refresh(self, force: bool = True) -> int:
        """Load newer commits now (``force``) or when ``refresh_s`` has passed; the version.
        Queries go on with the previous snapshot while a refresh loads."""
        if force or time.monotonic() - self._checked >= self.refresh_s:
            with self._loading:
                if force or time.monotonic() - self._checked >= self.refresh_s:
                    self._load()
                    self._checked = time.monotonic()
        return self.version

    def follow(self) -> SharedValuesReader:
        """Refresh every ``refresh_s`` seconds in a background thread from now on, so that no
        query pays for loading commits (a long-lived reader: hub replica, dashboard)."""
        if self._follower is None:
            self.refresh()
            self._follower = threading.Thread(
                target=self._follow, name="shared-read-refresh", daemon=True
            )
            self._follower.start()
        return self

    def close(self) -> None:
        """Stop the background refresh (if :meth:`follow` started one)."""
        self._stop.set()
        if self._follower is not None:
            self._follower.join()
            self._follower = None

    def _follow(self) -> None:
        while not self._stop.wait(self.refresh_s):
            try:
                self.refresh()
            except Exception as exc:  # e.g. a file vacuumed under a long pause: next time
                log.warning("shared_read.refresh_failed", error=type(exc).__name__)

    def _before_query(self) -> None:
        if self._follower is None:
            self.refresh(force=False)

    def _load(self) -> None:
        if self._table is None:
            self._table = DeltaTable(self.uri)
        else:
            self._table.update_incremental()
        actions = pa.table(self._table.get_add_actions(flatten=True))
        if actions.num_rows == 0:
            paths, shapes, days = [], [], np.empty(0, dtype=np.int64)
        else:
            paths = actions.column("path").to_pylist()
            shapes = actions.column("partition.shape").to_pylist()
            days = actions.column("partition.day").cast(pa.int32()).to_numpy().astype(np.int64)
        root = Path(self.uri)
        days_now: dict[str, tuple[int, _KeyedFile]] = {}
        ticks_now: dict[str, pa.Table] = {}
        windows_now: dict[str, tuple[int, _KeyedFile, set[str]]] = {}
        for path, shape, day in zip(paths, shapes, days, strict=True):
            if shape == SHAPE_DAY:
                known = self._days.get(path)
                days_now[path] = known or (int(day), _KeyedFile.open(str(root / path)))
            elif shape == SHAPE_WINDOW:
                seen = self._windows.get(path)
                windows_now[path] = seen or (
                    int(day),
                    _KeyedFile.open(str(root / path)),
                    window_sources(root / path),
                )
            else:
                known_ticks = self._ticks.get(path)
                if known_ticks is None:
                    known_ticks = pq.read_table(root / path, columns=_TICK_COLUMNS)
                ticks_now[path] = known_ticks
        by_day: dict[int, set[str]] = {}
        for path, (number, _) in days_now.items():
            by_day.setdefault(number, set()).add(path)
        covering = [
            (file, covered_days(first, sources, by_day))
            for first, file, sources in windows_now.values()
        ]
        tail, tail_keys, recent = self._next_tail(ticks_now)
        with self._lock:  # queries take the new snapshot as a whole
            self._days, self._ticks, self._windows = days_now, ticks_now, windows_now
            self._covering = covering
            self._tail, self._tail_keys, self._recent = tail, tail_keys, recent
            self._version = self._table.version()

    def _next_tail(self, ticks_now: dict[str, pa.Table]) -> tuple[pa.Table, np.ndarray, pa.Table]:
        """The tick rows as (sorted tail, its keys, recent rows not yet sorted in)."""
        gone = self._ticks.keys() - ticks_now.keys()
        new = [t for path, t in ticks_now.items() if path not in self._ticks]
        if gone:  # compacted: sort what is left again
            return (*_sorted_tail(list(ticks_now.values())), _CURRENT_SCHEMA.empty_table())
        if new:  # appended: scanned as they are until there are many
            recent = [self._recent, *(t.cast(_CURRENT_SCHEMA) for t in new)]
            if sum(t.num_rows for t in recent) > RECENT_ROWS:
                tail, keys = _sorted_tail([self._tail, *recent])
                return tail, keys, _CURRENT_SCHEMA.empty_table()
            return self._tail, self._tail_keys, pa.concat_tables(recent)
        return self._tail, self._tail_keys, self._recent

    # -- queries ----------------------------------------------------------------------------
    def window_days(self) -> set[int]:
        """The day numbers point queries read from window files (the others from day files)."""
        self._before_query()
        with self._lock:
            covering = self._covering if self.use_windows else []
        return set().union(*(covered for _, covered in covering))

    def current_values(self, supply_point_key: int, first_slot: int, last_slot: int) -> pa.Table:
        """The current (highest) version of each slot of one supply point in
        ``first_slot … last_slot`` that has one: slot, import_wh, export_wh, qcode, version,
        vee_flags, final; by slot."""
        self._before_query()
        with self._lock:
            days, tail, tail_keys = self._days, self._tail, self._tail_keys
            recent, covering = self._recent, self._covering if self.use_windows else []
        lo, hi = (int(d) for d in jst_day_numbers(np.array([first_slot, last_slot])))
        span = set(range(lo, hi + 1))
        chosen: list[tuple[_KeyedFile, set[int] | None]] = [
            (file, span & covered) for file, covered in covering if span & covered
        ]
        done = set().union(*(covered for _, covered in chosen if covered))
        chosen += [(file, None) for n, file in days.values() if lo <= n <= hi and n not in done]
        found = _POOL.map(lambda job: _point_rows(job, supply_point_key), chosen)
        rows = [row for row in found if row is not None]
        parts = [explode_day_rows(pa.concat_tables(rows))] if rows else []
        a, b = np.searchsorted(tail_keys, [supply_point_key, supply_point_key + 1])
        parts.append(tail.slice(int(a), int(b - a)))
        parts.append(recent.filter(pc.equal(recent.column("supply_point_key"), supply_point_key)))
        values = pa.concat_tables(parts)
        slots = values.column("slot")
        inside = pc.and_(pc.greater_equal(slots, first_slot), pc.less_equal(slots, last_slot))
        return latest_versions(values.filter(inside)).drop_columns(["supply_point_key"])

    def slot_values(self, slot: int, targets: tuple[str, ...] = _VALUE_NAMES) -> pa.Table:
        """Every supply point's current value at ``slot``: supply_point_key, slot and the
        value columns ``targets`` (all by default; ``qcode`` and ``version`` always), by
        supply point (join it with the registry for area or retailer sums)."""
        targets = tuple(dict.fromkeys(("qcode", "version", *targets)))
        schema = pa.schema(
            [f for f in _CURRENT_SCHEMA if f.name in ("supply_point_key", "slot", *targets)]
        )
        self._before_query()
        with self._lock:
            days, tail, recent = self._days, self._tail, self._recent
        number = int(jst_day_numbers(np.array([slot]))[0])
        position = slot - first_slot_of_day_number(number)
        parts = []
        for day_number, day_file in days.values():
            if day_number == number:
                values = day_file.slot(position, targets)
                column = pa.array(np.full(values.num_rows, slot, dtype=np.int64))
                parts.append(values.add_column(1, "slot", column))
        for rows in (tail, recent):
            parts.append(rows.filter(pc.equal(rows.column("slot"), slot)))
        return latest_versions(
            pa.concat_tables([p.select(schema.names).cast(schema) for p in parts])
        )

    def slot_sums(self, slot: int, supply_point_keys: np.ndarray) -> tuple[int, int]:
        """Import and export [Wh] at ``slot`` summed over the given supply points (e.g. one
        retailer's, from the registry): what settlement needs per group."""
        values = self.slot_values(slot, ("import_wh", "export_wh"))
        member = np.isin(values.column("supply_point_key").to_numpy(), supply_point_keys)
        chosen = values.filter(pa.array(member))
        return (
            int(pc.sum(chosen.column("import_wh")).as_py() or 0),
            int(pc.sum(chosen.column("export_wh")).as_py() or 0),
        )
