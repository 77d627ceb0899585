"""End to end: a small city over two days, A route into the MDMS, out of the C route over HTTP.

The network is made perfect except for two injected outages, so every figure is known:
- group A (10 meters) is unreachable on day 1 from 10:00 to 14:00 JST: the reads at the 8
  boundaries 10:00 … 13:30 fail all retries, show up as missing, and backfill (every 6 h)
  fills them at 18:00;
- group B (5 other meters) is unreachable from day 2 00:20 JST to the end: every read of
  day 2 is lost and never backfilled.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import httpx
import numpy as np
import pytest
from tests.httpserver import serve

from openami.clock import JST, ManualClock, day_first_slot
from openami.hub.context import HubContext
from openami.mdms.kpi import daily_kpis
from openami.network import MethodParams, NetworkModel, Outage
from openami.registry import Registry
from openami.sim import CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.clients import ApiClient, ClientStore
from openami.web.app import create_app

DAY1 = date(2026, 11, 1)
DAY2 = DAY1 + timedelta(days=1)
N = 100
PERFECT = MethodParams(attempt_success=1.0, median_delay_s=60.0, delay_sigma=0.5)


def at(day: date, hour: int, minute: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=JST).timestamp()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("e2e")
    database = open_database(tmp / "registry.sqlite")
    registry = Registry(database)
    city = build_city(CityConfig(meters=N, seed=11, start_day=DAY1, pv_share=0.3), registry)
    city.network = NetworkModel(
        city.fleet.meter_ids,
        city.method_codes,
        seed=11,
        params={"mesh": PERFECT, "cellular": PERFECT, "plc": PERFECT},
    )
    group_a = np.arange(0, 10, dtype=np.int64)
    group_b = np.arange(50, 55, dtype=np.int64)
    city.network.add_outage(Outage(group_a, at(DAY1, 10), at(DAY1, 14)))
    city.network.add_outage(Outage(group_b, at(DAY2, 0, 20), at(DAY2 + timedelta(days=5), 0)))
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    sim = Simulation.create(city, DuckIntervalStore(tmp / "interval.duckdb"), clock)
    clients = ClientStore(database)
    secrets = {}
    for retailer in registry.retailers():
        cid = f"client-{retailer.retailer_id}"
        secrets[retailer.retailer_id] = (cid, f"secret-for-tests-{retailer.retailer_id}")
        clients.register(
            ApiClient(cid, "retailer", retailer.retailer_id), secrets[retailer.retailer_id][1]
        )
    context = HubContext(registry, sim.mdms, clients, clock, "operator", "operator-test-pw")
    return {
        "city": city,
        "sim": sim,
        "registry": registry,
        "context": context,
        "secrets": secrets,
        "group_a": group_a,
        "group_b": group_b,
    }


def token(client: httpx.Client, cid: str, secret: str) -> str:
    resp = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(cid, secret)
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["access_token"])


def get_day(client: httpx.Client, tok: str, sp: str, day: date) -> httpx.Response:
    return client.get(
        f"/v1/supply-points/{sp}/half-hour-values",
        params={"date": day.isoformat()},
        headers={"Authorization": f"Bearer {tok}"},
    )


def test_two_days_end_to_end(world: dict[str, object]) -> None:
    city = world["city"]
    sim = world["sim"]
    registry = world["registry"]
    secrets = world["secrets"]
    group_a, group_b = world["group_a"], world["group_b"]
    assert isinstance(sim, Simulation) and isinstance(registry, Registry)
    app = create_app(world["context"])  # type: ignore[arg-type]
    sp_a = city.supply_point_ids[int(group_a[0])]  # type: ignore[attr-defined]
    key_a = city.supply_point_keys[int(group_a[0])]  # type: ignore[attr-defined]
    owner = registry.retailer_on(key_a, DAY1)
    assert owner is not None
    other = next(r for r in secrets if r != owner)  # type: ignore[union-attr]
    first = day_first_slot(DAY1)

    with serve(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        # day 1, 15:30 JST: the outage's slots are past their deadline and marked missing
        sim.run_until(at(DAY1, 15, 30))
        tok = token(client, *secrets[owner])  # type: ignore[index]
        body = get_day(client, tok, sp_a, DAY1).json()
        quality = [s["quality"] for s in body["slots"]]
        # slots 09:30 … 13:30 need a read at 10:00 … 13:30: nine slots without a value
        assert quality[19:28] == ["missing"] * 9
        assert quality[:19] == ["measured"] * 19
        assert quality[28:30] == ["measured"] * 2

        # run to the end of day 2 (+1 h): backfill at 18:00 fills group A's gap
        sim.run_until(at(DAY2 + timedelta(days=1), 1))
        for pos in (int(group_a[0]), 20, 77):
            sp = city.supply_point_ids[pos]  # type: ignore[attr-defined]
            retailer = registry.retailer_on(city.supply_point_keys[pos], DAY1)  # type: ignore[attr-defined]
            t = token(client, *secrets[retailer])  # type: ignore[index]
            body = get_day(client, t, sp, DAY1).json()
            assert [s["quality"] for s in body["slots"]] == ["measured"] * 48
            imp, exp = city.fleet.registers_at(  # type: ignore[attr-defined]
                np.full(49, pos), np.arange(first, first + 49)
            )
            assert [s["import_wh"] for s in body["slots"]] == np.diff(imp).tolist()
            assert [s["export_wh"] for s in body["slots"]] == np.diff(exp).tolist()
            assert body["slots"][0]["slot_start"] == "2026-11-01T00:00:00+09:00"

        # group B lost all of day 2
        sp_b = city.supply_point_ids[int(group_b[0])]  # type: ignore[attr-defined]
        key_b = city.supply_point_keys[int(group_b[0])]  # type: ignore[attr-defined]
        t = token(client, *secrets[registry.retailer_on(key_b, DAY2)])  # type: ignore[index]
        body = get_day(client, t, sp_b, DAY2).json()
        assert {s["quality"] for s in body["slots"]} == {"missing"}

        # isolation and errors (tokens live one hour of the one clock: fetch a fresh one)
        tok = token(client, *secrets[owner])  # type: ignore[index]
        t_other = token(client, *secrets[other])  # type: ignore[index]
        assert get_day(client, t_other, sp_a, DAY1).status_code == 403
        assert get_day(client, tok, "0300000000999999999910", DAY1).status_code == 403  # as foreign
        bad = get_day(client, tok, "12345", DAY1)
        assert bad.status_code == 422 and "22 digits" in bad.json()["message"]
        assert get_day(client, "not-a-token", sp_a, DAY1).status_code == 401
        assert (
            client.get(f"/v1/supply-points/{sp_a}/half-hour-values?date=2026-11-01").status_code
            == 401
        )
        assert client.get("/openapi.json").status_code == 200

    # reading rates match the injected pattern exactly
    day1 = {r.group: r for r in daily_kpis(sim.mdms.store, registry, DAY1)}["all"]
    assert day1.meters == N
    assert day1.collection_30min_rate == pytest.approx(1 - 10 * 8 / (N * 48))
    assert day1.delivery_60min_rate == pytest.approx(1 - 10 * 8 / (N * 48))
    assert day1.collection_48h_rate == pytest.approx(1.0)
    assert day1.automatic_reading_rate == pytest.approx(1.0)
    day2 = {r.group: r for r in daily_kpis(sim.mdms.store, registry, DAY2)}["all"]
    assert day2.collection_30min_rate == pytest.approx(1 - 5 / N)
    assert day2.collection_48h_rate == pytest.approx(1 - 5 / N)
    assert day2.automatic_reading_rate == pytest.approx(1 - 5 / N)
