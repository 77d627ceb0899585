"""Point-day files answer exactly as the store: the point-read world (every kind of stored
value) copied to a file and opened read-only, every point and range read from the files
equals the SQL rule; a point without narrow versions in the range needs no DuckDB statement;
a second process finds the files; a store opened for writing gets none."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.storage.test_point_read import _SQL_RULE, D0, RANGES, _build

from openami.mdms import Mdms
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.point_days import PointDays
from openami.storage.point_read import FinalPeriods


@pytest.fixture(scope="module")
def world_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int], Mdms]:
    mdms, keys = _build()
    path = tmp_path_factory.mktemp("pointdays") / "interval.duckdb"
    mdms.store.query(f"ATTACH '{path}' AS copy")
    mdms.store.query("COPY FROM DATABASE memory TO copy")
    mdms.store.query("DETACH copy")
    return path, keys, mdms


def _open(path: Path, registry_of: Mdms) -> Mdms:
    store = DuckIntervalStore(path, read_only=True)
    mdms = Mdms(store, registry_of.registry, registry_of.clock, point_days=False)
    files = PointDays.beside(store)
    assert files is not None
    files.build()
    mdms.point_days = files
    return mdms


def test_files_answer_every_range_as_the_sql_rule(
    world_file: tuple[Path, list[int], Mdms],
) -> None:
    path, keys, source = world_file
    mdms = _open(path, source)
    files = mdms.point_days
    assert files is not None and files.ready.is_set()
    asked = 0
    for first, last in RANGES:
        for key in keys:
            got = mdms.current_values(key, first, last)
            assert got == mdms.store.query(_SQL_RULE, [key, first, last])
            assert got == source.current_values(key, first, last)
            asked += 1
    assert files.requests_from_files == asked  # none fell back to DuckDB
    mdms.store.close()


def test_no_narrow_statement_for_a_point_without_narrow_versions(
    world_file: tuple[Path, list[int], Mdms],
) -> None:
    path, _keys, source = world_file
    mdms = _open(path, source)
    files = mdms.point_days
    assert files is not None
    spans = mdms.store.query(
        "SELECT supply_point_key, min(slot) AS lo FROM hh_values GROUP BY ALL"
    ).to_pylist()
    key, lo = next((r["supply_point_key"], r["lo"]) for r in spans if r["lo"] > D0 + 5)
    periods = FinalPeriods(mdms.store).table()
    mdms.store.close()  # any DuckDB statement now fails: the files alone answer
    got = files.current_values(key, D0, D0 + 5, periods)
    assert lo > D0 + 5 and got is not None and got.num_rows == 6
    assert got == source.current_values(key, D0, D0 + 5)


def test_a_second_process_maps_the_files_written(
    world_file: tuple[Path, list[int], Mdms],
) -> None:
    path, _keys, source = world_file
    first = _open(path, source)
    store = DuckIntervalStore(path, read_only=True)
    again = PointDays.beside(store)
    assert again is not None and first.point_days is not None
    assert again.directory == first.point_days.directory
    assert again.build() == 0  # nothing written: found
    assert sorted(p.stat().st_mode & 0o777 for p in again.directory.glob("day-*")) == [0o600]
    first.store.close()
    store.close()


def test_a_writable_store_has_no_point_day_files(tmp_path: Path) -> None:
    store = DuckIntervalStore(tmp_path / "interval.duckdb")
    assert PointDays.beside(store) is None
    with pytest.raises(ValueError, match="read-only"):
        PointDays(store, tmp_path / "x")
    store.close()
