"""Dashboard building blocks: labels, charts, read-only queries, the aggregate cache."""

from __future__ import annotations

import re
import threading
import time
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest
from tests.httpserver import serve
from tests.web.conftest import DAY1, DAY2, DOWN, METERS, DashboardWorld, operator_client

from openami.bus.messages import READ_SOURCE_NAMES
from openami.clock import JST, ManualClock, day_first_slot, slot_start_s
from openami.hub.context import HubContext
from openami.mdms.reports import MdmsReports
from openami.mdms.service import Mdms
from openami.registry import Registry
from openami.registry.model import COMM_METHODS, Meter
from openami.sim import CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.clients import ClientStore
from openami.web import charts
from openami.web.app import create_app
from openami.web.common import AggregateCache, amr_targets, state_cache, watermark
from openami.web.i18n import MESSAGES, translator
from openami.web.rollout import add_months, fiscal_year

WEB = Path(__file__).resolve().parents[2] / "src" / "openami" / "web"


def test_every_label_used_exists_in_both_languages() -> None:
    used: set[str] = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("*.py")]:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_.0-9]+)["']\s*\)""", path.read_text()))
    used |= {f"method.{m}" for m in (*COMM_METHODS, "all")}
    used |= {f"quality.{q}" for q in ("measured", *charts.QUALITY_MARKS)}
    used |= {f"source.{s}" for s in (*READ_SOURCE_NAMES.values(), "unknown")}
    assert len(used) > 50
    missing = sorted(k for k in used if k not in MESSAGES)
    assert missing == []
    assert all(en.strip() and ja.strip() for en, ja in MESSAGES.values())
    ja = translator("ja")
    assert ja("kpi.automatic_reading_rate") == "自動検針率"
    assert translator("xx")("nav.overview") == "Overview"  # unknown language: English
    assert ja("no.such.key") == "no.such.key"  # a gap shows, never crashes


def test_line_chart_skips_gaps_and_escapes_labels() -> None:
    svg = charts.line_chart(
        "c", "<title>", ["a<b", "b", "c"], [charts.Series("s&", [0.5, None, 1.0], "s0")]
    )
    assert 'data-points="2"' in svg
    assert svg.count("<circle") == 2
    assert "a&lt;b" in svg and "s&amp;" in svg and "<title><title>" not in svg
    bars = charts.bar_chart("b", "bars", ["x", "y"], [3.0, 0.0], highlight=[True, False])
    assert 'data-points="2"' in bars and bars.count('class="bar warn"') == 1


def test_load_curve_marks_every_slot_that_is_not_measured() -> None:
    svg = charts.load_curve(
        "lc",
        "curve",
        ["00:00", "00:30", "01:00", "01:30"],
        [100, None, 80, 90],
        [0, None, 20, 0],
        ["measured", "missing", "estimated", "edited"],
    )
    assert re.findall(r'data-quality="(\w+)"', svg) == ["missing", "estimated", "edited"]
    assert 'data-points="4"' in svg  # three import bars and one export bar
    assert svg.count('class="bar export') == 1


def test_slot_timeline_agrees_with_daily_kpis(world: DashboardWorld) -> None:
    reports, registry = MdmsReports(world.context.mdms), world.context.registry
    timeline = reports.slot_timeline(registry.meters_table(), DAY2)
    total = [s for s in timeline if s.group == "all"]
    assert len(total) == 48 and all(s.expected == METERS for s in total)
    assert all(s.received == METERS - DOWN for s in total)  # perfect network but the outage
    kpi = reports.daily_kpis(DAY2)[-1]
    r60 = sum(s.within_60min for s in total)
    assert r60 == round(kpi.delivery_60min_rate * METERS * 48)
    methods = {s.group for s in timeline} - {"all"}
    assert methods <= set(COMM_METHODS)
    assert sum(s.expected for s in timeline if s.group in methods) == METERS * 48
    with pytest.raises(ValueError):
        reports.slot_timeline(registry.meters_table(), DAY2, by="meter_id; DROP TABLE meters")


