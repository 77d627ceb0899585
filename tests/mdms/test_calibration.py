"""The default VEE parameters on the simulated city: no false rejects, hardly any flags."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from openami.clock import JST, ManualClock
from openami.registry import Registry
from openami.sim import CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore


def test_default_rules_on_simulated_households(tmp_path: Path) -> None:
    registry = Registry.open(tmp_path / "registry.sqlite")
    city = build_city(
        CityConfig(meters=80, seed=5, start_day=date(2026, 11, 1), pv_share=0.3), registry
    )
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    sim = Simulation.create(city, DuckIntervalStore(tmp_path / "interval.duckdb"), clock)
    sim.run_until(datetime(2026, 11, 3, 1, tzinfo=JST).timestamp())
    counts = {
        (r["quality"], r["flagged"]): r["n"]
        for r in sim.mdms.store.query(
            "SELECT quality, vee_flags <> 0 AS flagged, count(*) AS n FROM half_hour_values "
            "GROUP BY ALL"
        ).to_pylist()
    }
    measured = counts.get(("measured", False), 0) + counts.get(("measured", True), 0)
    assert measured > 80 * 48 * 2 * 0.9  # the network loses a few reads; no rule rejects
    assert counts.get(("invalid", False), 0) + counts.get(("invalid", True), 0) == 0
    assert counts.get(("measured", True), 0) <= measured * 0.005
