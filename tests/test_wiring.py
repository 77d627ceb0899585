"""The composition root keeps the MDMS tick state across a clean restart, and drops it when
the store changed while the system was down."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa

from openami.settings import Settings
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.wiring import INTERVAL_FILE, open_system


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "city", meters=40, days=1, start=date(2026, 11, 2))


def _in_step(settings: Settings) -> tuple[int, int]:
    """(meters in step, meters stored) of the tick state right after opening, before any
    tick of this process."""
    system = open_system(settings)
    try:
        cache = system.simulation.mdms.tick_cache
        assert cache is not None
        return cache.meters_in_step(), len(cache.rows)
    finally:
        system.close()


def test_a_clean_restart_loads_the_saved_tick_state(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    system = open_system(settings)  # a new city: a day of ticks, the state built meanwhile
    cache = system.simulation.mdms.tick_cache
    assert cache is not None
    meters_before = cache.meters_in_step()
    assert meters_before >= 30
    system.close()
    snapshot = settings.data_dir / "tick_state.arrow"
    assert snapshot.exists()
    assert snapshot.stat().st_mode & 0o077 == 0  # owner-only, like the rest of the data dir

    assert _in_step(settings) == (meters_before, meters_before)


def test_a_write_while_down_drops_the_saved_state(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    open_system(settings).close()
    store = DuckIntervalStore(settings.data_dir / INTERVAL_FILE)  # e.g. an operator's tool
    points = pa.table(
        {
            "supply_point_key": [9_999_999],
            "valid_from": [0.0],
            "valid_to": pa.array([None], pa.float64()),
        }
    )
    assert store.mark_missing(points, 100, 100, 1.0) == 1
    store.close()

    assert _in_step(settings) == (0, 0)  # built again from stored rows at the first tick