def test_registry_queries(world: DashboardWorld) -> None:
    registry = world.context.registry
    ids = world.city.supply_point_ids
    assert registry.search_supply_points(ids[7]) == [ids[7]]
    prefix = registry.search_supply_points("03", limit=5)
    assert len(prefix) == 5 and all(p.startswith("03") for p in prefix)
    assert prefix == sorted(prefix)
    assert registry.search_supply_points("03*") == []
    assert registry.search_supply_points("0[3]") == []
    assert registry.installed_by_area() == {"03": 150, "06": 150}
    by_year = registry.expiry_by_year()
    assert sum(n for _, n in by_year) == METERS
    total, page = registry.expiring_meters(date(2029, 12, 31), offset=0, limit=10)
    assert total == sum(n for y, n in by_year if y <= 2029)
    assert page.num_rows == 10
    expiry = page.column("certification_expiry").to_pylist()
    assert expiry == sorted(expiry) and expiry[0] <= "2029-12-31"
    _, last = registry.expiring_meters(date(2029, 12, 31), offset=total - 3, limit=10)
    assert last.num_rows == 3


def test_seed_targets_ship_with_the_package() -> None:
    targets = amr_targets()
    assert targets["03"] == 0.99 and targets["01"] == 0.90 and len(targets) == 10


def test_month_and_fiscal_year_arithmetic() -> None:
    assert add_months(date(2026, 11, 3), 24) == date(2028, 11, 3)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2027, 12, 31), 2) == date(2028, 2, 29)
    assert fiscal_year(date(2026, 3, 31)) == 2025
    assert fiscal_year(date(2026, 4, 1)) == 2026


def test_aggregate_cache_recomputes_after_new_data(world: DashboardWorld) -> None:
    cache = AggregateCache(size=2)
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    def get(key: str) -> int:
        return cache.get((key,), watermark(world.context, DAY2), compute)

    assert get("x") == 1
    assert get("x") == 1
    # new half-hour value versions (missing marks for one far-off slot): the data changed
    far_slot = day_first_slot(date(2027, 6, 1))
    assert world.context.mdms.mark_missing(far_slot, far_slot) == METERS
    assert get("x") == 2
    get("y")
    get("z")
    assert get("x") == 5  # evicted (size 2): computed again


def test_old_days_keep_their_watermark_while_new_data_arrives() -> None:
    database = open_database(":memory:")
    registry = Registry(database)
    clock = ManualClock(datetime(2026, 11, 20, 12, tzinfo=JST))
    mdms = Mdms(DuckIntervalStore(), registry, clock)
    context = SimpleNamespace(mdms=mdms, registry=registry, clock=clock)
    old, recent = date(2026, 11, 5), date(2026, 11, 19)

    def read_at(day: date) -> None:
        boundary = day_first_slot(day) + 10
        batch = pa.table(
            {
                "meter_id": pa.array([1], pa.int64()),
                "boundary": pa.array([boundary], pa.int64()),
                "import_register_wh": pa.array([1000], pa.int64()),
                "export_register_wh": pa.array([0], pa.int64()),
                "received_at": pa.array([slot_start_s(boundary) + 60], pa.float64()),
                "source": pa.array([0], pa.uint8()),
            }
        )
        assert mdms.ingest(batch).reads_new == 1  # the MDMS's own ingest path

    before_old, before_recent = watermark(context, old), watermark(context, recent)
    read_at(recent)
    assert watermark(context, old) == before_old  # an old day stays cached
    assert watermark(context, recent) != before_recent
    read_at(old)  # a late read about the old day does change it
    assert watermark(context, old) != before_old


def test_every_page_works_before_any_data_arrived() -> None:
    database = open_database(":memory:")
    registry = Registry(database)
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    mdms = Mdms(DuckIntervalStore(), registry, clock)
    context = HubContext(registry, mdms, ClientStore(database), clock, "op", "pw-empty-city-long")
    with (
        serve(create_app(context)) as base,
        operator_client(base, "op", "pw-empty-city-long") as c,
    ):
        assert 'id="no-data"' in c.get("/").text
        assert 'id="no-data"' in c.get("/network").text
        assert 'id="search-empty"' in c.get("/supply-points", params={"q": "03"}).text
        rollout = c.get("/rollout").text
        assert 'id="installed-total">0<' in rollout and 'id="expiry-none"' in rollout
        assert c.get("/overview/trend").status_code == 200


