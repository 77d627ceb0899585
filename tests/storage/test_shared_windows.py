"""Point-major window files of the shared interval store: they answer exactly as the day
files do, a day compacted again is read from its new file until the window is rebuilt, a
build neither blocks nor conflicts with appends, and an uncommitted build leaves nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from openami.clock.slots import day_first_slot
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.interval_appends import append_values
from openami.storage.shared_layout import jst_day_numbers
from openami.storage.shared_read import SharedValuesReader
from openami.storage.shared_values import SharedValueStore
from openami.storage.shared_windows import (
    WINDOW_DAYS,
    build_window,
    local_root,
    stale_windows,
    window_of,
)

# two windows: 2026-11-27 starts one (day number 20784), 2026-12-13 the next
DAYS = [date(2026, 11, 27), date(2026, 12, 12), date(2026, 12, 13), date(2026, 12, 14)]
FIRST = day_first_slot(DAYS[0])
LAST = day_first_slot(DAYS[-1]) + 47
POINTS = np.arange(1, 301, dtype=np.int64)
RNG = np.random.default_rng(17)


def _tick(store: DuckIntervalStore, slot: int, keys: np.ndarray, version: int = 1) -> None:
    n = len(keys)
    values = pa.table(
        {
            "supply_point_key": pa.array(keys, pa.int64()),
            "slot": pa.array(np.full(n, slot), pa.int64()),
            "import_wh": pa.array(RNG.integers(0, 900, n), pa.int64()),
            "export_wh": pa.array(RNG.integers(0, 50, n), pa.int64()),
            "qcode": pa.array(np.zeros(n, dtype=np.uint8)),
            "version": pa.array(np.full(n, version, dtype=np.int32)),
            "vee_flags": pa.array(np.zeros(n, dtype=np.int32)),
        }
    )
    with store.transaction() as cur:
        append_values(cur, values, time.time(), "estimate" if version > 1 else "measured")


@dataclass
class World:
    store: DuckIntervalStore
    shared: SharedValueStore

    def expected(self, key: int) -> list[dict[str, object]]:
        """The working store's current values of one point over all days."""
        rows = self.store.query(
            """
            SELECT slot, import_wh, export_wh, version FROM half_hour_values
            WHERE supply_point_key = ? AND slot BETWEEN ? AND ?
            QUALIFY row_number() OVER (PARTITION BY slot ORDER BY version DESC) = 1
            ORDER BY slot
            """,
            [key, FIRST, LAST],
        )
        return rows.to_pylist()

    def publish(self) -> None:
        self.shared.publish_new(self.store, "p01")


def _answer(reader: SharedValuesReader, key: int) -> list[dict[str, object]]:
    got = reader.current_values(key, FIRST, LAST)
    return got.select(["slot", "import_wh", "export_wh", "version"]).to_pylist()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = DuckIntervalStore(tmp_path / "p01.duckdb")
    shared = SharedValueStore(tmp_path / "table")
    for day in DAYS:
        for i in (0, 1, 17, 47):
            _tick(store, day_first_slot(day) + i, POINTS)
    world = World(store, shared)
    world.publish()
    shared.compact_days(DAYS[0], DAYS[-1])
    yield world
    store.close()


def _day_numbers(days: list[date]) -> set[int]:
    return {int(n) for n in jst_day_numbers(np.array([day_first_slot(d) for d in days]))}


def test_windows_answer_as_the_day_files(world: World) -> None:
    built = world.shared.build_windows()
    assert sorted(built) == [20784, 20800]
    assert sum(built.values()) == len(POINTS) * len(DAYS)  # one row per point and day
    assert world.shared.status().files == {"day": 4, "win": 2}
    assert world.shared.build_windows() == {}  # nothing changed: nothing rebuilt
    reader = SharedValuesReader(world.shared.uri)
    plain = SharedValuesReader(world.shared.uri, windows=False)
    assert reader.window_days() == _day_numbers(DAYS)
    assert plain.window_days() == set()
    for key in [1, 2, 150, 299, 300, *RNG.choice(POINTS, 8, replace=False)]:
        expected = world.expected(int(key))
        assert len(expected) == 4 * len(DAYS)
        assert _answer(reader, int(key)) == expected == _answer(plain, int(key))
    assert reader.current_values(10_000, FIRST, LAST).num_rows == 0  # no such point
    part = reader.current_values(5, FIRST + 1, day_first_slot(DAYS[1]) + 17)
    assert part.column("slot").to_pylist() == [
        FIRST + 1,
        FIRST + 17,
        FIRST + 47,
        *(day_first_slot(DAYS[1]) + i for i in (0, 1, 17)),
    ]


