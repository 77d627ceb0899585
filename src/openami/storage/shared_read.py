"""Reading the shared interval store from any process: current values by point or slot.

A :class:`SharedValuesReader` follows the Delta table (``storage/shared_values.py``): before
a query it loads the table's newer commits (at most every ``refresh_s`` seconds, so a value
is seen seconds after its publication), keeps the footers of the day files it has met
(row-group key ranges: a point's day is one small row group) and the tick rows not yet
compacted in memory, sorted by supply point. Nothing it does takes a lock or writes: writers
and compaction never wait for it, and a file compaction removed stays readable until
``vacuum`` deletes it after the retention (a reader refreshes long before).

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
from openami.storage.shared_layout import (
    CURRENT_COLUMNS,
    DAY_LISTS,
    SHAPE_DAY,
    empty_current,
    explode_day_rows,
    first_slot_of_day_number,
    jst_day_numbers,
    latest_versions,
)

_TICK_COLUMNS = ["supply_point_key", "slot", *(name for name, _ in CURRENT_COLUMNS)]
_DAY_COLUMNS = ["supply_point_key", "slot", *(name for name, _ in DAY_LISTS)]
_CURRENT_SCHEMA = empty_current(with_key=True).schema
_VALUE_NAMES = tuple(name for name, _ in CURRENT_COLUMNS)
#: reads a point's days in parallel (Parquet decoding releases the GIL)
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="shared-read")
#: tick rows kept unsorted (each query scans them) before they join the sorted tail
RECENT_ROWS = 250_000


@dataclass
class _DayFile:
    """A day file's footer and the key range of each row group (rows sorted by key)."""

    file: pq.ParquetFile
    first_keys: np.ndarray
    last_keys: np.ndarray

    @classmethod
    def open(cls, path: str) -> _DayFile:
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
        """The key's day row (columns of the day lists), or None."""
        group = int(np.searchsorted(self.first_keys, key, side="right")) - 1
        if group < 0 or self.last_keys[group] < key:
            return None
        # one small group: the thread pool would cost more than it saves
        rows = self.file.read_row_group(group, columns=_DAY_COLUMNS, use_threads=False)
        keys = rows.column("supply_point_key").to_numpy()
        at = int(np.searchsorted(keys, key))
        if at >= len(keys) or keys[at] != key:
            return None
        return rows.slice(at, 1)

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


class SharedValuesReader:
    """Current values from the shared interval store at ``uri`` (thread-safe)."""

    def __init__(self, uri: str | Path, refresh_s: float = 1.0) -> None:
        self.uri = str(uri).removeprefix("file://")
        self.refresh_s = refresh_s
        self._lock = threading.Lock()
        self._table: DeltaTable | None = None
        self._checked = -float("inf")
        self._days: dict[str, tuple[int, _DayFile]] = {}  # path → (day number, footer)
        self._ticks: dict[str, pa.Table] = {}  # path → its tick rows
        self._tail = _CURRENT_SCHEMA.empty_table()
        self._tail_keys = np.empty(0, dtype=np.int64)
        self._recent = _CURRENT_SCHEMA.empty_table()  # tick rows not yet in the sorted tail

    @property
    def version(self) -> int:
        """The table version the last answer came from (-1 before the first)."""
        return -1 if self._table is None else self._table.version()

    def refresh(self, force: bool = True) -> int:
        """Load newer commits now (``force``) or when ``refresh_s`` has passed; the version."""
        with self._lock:
            now = time.monotonic()
            if force or now - self._checked >= self.refresh_s:
                self._load()
                self._checked = now
            return self.version

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
        days_now: dict[str, tuple[int, _DayFile]] = {}
        ticks_now: dict[str, pa.Table] = {}
        for path, shape, day in zip(paths, shapes, days, strict=True):
            if shape == SHAPE_DAY:
                known = self._days.get(path)
                days_now[path] = known or (int(day), _DayFile.open(str(root / path)))
            else:
                known_ticks = self._ticks.get(path)
                if known_ticks is None:
                    known_ticks = pq.read_table(root / path, columns=_TICK_COLUMNS)
                ticks_now[path] = known_ticks
        gone = self._ticks.keys() - ticks_now.keys()
        new = [t for path, t in ticks_now.items() if path not in self._ticks]
        if gone:  # compacted: sort what is left again
            self._set_tail(list(ticks_now.values()))
        elif new:  # appended: scanned as they are until there are many
            recent = [self._recent, *(t.cast(_CURRENT_SCHEMA) for t in new)]
            if sum(t.num_rows for t in recent) > RECENT_ROWS:
                self._set_tail([self._tail, *recent])
            else:
                self._recent = pa.concat_tables(recent)
        self._days, self._ticks = days_now, ticks_now

    def _set_tail(self, tables: list[pa.Table]) -> None:
        self._recent = _CURRENT_SCHEMA.empty_table()
        if not tables:
            self._tail, self._tail_keys = _CURRENT_SCHEMA.empty_table(), np.empty(0, np.int64)
            return
        tail = pa.concat_tables([t.cast(_CURRENT_SCHEMA) for t in tables])
        tail = tail.sort_by([("supply_point_key", "ascending"), ("slot", "ascending")])
        self._tail, self._tail_keys = tail, tail.column("supply_point_key").to_numpy()

    # -- queries ----------------------------------------------------------------------------
    def current_values(self, supply_point_key: int, first_slot: int, last_slot: int) -> pa.Table:
        """The current (highest) version of each slot of one supply point in
        ``first_slot … last_slot`` that has one: slot, import_wh, export_wh, qcode, version,
        vee_flags, final; by slot."""
        self.refresh(force=False)
        with self._lock:
            days, tail, tail_keys = self._days, self._tail, self._tail_keys
            recent = self._recent
        lo, hi = (int(d) for d in jst_day_numbers(np.array([first_slot, last_slot])))
        wanted = [day_file for number, day_file in days.values() if lo <= number <= hi]
        found = _POOL.map(lambda day_file: day_file.point(supply_point_key), wanted)
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
        self.refresh(force=False)
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
