"""A city run over NATS JetStream stores exactly what the same city stores over the
in-process bus: each tick settles the bus before the MDMS closes due slots."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pyarrow as pa

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import TOPIC_READINGS, partition_of
from openami.bus.route import MeterRoute
from openami.clock import JST, ManualClock
from openami.registry import Registry
from openami.sim import CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore

DAY = date(2026, 11, 1)
END_S = datetime(2026, 11, 1, 9, 5, tzinfo=JST).timestamp()


def values(sim: Simulation) -> pa.Table:
    return sim.mdms.store.query(
        "SELECT supply_point_key, slot, version, import_wh, export_wh, quality "
        "FROM half_hour_values ORDER BY ALL"
    )


def run(bus: JetStreamBus | None = None, registry: Registry | None = None) -> Simulation:
    registry = registry or Registry.open(":memory:")
    city = build_city(CityConfig(meters=30, seed=5, start_day=DAY), registry)
    clock = ManualClock(datetime(DAY.year, DAY.month, DAY.day, tzinfo=JST))
    sim = Simulation.create(city, DuckIntervalStore(), clock, bus=bus)
    sim.run_until(END_S)
    return sim


def installed(registry: Registry) -> tuple[np.ndarray, np.ndarray]:
    table = registry.installations_table()
    return table.column("meter_id").to_numpy(), table.column("supply_point_key").to_numpy()


def test_a_city_over_jetstream_stores_what_it_stores_in_process(
    js_config: JetStreamConfig,
) -> None:
    registry = Registry.open(":memory:")
    bus = JetStreamBus(js_config, route=MeterRoute(lambda: installed(registry)))
    try:
        over_nats = run(bus, registry)
    finally:
        bus.close()
    in_process = run()
    expected = values(in_process)
    assert expected.num_rows > 30 * 10  # a morning of values, not an empty store
    assert values(over_nats).equals(expected)
    # every reading went through the stream, on its supply point's partition subject
    assert bus.published[TOPIC_READINGS] == in_process.bus.published[TOPIC_READINGS]  # type: ignore[attr-defined]
    meters, keys = installed(registry)
    route = MeterRoute(lambda: (meters, keys))
    assert (partition_of(route(meters)) == partition_of(keys)).all()
