"""KPIs per concentrator, method and area over the whole A route (network → HES → MDMS).

The network is perfect except one concentrator that fails on day 1 from 10:00 to 12:00 JST
and whose meters re-join 10–40 minutes later; commands and clock checks feed the
remote-operation and clock KPIs.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from openami.bus.messages import CommandKind
from openami.clock import JST, ManualClock
from openami.mdms.kpi import KPI_NAMES, daily_kpis
from openami.network import METHOD_CODES, MethodParams, NetworkModel
from openami.network.scenarios import concentrator_failure, concentrator_members
from openami.registry import Registry
from openami.sim import CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore

DAY1 = date(2026, 11, 1)
DAY2 = DAY1 + timedelta(days=1)
MESH = MethodParams(
    attempt_success=1.0, median_delay_s=60.0, delay_sigma=0.5, rejoin_min_s=600, rejoin_max_s=2400
)


def at(day: date, hour: int, minute: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=JST).timestamp()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp: Path = tmp_path_factory.mktemp("kpi")
    registry = Registry.open(tmp / "registry.sqlite")
    config = CityConfig(
        meters=300,
        seed=4,
        start_day=DAY1,
        method_mix={"mesh": 1.0},
        meters_per_concentrator=(100, 150),
    )
    city = build_city(config, registry)
    city.network = NetworkModel(
        city.fleet.meter_ids,
        city.method_codes,
        seed=4,
        params=dict.fromkeys(METHOD_CODES, MESH),
        concentrator_of=city.concentrator_of,
    )
    concentrator_failure(city.network, 0, at(DAY1, 10), at(DAY1, 12))
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    sim = Simulation.create(city, DuckIntervalStore(), clock)
    failed = concentrator_members(city.network, 0)
    others = np.setdiff1d(np.arange(300), failed)
    sim.run_until(at(DAY1, 10, 30))
    now = clock.timestamp()
    sim.hes.submit(CommandKind.DISCONNECT, failed[:10], now)
    sim.hes.submit(CommandKind.DISCONNECT, others[:30], now)
    sim.run_until(at(DAY2 + timedelta(days=1), 0, 30))
    return {"sim": sim, "registry": registry, "failed": failed}


def by_group(world: dict[str, object], day: date, by: str) -> dict[str, object]:
    sim = world["sim"]
    assert isinstance(sim, Simulation)
    rows = daily_kpis(sim.mdms.store, sim.city.registry, day, by, journal=sim.hes.journal)
    return {r.group: r for r in rows}


def test_concentrator_outage_shows_in_its_kpis_and_heals(world: dict[str, object]) -> None:
    day1 = by_group(world, DAY1, "concentrator_id")
    failed = day1.pop("C03-mesh-00000")
    total = day1.pop("all")
    assert failed.meters == len(world["failed"])  # type: ignore[arg-type]
    # 10:00 … 11:30 lost for sure, 12:00 for those still re-joining: at least 4 of 48
    assert failed.collection_30min_rate <= 44 / 48
    assert failed.collection_30min_rate >= 42 / 48
    assert failed.delivery_60min_rate < 1.0
    assert failed.collection_48h_rate == pytest.approx(1.0)  # backfilled after restore
    assert failed.automatic_reading_rate == pytest.approx(1.0)
    assert failed.network_connection_rate == pytest.approx(1.0)
    for row in day1.values():
        assert row.collection_30min_rate == pytest.approx(1.0)
        assert row.remote_operation_success_rate in (None, 1.0)
    assert total.meters == 300
    assert 42 / 48 < total.collection_30min_rate < 1.0
    # day 2: healed
    day2 = by_group(world, DAY2, "concentrator_id")
    for row in day2.values():
        assert row.collection_30min_rate == pytest.approx(1.0)
        assert row.remote_operation_success_rate is None  # no commands that day


def test_remote_operations_and_clock_compliance(world: dict[str, object]) -> None:
    day1 = by_group(world, DAY1, "concentrator_id")
    # disconnects sent into the dead concentrator time out; the 30 others are confirmed
    assert day1["C03-mesh-00000"].remote_operation_success_rate == pytest.approx(0.0)
    assert day1["all"].remote_operation_success_rate == pytest.approx(30 / 40)
    clock = day1["all"].clock_compliance_rate
    assert clock is not None and 0.97 <= clock <= 1.0
    assert by_group(world, DAY2, "comm_method")["all"].clock_compliance_rate is not None


def test_groupings_agree_on_the_total(world: dict[str, object]) -> None:
    totals = [
        by_group(world, DAY1, by)["all"] for by in ("comm_method", "area_code", "concentrator_id")
    ]
    for name in KPI_NAMES:
        values = {getattr(t, name) for t in totals}
        assert len(values) == 1, name
    method = by_group(world, DAY1, "comm_method")
    assert set(method) == {"mesh", "all"}
    with pytest.raises(ValueError):
        daily_kpis(world["sim"].mdms.store, world["registry"], DAY1, by="retailer")  # type: ignore[attr-defined,arg-type]
