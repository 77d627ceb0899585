"""The simulation leaves the missing-value deadline to the MDMS: each tick it asks
``Mdms.close_due_slots``, which closes the city's slots from its first one, each once."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np

from openami.clock import JST, ManualClock, slot_at_s
from openami.network import MethodParams, NetworkModel, Outage
from openami.registry import Registry
from openami.sim import CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.mdms_watermarks import watermark

DAY = date(2026, 11, 1)
PERFECT = MethodParams(attempt_success=1.0, median_delay_s=60.0, delay_sigma=0.5)
DOWN = np.arange(0, 4, dtype=np.int64)


def at(hour: int, minute: int = 0) -> float:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=JST).timestamp()


def test_slots_of_silent_meters_are_closed_once_after_the_deadline() -> None:
    city = build_city(CityConfig(meters=20, seed=3, start_day=DAY), Registry.open(":memory:"))
    city.network = NetworkModel(
        city.fleet.meter_ids,
        city.method_codes,
        seed=3,
        params={"mesh": PERFECT, "cellular": PERFECT, "plc": PERFECT},
    )
    city.network.add_outage(Outage(DOWN, at(6), at(23)))
    clock = ManualClock(datetime(DAY.year, DAY.month, DAY.day, tzinfo=JST))
    sim = Simulation.create(city, DuckIntervalStore(), clock)
    sim.run_until(at(9, 5))
    first = city.start_boundary
    due = slot_at_s(at(9, 5) - sim.mdms.vee.missing_deadline_s) - 1  # slot 07:30-08:00
    assert watermark(sim.mdms.store, "missing_deadline") == due
    missing = sim.mdms.store.query(
        "SELECT supply_point_key, slot, count(*) AS n FROM half_hour_values "
        "WHERE quality = 'missing' GROUP BY ALL ORDER BY ALL"
    )
    keys = {city.supply_point_keys[i] for i in DOWN}
    # the meters went silent at 06:00: slot 05:30 lacks its end read, and every later one
    assert set(missing.column("supply_point_key").to_pylist()) == keys
    assert set(missing.column("slot").to_pylist()) == set(range(first + 11, due + 1))
    assert set(missing.column("n").to_pylist()) == {1}
    sim.run_until(at(10, 35))  # three more slots fall due, the earlier ones stay as they were
    again = sim.mdms.store.query(
        "SELECT slot, count(*) AS n FROM half_hour_values WHERE quality = 'missing' "
        "GROUP BY slot ORDER BY slot"
    ).to_pylist()
    assert [r["slot"] for r in again] == list(range(first + 11, due + 4))
    assert {r["n"] for r in again} == {len(DOWN)}
