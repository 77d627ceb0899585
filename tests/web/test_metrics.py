"""``GET /metrics`` over real HTTP: authentication, Prometheus text, figures equal the KPIs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import httpx
import numpy as np
import pytest
from tests.httpserver import serve

from openami.bus.messages import CommandKind
from openami.clock import JST, ManualClock
from openami.hub.context import HubContext
from openami.mdms.reports import MdmsReports
from openami.network import MethodParams, NetworkModel, Outage
from openami.registry import Registry
from openami.sim import CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.clients import ClientStore
from openami.web.app import create_app

DAY = date(2026, 11, 1)
OPERATOR = ("operator", "metrics-test-pw")
TOKEN = "scrape-token-for-tests"
PERFECT = MethodParams(attempt_success=1.0, median_delay_s=60.0, delay_sigma=0.5)
SAMPLE = re.compile(r"^(openami_[a-z0-9_]+)(\{[^}]*\})? (\S+)$")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, Simulation]]:
    database = open_database(":memory:")
    registry = Registry(database)
    city = build_city(CityConfig(meters=120, seed=8, start_day=DAY, areas=("03", "06")), registry)
    city.network = NetworkModel(
        city.fleet.meter_ids,
        city.method_codes,
        seed=8,
        params={"mesh": PERFECT, "cellular": PERFECT, "plc": PERFECT},
        concentrator_of=city.concentrator_of,
    )
    start = datetime(2026, 11, 1, tzinfo=JST).timestamp()
    city.network.add_outage(Outage(np.arange(4), start + 8 * 3600, start + 40 * 86400))
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    sim = Simulation.create(city, DuckIntervalStore(), clock)
    sim.run_until(start + 9 * 3600)
    sim.hes.submit(CommandKind.DISCONNECT, np.arange(0, 8), clock.timestamp())
    sim.run_until(start + 86400 + 2 * 3600)
    context = HubContext(registry, sim.mdms, ClientStore(database), clock, *OPERATOR)
    app = create_app(context)
    app.state.hes = sim.hes
    app.state.metrics_token = TOKEN
    with serve(app) as base:
        yield base, sim


def parse(text: str) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            assert line.startswith(("# HELP openami_", "# TYPE openami_")), line
            continue
        m = SAMPLE.match(line)
        assert m, line
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def test_metrics_need_operator_or_token(served: tuple[str, Simulation]) -> None:
    base, _ = served
    assert httpx.get(base + "/metrics").status_code == 401
    assert httpx.get(base + "/metrics", auth=("operator", "nope")).status_code == 401
    bad = httpx.get(base + "/metrics", headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401 and TOKEN not in bad.text
    assert httpx.get(base + "/metrics", auth=OPERATOR).status_code == 200
    ok = httpx.get(base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert httpx.get(base + "/metrics?date=yesterday", auth=OPERATOR).status_code == 422


def test_metrics_match_the_daily_kpis(served: tuple[str, Simulation]) -> None:
    base, sim = served
    text = httpx.get(base + "/metrics", auth=OPERATOR).text  # default: the last complete day
    samples = parse(text)
    assert "# TYPE openami_kpi_collection_30min_rate gauge" in text
    rows = MdmsReports(sim.mdms).daily_kpis(DAY, "comm_method", sim.hes.journal)
    for row in rows:
        dim = "all" if row.group == "all" else "method"
        labels = f'{{day="2026-11-01",dimension="{dim}",group="{row.group}"}}'
        assert samples[("openami_kpi_meters", labels)] == row.meters
        assert samples[("openami_kpi_collection_30min_rate", labels)] == pytest.approx(
            row.collection_30min_rate
        )
        assert samples[("openami_kpi_network_connection_rate", labels)] == pytest.approx(
            row.network_connection_rate
        )
    total = '{day="2026-11-01",dimension="all",group="all"}'
    # four meters lost from 08:00: the 33 reads 08:00 … 24:00 missing
    assert samples[("openami_kpi_collection_30min_rate", total)] == pytest.approx(
        1 - 4 * 33 / (120 * 48)
    )
    # eight disconnects, four into the outage: half confirmed
    assert samples[("openami_kpi_remote_operation_success_rate", total)] == pytest.approx(0.5)
    assert 0.9 <= samples[("openami_kpi_clock_compliance_rate", total)] <= 1.0
    dims = {re.search(r'dimension="(\w+)"', k[1]).group(1) for k in samples if k[1]}  # type: ignore[union-attr]
    assert dims == {"method", "area", "concentrator", "all"}
    assert samples[("openami_hes_attempts_total", "")] >= 120 * 48
    assert samples[("openami_hes_commands_queued", "")] == len(sim.hes.commands)


def test_metrics_for_a_day_without_data(served: tuple[str, Simulation]) -> None:
    base, _ = served
    day = (DAY - timedelta(days=30)).isoformat()
    samples = parse(httpx.get(base + f"/metrics?date={day}", auth=OPERATOR).text)
    total = f'{{day="{day}",dimension="all",group="all"}}'
    assert samples[("openami_kpi_collection_30min_rate", total)] == 0.0
    assert ("openami_kpi_remote_operation_success_rate", total) not in samples
