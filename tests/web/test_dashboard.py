"""The dashboard's first page: operator authentication and the KPI breakdown."""

from __future__ import annotations

from datetime import date, datetime

import httpx
from tests.httpserver import serve

from openami.clock import JST, ManualClock
from openami.hub.context import HubContext
from openami.mdms.kpi import daily_kpis
from openami.registry import Registry
from openami.sim import CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.sqlite_clients import ClientStore
from openami.web.app import create_app


def test_overview_shows_kpis_by_method_to_operators_only() -> None:
    registry = Registry.open(":memory:")
    city = build_city(CityConfig(meters=300, seed=4, start_day=date(2026, 11, 1)), registry)
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    sim = Simulation.create(city, DuckIntervalStore(), clock)
    sim.run_until(datetime(2026, 11, 2, 1, tzinfo=JST).timestamp())
    context = HubContext(registry, sim.mdms, ClientStore(registry.store), clock, "op", "pw-123")
    with serve(create_app(context)) as base:
        assert httpx.get(base + "/").status_code == 401
        assert httpx.get(base + "/", auth=("op", "wrong")).status_code == 401
        page = httpx.get(base + "/?date=2026-11-01", auth=("op", "pw-123"))
        assert page.status_code == 200
        html = page.text
        assert 'id="meters-installed">300<' in html
        total = daily_kpis(sim.mdms.store, registry, date(2026, 11, 1))[-1]
        assert f"{total.collection_30min_rate * 100:.2f} %" in html
        for method in ("mesh", "cellular", "plc"):
            assert f"<td>{method}</td>" in html
        assert httpx.get(base + "/static/style.css").status_code == 200
        bad = httpx.get(base + "/?date=yesterday", auth=("op", "pw-123"))
        assert bad.status_code == 422
