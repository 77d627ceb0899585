"""Work orders over real HTTP (issue #17 §2): the ``/v1/work-orders`` API and the dashboard
page, by role, CSRF-checked and audited, with an exchange completed into the MDMS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import httpx
import pytest
from tests.httpserver import serve
from tests.web.conftest import DAY1, operator_client

from openami.clock import JST, SLOT_SECONDS, ManualClock
from openami.hub.context import HubContext
from openami.registry import Registry
from openami.registry.assets import Assets, MeterModel
from openami.sim import CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.clients import ClientStore
from openami.web.app import create_app

ADMIN = ("admin", "admin-password-for-tests")
ACCOUNTS = {
    "vera": ("viewer", "viewer-password-for-tests"),
    "otto": ("operator", "operator-password-for-tests"),
}
NEW_METER = 900_001


@dataclass
class Site:
    base: str
    context: HubContext
    clock: ManualClock
    supply_point_id: str
    old_meter: int


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    database = open_database(":memory:")
    registry = Registry(database)
    city = build_city(CityConfig(meters=8, seed=5, start_day=DAY1), registry)
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    sim = Simulation.create(city, DuckIntervalStore(), clock)
    sim.run_until(datetime(2026, 11, 1, 2, 0, tzinfo=JST).timestamp())
    context = HubContext(
        registry, sim.mdms, ClientStore(database), clock, *ADMIN, audit=AuditLog(database)
    )
    for name, (role, password) in ACCOUNTS.items():
        context.operator_accounts.add(name, role, password, clock.timestamp())
    assets = Assets(database)
    model = MeterModel("M30", "Maker", "SM30", 30, "1P3W", ("mesh",), "spec", "single_electronic")
    assets.add_model(model)
    assets.receive_meters([(NEW_METER, "M30", None, "NEW1")], date(2026, 9, 1), "depot", 0.0)
    assets.certify(NEW_METER, "C-NEW1", date(2026, 9, 1), 0.0)
    supply_point_id = next(iter(registry.all_supply_point_ids().values()))
    key = registry.supply_point_key_of([supply_point_id])[supply_point_id]
    old = registry.current_meter(key)
    assert old is not None
    with serve(create_app(context)) as base:
        yield Site(base, context, clock, supply_point_id, old)


def _csrf(http: httpx.Client) -> dict[str, str]:
    page = http.get("/work-orders")
    assert page.status_code == 200
    found = re.search(r'id="api-csrf" data-token="([^"]+)"', page.text)
    assert found is not None
    return {"X-CSRF-Token": found.group(1)}


def test_callers_that_are_not_operators(site: Site) -> None:
    with httpx.Client(base_url=site.base) as anonymous:
        assert anonymous.get("/v1/work-orders").status_code == 401
        bearer = {"Authorization": "Bearer not-an-operator"}
        assert anonymous.post("/v1/work-orders", json={}, headers=bearer).status_code == 401
    with operator_client(site.base, "vera", ACCOUNTS["vera"][1]) as viewer:
        assert viewer.get("/v1/work-orders").status_code == 403
        assert viewer.get("/work-orders").status_code == 403
        assert 'href="/work-orders"' not in viewer.get("/").text


def test_exchange_through_the_api(site: Site) -> None:
    site.clock.set(datetime(2026, 11, 1, 2, 20, tzinfo=JST))  # ordered at 02:20
    with operator_client(site.base, "otto", ACCOUNTS["otto"][1]) as http:
        body = {"kind": "exchange", "supply_point_id": site.supply_point_id, "note": "検満"}
        refused = http.post("/v1/work-orders", json=body)
        assert (refused.status_code, refused.json()["code"]) == (403, "csrf_refused")
        csrf = _csrf(http)
        made = http.post("/v1/work-orders", json=body, headers=csrf)
        assert made.status_code == 201, made.text
        order_id = made.json()["work_order_id"]
        assert made.json()["old_meter_id"] == site.old_meter
        done_at = datetime(2026, 11, 1, 2, 30, tzinfo=JST)
        completion = {
            "completed_at": done_at.isoformat(),
            "new_meter_id": NEW_METER,
            "old_final_import_wh": 10**9,
            "new_initial_import_wh": 5,
        }
        early = http.post(f"/v1/work-orders/{order_id}/complete", json=completion, headers=csrf)
        assert (early.status_code, early.json()["code"]) == (409, "E_BAD_STEP")
        assigned = http.post(
            f"/v1/work-orders/{order_id}/assign", json={"assignee": "crew-3"}, headers=csrf
        )
        assert assigned.json()["state"] == "assigned"
        site.clock.set(datetime(2026, 11, 1, 2, 40, tzinfo=JST))  # done at 02:30
        backwards = {**completion, "old_final_import_wh": 0}
        low = http.post(f"/v1/work-orders/{order_id}/complete", json=backwards, headers=csrf)
        assert (low.status_code, low.json()["code"]) == (422, "E_READING_BACKWARDS")
        done = http.post(f"/v1/work-orders/{order_id}/complete", json=completion, headers=csrf)
        assert done.status_code == 200, done.text
        assert done.json()["state"] == "completed"
        one = http.get(f"/v1/work-orders/{order_id}").json()
        assert [s["state"] for s in one["steps"]] == ["requested", "assigned", "completed"]
        times = {t["kind"]: t for t in http.get("/v1/work-orders/lead-times").json()}
        assert times["exchange"]["completed"] == 1
    key = site.context.registry.supply_point_key_of([site.supply_point_id])[site.supply_point_id]
    assert site.context.registry.current_meter(key) == NEW_METER
    boundary = int(done_at.timestamp() // SLOT_SECONDS)
    read = site.context.mdms.current_reads(NEW_METER, boundary, boundary)
    assert read.column("import_register_wh").to_pylist() == [5]
    assert site.context.audit is not None
    actions = [(e.actor, e.action) for e in site.context.audit.entries()]
    assert ("otto", "work-order.completed") in actions


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "paint", "supply_point_id": "0" * 22},
        {"kind": "repair", "supply_point_id": "123"},
        {"kind": "repair"},
    ],
)
def test_bad_bodies(site: Site, body: dict[str, object]) -> None:
    with operator_client(site.base, "otto", ACCOUNTS["otto"][1]) as http:
        answer = http.post("/v1/work-orders", json=body, headers=_csrf(http))
        assert (answer.status_code, answer.json()["code"]) == (422, "invalid_request")


def test_unknown_order_and_page(site: Site) -> None:
    with operator_client(site.base, "otto", ACCOUNTS["otto"][1]) as http:
        missing = http.get("/v1/work-orders/424242")
        assert (missing.status_code, missing.json()["code"]) == (404, "E_UNKNOWN_WORK_ORDER")
        page = http.get("/work-orders?lang=ja")
        assert page.status_code == 200 and "工事・故障" in page.text
        assert 'href="/work-orders"' in page.text


def test_fault_ticket_to_repair_order(site: Site) -> None:
    from openami.hub.faults import fault_tickets_of

    registry = site.context.registry
    other = registry.current_meter(sorted(registry.all_supply_point_ids())[-1])
    assert other is not None and other != site.old_meter
    ticket = fault_tickets_of(site.context).on_fault_status(other, b"\x41")
    assert ticket is not None
    with operator_client(site.base, "vera", ACCOUNTS["vera"][1]) as viewer:
        assert viewer.get("/v1/fault-tickets").status_code == 403
    with operator_client(site.base, "otto", ACCOUNTS["otto"][1]) as http:
        listed = http.get("/v1/fault-tickets").json()
        assert [t["cause"] for t in listed if t["ticket_id"] == ticket.ticket_id] == [
            "self_diagnosis"
        ]
        url = f"/v1/fault-tickets/{ticket.ticket_id}/repair"
        assert http.post(url).status_code == 403  # no CSRF header
        made = http.post(url, headers=_csrf(http))
        assert made.status_code == 201, made.text
        assert (made.json()["kind"], made.json()["fault_ticket_id"]) == ("repair", ticket.ticket_id)
        again = http.post(url, headers=_csrf(http))
        assert (again.status_code, again.json()["code"]) == (409, "E_TICKET_HANDLED")
        page = http.get("/work-orders").text
        assert f'data-ticket="{ticket.ticket_id}"' in page


def test_supply_point_page_shows_the_certificate(site: Site) -> None:
    registry = site.context.registry
    keys = sorted(registry.all_supply_point_ids())
    meters = [registry.current_meter(k) for k in keys]
    key, meter = next(
        (k, m) for k, m in zip(keys, meters, strict=True)
        if m is not None and registry.certification_of(m) is None
    )  # fmt: skip
    sp_id = registry.supply_point_ids([key])[0]
    with operator_client(site.base, "otto", ACCOUNTS["otto"][1]) as http:
        before = http.get(f"/supply-points/{sp_id}").text
        assert "no certification record" in before
        assets = Assets(site.context.clients.database)
        if not assets.store.meters(meter_ids=[meter]):
            assets.receive_meters([(meter, "M30", None, f"S{meter}")], date(2016, 1, 1), "d", 0.0)
        assets.certify(meter, f"JEMIC-{meter}", date(2020, 6, 5), 0.0)
        after = http.get(f"/supply-points/{sp_id}").text
    assert f"JEMIC-{meter}" in after and "2030-06-30" in after
