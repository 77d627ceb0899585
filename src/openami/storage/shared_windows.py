"""Point-major window files of the shared interval store: one supply point's days together.

A day file (``shape=day``) holds one JST day sorted by supply point. One slot of every
point is one list element per row, which suits settlement, but one point's 45 days are 45
files and 45 row-group reads. A *window file* (``shape=win``) holds a copy of the day rows
of ``WINDOW_DAYS`` consecutive days (windows aligned on day numbers; the ``day`` partition
value is the window's first day), sorted by supply point and then day, in 128-row groups.
One point's window is one row group, two at most, so its 45 days take 4 reads.

Each window row names, in its ``partition`` column, the day file (Delta path) it was
copied from. A reader uses a window for a day only when the window holds exactly that day's
current day files. A day compacted again after the window was built is read from its new
day file until the window is rebuilt, so a window never changes an answer.
:func:`build_window` writes a new window file and then, in one commit, adds it and removes
the window's previous file. That commit touches no file that appends or day compaction
touch, so it neither waits for them nor conflicts with them. The day files stay
the table's record (other engines can ignore ``shape=win``, or take the highest version,
which is the same).

Local tables only (like ``storage/shared_read.py``): the builder reads the day files'
row groups directly, one range of supply points at a time (bounded memory).
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import AddAction, RemoveAction

from openami.storage.shared_layout import (
    DAY_LISTS,
    PARTITION_BY,
    SHAPE_DAY,
    SHAPE_WINDOW,
    TABLE_SCHEMA,
)

#: days per window file (windows start at day numbers divisible by it)
WINDOW_DAYS = 16
#: window rows per Parquet row group: 8 supply points × 16 days
WINDOW_ROW_GROUP_ROWS = 128
#: day-file row groups read per step of a build (× 128 supply points × the days)
BUILD_STEP_GROUPS = 64
BUILD_ATTEMPTS = 5
#: the columns a day file holds that a window copies (``day`` and ``shape`` are partitions)
COPIED_COLUMNS = ["supply_point_key", "slot", *(name for name, _ in DAY_LISTS)]
_EPOCH = date(1970, 1, 1)


def window_of(day_number: int) -> int:
    """The first day number of the window holding ``day_number``."""
    return day_number - day_number % WINDOW_DAYS


def local_root(uri: str) -> Path:
    """The directory of a local table (a path or ``file://``); a clear error otherwise."""
    if "://" in uri and not uri.startswith("file://"):
        raise ValueError(f"{uri}: window files need a local table (a directory or file://)")
    return Path(uri.removeprefix("file://"))


def day_files(actions: pa.Table) -> dict[int, set[str]]:
    """Day number → the Delta paths of its day files (``actions``: the flattened add
    actions with ``path``, ``partition.day``, ``partition.shape``)."""
    found: dict[int, set[str]] = {}
    if actions.num_rows == 0:
        return found
    is_day = pc.equal(actions.column("partition.shape"), SHAPE_DAY)
    chosen = actions.filter(is_day)
    numbers = chosen.column("partition.day").cast(pa.int32()).to_numpy()
    for path, number in zip(chosen.column("path").to_pylist(), numbers, strict=True):
        found.setdefault(int(number), set()).add(path)
    return found


def window_sources(path: Path) -> set[str]:
    """The day files a window file was copied from (its ``partition`` column)."""
    column = pq.read_table(path, columns=["partition"], read_dictionary=["partition"])
    names: set[str] = set()
    for chunk in column.column("partition").chunks:
        names.update(v for v in chunk.dictionary.to_pylist() if v is not None)
    return names


def covered_days(first: int, sources: set[str], days: dict[int, set[str]]) -> frozenset[int]:
    """The days of window ``first`` it answers for: those whose current day files are
    all among ``sources`` (the files it was copied from)."""
    return frozenset(
        number
        for number in range(first, first + WINDOW_DAYS)
        if days.get(number) and days[number] <= sources
    )


def _actions(dt: DeltaTable) -> pa.Table:
    actions = pa.table(dt.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return pa.table(
            {
                "path": pa.array([], pa.string()),
                "partition.day": pa.array([], pa.date32()),
                "partition.shape": pa.array([], pa.string()),
            }
        )
    return actions.select(["path", "partition.day", "partition.shape"])


def stale_windows(dt: DeltaTable, through: int | None = None) -> list[int]:
    """First day numbers of the windows to (re)build: those whose day files (of the days
    up to day number ``through``, all when None) changed since they were built, or that have
    day files and no window yet."""
    actions = _actions(dt)
    days = _through(day_files(actions), through)
    built: dict[int, set[str]] = {}
    root = local_root(dt.table_uri)
    is_window = pc.equal(actions.column("partition.shape"), SHAPE_WINDOW)
    windows = actions.filter(is_window)
    numbers = windows.column("partition.day").cast(pa.int32()).to_numpy()
    for path, number in zip(windows.column("path").to_pylist(), numbers, strict=True):
        built.setdefault(int(number), set()).update(window_sources(root / path))
    wanted: dict[int, set[str]] = {}
    for number, paths in days.items():
        wanted.setdefault(window_of(number), set()).update(paths)
    return sorted(first for first, paths in wanted.items() if built.get(first) != paths)


def _through(days: dict[int, set[str]], through: int | None) -> dict[int, set[str]]:
    return {n: paths for n, paths in days.items() if through is None or n <= through}


def build_window(uri: str, first: int, through: int | None = None) -> int:
    """(Re)build window ``first`` (a day number divisible by ``WINDOW_DAYS``) from the day
    files its days (up to day number ``through``, all when None) have now, in one commit;
    returns its rows (0: no day files, no commit).

    The file is written first (sorted, 128-row groups), then one commit adds it and removes
    the window's previous files. A crash before the commit leaves an orphan file that
    ``vacuum`` deletes; a concurrent build of the same window makes one commit fail
    (both remove the same file), and that build starts again."""
    if first % WINDOW_DAYS:
        raise ValueError(f"day number {first} does not start a window of {WINDOW_DAYS} days")
    root = local_root(uri)
    start = (_EPOCH + timedelta(days=first)).isoformat()
    for _ in range(BUILD_ATTEMPTS):
        dt = DeltaTable(str(root))
        actions = _actions(dt)
        days = _through(day_files(actions), through)
        sources = [p for n in range(first, first + WINDOW_DAYS) for p in sorted(days.get(n, ()))]
        if not sources:
            return 0
        relative = f"day={start}/shape={SHAPE_WINDOW}/part-{uuid.uuid4()}-c000.zstd.parquet"
        rows, stats = _write_window(root, sources, root / relative)
        partitions: dict[str, str | None] = {"day": start, "shape": SHAPE_WINDOW}
        now_ms = int(time.time() * 1000)
        add = AddAction(relative, (root / relative).stat().st_size, partitions, now_ms, True, stats)
        removes = [
            RemoveAction(path, True, now_ms, partition_values=partitions)
            for path in _window_paths(actions, start)
        ]
        try:
            dt.create_write_transaction([add, *removes], "append", TABLE_SCHEMA, PARTITION_BY)
        except CommitFailedError:
            (root / relative).unlink(missing_ok=True)
            continue  # another build of this window committed meanwhile: build again
        return rows
    raise RuntimeError(f"window {first} conflicted {BUILD_ATTEMPTS} times")


def _window_paths(actions: pa.Table, start: str) -> list[str]:
    """The current files of the window starting on ``start`` (ISO date)."""
    mine = pc.and_(
        pc.equal(actions.column("partition.day"), pa.scalar(date.fromisoformat(start))),
        pc.equal(actions.column("partition.shape"), SHAPE_WINDOW),
    )
    return [str(p) for p in actions.filter(mine).column("path").to_pylist()]


#: the columns of a data file: the table's but the partition columns (Delta keeps those in
#: its log and the directory names)
FILE_SCHEMA = pa.schema([f for f in TABLE_SCHEMA if f.name not in PARTITION_BY])


def _write_window(root: Path, sources: list[str], target: Path) -> tuple[int, str]:
    """Write the window file; returns its rows and its Delta statistics (JSON)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    rows, low, high = 0, None, None
    with pq.ParquetWriter(target, FILE_SCHEMA, compression="zstd") as writer:
        for chunk in _window_chunks(root, sources):
            writer.write_table(chunk, row_group_size=WINDOW_ROW_GROUP_ROWS)
            keys = chunk.column("supply_point_key")
            low = pc.min(keys).as_py() if low is None else low
            high = pc.max(keys).as_py()
            rows += chunk.num_rows
    stats = {
        "numRecords": rows,
        "minValues": {"supply_point_key": low},
        "maxValues": {"supply_point_key": high},
        "nullCount": {"supply_point_key": 0},
    }
    return rows, json.dumps(stats)


def _window_chunks(root: Path, paths: list[str]) -> Iterator[pa.Table]:
    """The window's rows, one range of supply points at a time, sorted by point and day."""
    files = [pq.ParquetFile(root / path) for path in paths]
    bounds = [_group_keys(f) for f in files]
    largest = max(range(len(files)), key=lambda i: len(bounds[i][0]))
    cuts = bounds[largest][0][BUILD_STEP_GROUPS::BUILD_STEP_GROUPS]
    edges = [np.iinfo(np.int64).min, *(int(c) for c in cuts), np.iinfo(np.int64).max]
    for low, high in itertools.pairwise(edges):
        parts = []
        for file, (lows, highs), path in zip(files, bounds, paths, strict=True):
            groups = np.nonzero((highs >= low) & (lows < high))[0]
            if len(groups) == 0:
                continue
            rows = file.read_row_groups([int(g) for g in groups], columns=COPIED_COLUMNS)
            keys = rows.column("supply_point_key").to_numpy()  # sorted: slice, not filter
            at, end = (int(i) for i in np.searchsorted(keys, [low, high]))
            rows = rows.slice(at, end - at)
            source = pa.array(np.full(rows.num_rows, path, dtype=object), pa.string())
            parts.append(rows.append_column("partition", source))
        if not parts:
            continue
        chunk = pa.concat_tables(parts).sort_by(
            [("supply_point_key", "ascending"), ("slot", "ascending")]
        )
        n = chunk.num_rows
        yield pa.table([_column(chunk, f, n) for f in FILE_SCHEMA], schema=FILE_SCHEMA)


def _column(chunk: pa.Table, field: pa.Field, n: int) -> pa.ChunkedArray | pa.Array:
    if field.name in chunk.column_names:
        return chunk.column(field.name).cast(field.type)
    return pa.nulls(n, field.type)


def _group_keys(file: pq.ParquetFile) -> tuple[np.ndarray, np.ndarray]:
    """Each row group's lowest and highest supply point (from the footer statistics)."""
    meta = file.metadata
    column = file.schema_arrow.get_field_index("supply_point_key")
    lows, highs = [], []
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(column).statistics
        lows.append(stats.min)
        highs.append(stats.max)
    return np.array(lows, dtype=np.int64), np.array(highs, dtype=np.int64)