def test_supply_point_page_after_a_meter_exchange() -> None:
    database = open_database(":memory:")
    registry = Registry(database)
    city = build_city(CityConfig(meters=12, seed=3, start_day=DAY1), registry)
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    sim = Simulation.create(city, DuckIntervalStore(), clock)
    sim.run_until(datetime(2026, 11, 1, 12, 10, tzinfo=JST).timestamp())
    at = day_first_slot(DAY1) + 24  # 12:00 JST
    old_id = int(city.fleet.meter_ids[3])
    imp, exp = city.fleet.registers_at([3], [at])
    registry.add_meters(
        [Meter(999, "Osaki", "2026000000999", 30, "cellular", None, date(2036, 10, 31))]
    )
    key = city.supply_point_keys[3]
    sim.mdms.exchange_meter(key, old_id, (int(imp[0]), int(exp[0])), 999, (0, 0), at)
    context = HubContext(registry, sim.mdms, ClientStore(database), clock, "op", "pw-x-long-enough")
    with serve(create_app(context)) as base, operator_client(base, "op", "pw-x-long-enough") as c:
        page = c.get(
            f"/supply-points/{city.supply_point_ids[3]}", params={"date": DAY1.isoformat()}
        ).text
    history = re.search(r'<table id="installations-table">.*?</table>', page, re.S)
    assert history is not None
    rows = history.group(0).split("<tbody>")[1]
    assert rows.count("<tr>") == 2 and "2026-11-01 12:00" in rows  # removed, then installed
    assert 'id="meter-id">999<' in page  # the meter installed now
    reads = re.search(r'<table id="reads-table".*?</table>', page, re.S)
    assert reads is not None
    body = reads.group(0)
    # both meters' reads at 12:00 (closing and opening), with a meter column
    assert f'<td class="num">{old_id}</td>' in body and '<td class="num">999</td>' in body
    new_rows = [r for r in body.split("<tr>") if '<td class="num">999</td>' in r]
    assert len(new_rows) == 1 and "meter exchange" in new_rows[0]  # its opening read
    old_rows = [r for r in body.split("<tr>") if f'<td class="num">{old_id}</td>' in r]
    assert len(old_rows) == 25  # 00:00 … 12:00, the last one also its closing read


def test_server_start_warms_the_cache(world: DashboardWorld) -> None:
    app = create_app(world.context)
    wanted = [(("kpis", DAY2, "comm_method"), DAY2), (("kpis", DAY1, "comm_method"), DAY1)]
    wanted += [(("kpis", DAY2, "concentrator_id"), DAY2), (("timeline", DAY2), DAY2)]
    with serve(app):
        deadline = time.monotonic() + 60
        cache = state_cache(app.state)
        while not all(cache.has(k, watermark(world.context, d)) for k, d in wanted):
            assert time.monotonic() < deadline, "warm-up did not finish"
            time.sleep(0.1)
    assert not any(t.name == "dashboard-warm-up" for t in threading.enumerate())


def test_aggregate_cache_computes_a_value_once_for_concurrent_callers() -> None:
    cache = AggregateCache()
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        started.set()
        release.wait(10)
        return 42

    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(cache.get(("k",), (1,), slow)))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=lambda: results.append(cache.get(("k",), (1,), slow)))
    second.start()
    time.sleep(0.05)
    release.set()
    first.join(10)
    second.join(10)
    assert results == [42, 42] and len(calls) == 1

    def broken() -> int:
        raise RuntimeError("query failed")

    with pytest.raises(RuntimeError):
        cache.get(("bad",), (1,), broken)
    assert cache.get(("bad",), (1,), lambda: 7) == 7  # a failure is not cached