def test_windows_hold_the_days_up_to_a_day_given(world: World) -> None:
    assert sorted(world.shared.build_windows(through=DAYS[2])) == [20784, 20800]
    reader = SharedValuesReader(world.shared.uri)
    assert reader.window_days() == _day_numbers(DAYS[:3])  # the last day: its day file
    assert _answer(reader, 3) == world.expected(3)
    assert world.shared.build_windows(through=DAYS[2]) == {}
    assert list(world.shared.build_windows()) == [20800]  # now with the last day
    reader.refresh()
    assert reader.window_days() == _day_numbers(DAYS)


def test_a_day_compacted_again_is_read_from_its_new_file_until_rebuilt(world: World) -> None:
    world.shared.build_windows()
    reader = SharedValuesReader(world.shared.uri)
    edited = POINTS[::9]
    _tick(world.store, FIRST + 1, edited, version=2)  # estimates on the window's first day
    world.publish()
    assert world.shared.compact_day(DAYS[0]) == len(POINTS)
    assert world.shared.status().files == {"day": 4, "win": 2}  # the window file stays
    assert stale_windows(world.shared.table()) == [window_of(20784)]
    reader.refresh()
    assert reader.window_days() == _day_numbers(DAYS[1:])  # the old copy is not used
    for key in (int(edited[0]), int(edited[3]), 2):
        assert _answer(reader, key) == world.expected(key)
    assert _answer(reader, int(edited[3]))[1]["version"] == 2
    assert set(world.shared.build_windows()) == {20784}
    reader.refresh()
    assert reader.window_days() == _day_numbers(DAYS)
    for key in (int(edited[0]), int(edited[3]), 2):
        assert _answer(reader, key) == world.expected(key)


def test_build_neither_blocks_nor_conflicts_with_appends(world: World) -> None:
    stop = threading.Event()
    commits = [0]

    def keep_publishing() -> None:  # a later slot of the last day, again and again
        slot = day_first_slot(DAYS[-1]) + 20
        while not stop.is_set():
            _tick(world.store, slot, POINTS[::5])
            world.publish()
            commits[0] += 1
            slot = slot + 1 if slot < LAST - 1 else day_first_slot(DAYS[-1]) + 20

    writer = threading.Thread(target=keep_publishing)
    writer.start()
    try:
        while commits[0] < 1:
            time.sleep(0.01)
        built = world.shared.build_windows()
        before = commits[0]
        while commits[0] < before + 2:  # appends go on after the window commits
            time.sleep(0.01)
    finally:
        stop.set()
        writer.join()
    assert set(built) == {20784, 20800}
    world.publish()
    reader = SharedValuesReader(world.shared.uri)
    assert reader.window_days() == _day_numbers(DAYS)
    for key in (1, 6, 11, 300):
        assert _answer(reader, key) == world.expected(key)


def test_an_uncommitted_build_changes_nothing_and_vacuum_removes_it(world: World) -> None:
    world.shared.build_windows()
    reader = SharedValuesReader(world.shared.uri)
    before = {key: _answer(reader, key) for key in (1, 77)}
    root = Path(world.shared.uri)
    # what a build killed before its commit leaves: a window file the table does not list
    from openami.storage.shared_windows import _write_window, day_files

    actions = pa.table(world.shared.table().get_add_actions(flatten=True))
    sources = sorted(p for paths in day_files(actions).values() for p in paths)
    orphan = root / "day=2026-11-27" / "shape=win" / "part-orphan-c000.zstd.parquet"
    _write_window(root, sources, orphan)
    assert orphan.exists()
    reader.refresh()
    assert {key: _answer(reader, key) for key in (1, 77)} == before
    assert stale_windows(world.shared.table()) == []
    removed = world.shared.vacuum(retention_hours=0)
    assert any("part-orphan" in path for path in removed)
    assert not orphan.exists()
    reader.refresh()
    assert {key: _answer(reader, key) for key in (1, 77)} == before


def test_windows_refuse_bad_input(world: World) -> None:
    with pytest.raises(ValueError, match="does not start a window"):
        build_window(world.shared.uri, 20784 + 1)
    with pytest.raises(ValueError, match="local table"):
        local_root("s3://bucket/table")
    assert build_window(world.shared.uri, 20784 + 10 * WINDOW_DAYS) == 0  # no days: no commit
    assert world.shared.status().files == {"day": 4}


def test_a_following_reader_sees_commits_without_querying(world: World) -> None:
    reader = SharedValuesReader(world.shared.uri, refresh_s=0.1).follow()
    try:
        _tick(world.store, day_first_slot(DAYS[-1]) + 30, POINTS[:3])
        world.publish()
        version = world.shared.table().version()
        deadline = time.monotonic() + 60
        while reader.version < version and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reader.version >= version
        assert _answer(reader, 2) == world.expected(2)
    finally:
        reader.close()
