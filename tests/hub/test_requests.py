"""Retailer requests over HTTP: a disconnect travels hub → HES → meter and back to completed;
invalid requests get specific error codes; registry membership follows effective dates."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from tests.httpserver import serve
from tests.hub.city_rig import DAY1, PERFECT, perfect_city

from openami.clock import JST, ManualClock, jst_day_start_s
from openami.hes.command_port import HesCommandPort
from openami.hub.context import HubContext
from openami.hub.requests_workers import attach_workers
from openami.hub.webhooks import WebhookConfig, webhook_service
from openami.network import NetworkModel
from openami.registry import Registry
from openami.sim import City, CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.clients import ApiClient, ClientStore


@dataclass
class Rig:
    city: City
    sim: Simulation
    registry: Registry
    context: HubContext
    http: httpx.Client
    secrets: dict[str, tuple[str, str]]

    def token(self, retailer_id: str) -> dict[str, str]:
        resp = self.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=self.secrets[retailer_id],
        )
        assert resp.status_code == 200, resp.text
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def make_rig(tmp: Path) -> Iterator[Rig]:
    from openami.web.app import create_app

    parts = perfect_city(tmp, meters=12, seed=5)
    registry, city, clock, sim = parts.registry, parts.city, parts.clock, parts.sim
    clients, secrets = parts.clients, parts.secrets
    context = HubContext(
        registry,
        sim.mdms,
        clients,
        clock,
        "operator",
        "operator-test-pw",
        rate_limits=None,
        command_port=HesCommandPort(sim.hes),
        bus=sim.bus,
    )
    # the test's webhook subscribers listen on loopback
    webhook_service(context, WebhookConfig(allow_private=True))
    attach_workers(context, sim.after_tick)
    sim.run_until(datetime(2026, 11, 1, 10, tzinfo=JST).timestamp())
    with serve(create_app(context)) as base, httpx.Client(base_url=base, timeout=10) as http:
        yield Rig(city, sim, registry, context, http, secrets)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from make_rig(tmp_path)


def post(rig: Rig, retailer: str, **body: object) -> httpx.Response:
    return rig.http.post("/v1/retailer-requests", json=body, headers=rig.token(retailer))


DAY4 = date(2026, 11, 4)  # the first day a disconnect or switch filed on DAY1 may take effect


def authorise(rig: Rig, pos: int, retailer: str, day: date) -> str:
    """The customer at ``pos`` authorises ``retailer`` to take over from ``day``."""
    from openami.hub.oauth_grants import consent_store

    customer, password = f"cust-{pos}", f"customer-password-{pos}"
    store = consent_store(rig.context)
    if not store.customer_points(customer):
        store.add_customer(customer, password, [rig.city.supply_point_keys[pos]])
    resp = rig.http.post(
        "/v1/customer/switch-authorisations",
        json={
            "retailer_id": retailer,
            "supply_point_id": rig.city.supply_point_ids[pos],
            "effective_date": day.isoformat(),
        },
        auth=(customer, password),
        headers={"X-Requested-With": "tests"},
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["authorisation_id"])


def test_disconnect_travels_to_the_meter_and_back(rig: Rig) -> None:
    pos = 3
    sp, key = rig.city.supply_point_ids[pos], rig.city.supply_point_keys[pos]
    owner = rig.registry.retailer_on(key, DAY1)
    assert owner is not None and rig.city.fleet.switch_connected[pos]
    resp = post(rig, owner, kind="disconnect", supply_point_id=sp, effective_date="2026-11-04")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    # after the notice period: accepted, and handed to the HES on its day
    assert body["status"] == "accepted" and body["command_id"] is None
    assert [h["status"] for h in body["history"]] == ["received", "accepted"]
    assert len(rig.sim.hes.commands) == 0
    # registry membership changes from the effective date on
    assert rig.registry.retailer_on(key, DAY4) is None
    assert rig.registry.retailer_on(key, DAY4 - timedelta(days=1)) == owner

    rig.sim.run_until(jst_day_start_s(DAY4) + 900)
    got = rig.http.get(f"/v1/retailer-requests/{body['request_id']}", headers=rig.token(owner))
    assert got.status_code == 200
    done = got.json()
    assert done["status"] == "completed", done
    assert done["command_id"] is not None
    assert [h["status"] for h in done["history"]] == [
        "received",
        "accepted",
        "scheduled",
        "completed",
    ]
    assert not rig.city.fleet.switch_connected[pos]  # the meter's switch is open
    assert rig.city.fleet.switch_connected[[p for p in range(12) if p != pos]].all()

    # disconnecting again: a specific code, and the rejection is on record
    again = post(rig, owner, kind="disconnect", supply_point_id=sp, effective_date="2026-11-07")
    assert again.status_code == 409 and again.json()["code"] == "E_ALREADY_DISCONNECTED"
    rid = again.json()["request_id"]
    rec = rig.http.get(f"/v1/retailer-requests/{rid}", headers=rig.token(owner)).json()
    assert rec["status"] == "rejected" and rec["error_code"] == "E_ALREADY_DISCONNECTED"

    # 再点 from tomorrow by another retailer: accepted now, a command only on that day
    other = next(r for r in rig.secrets if r != owner)
    unauthorised = post(
        rig, other, kind="reconnect", supply_point_id=sp, effective_date="2026-11-05"
    )
    assert unauthorised.json()["code"] == "E_NO_AUTHORISATION"  # a new contract needs the customer
    auth = authorise(rig, pos, other, date(2026, 11, 5))
    re = post(
        rig,
        other,
        kind="reconnect",
        supply_point_id=sp,
        effective_date="2026-11-05",
        authorisation_id=auth,
    )
    assert re.status_code == 201 and re.json()["status"] == "accepted"
    assert rig.registry.retailer_on(key, date(2026, 11, 5)) == other
    rig.sim.run_until(jst_day_start_s(date(2026, 11, 5)) + 900)
    final = rig.http.get(
        f"/v1/retailer-requests/{re.json()['request_id']}", headers=rig.token(other)
    )
    assert final.json()["status"] == "completed"
    assert rig.city.fleet.switch_connected[pos]


def test_invalid_requests_get_specific_codes(rig: Rig) -> None:
    sp, key = rig.city.supply_point_ids[0], rig.city.supply_point_keys[0]
    owner = rig.registry.retailer_on(key, DAY1)
    assert owner is not None
    other = next(r for r in rig.secrets if r != owner)
    cases = [
        (other, {"kind": "disconnect"}, 403, "E_NOT_SUPPLIER"),
        (owner, {"kind": "disconnect", "effective_date": "2026-10-31"}, 422, "E_DATE_IN_PAST"),
        (owner, {"kind": "ampere_change", "amperage_a": 35}, 422, "E_UNSUPPORTED_AMPERAGE"),
        (owner, {"kind": "ampere_change"}, 422, "E_AMPERAGE_REQUIRED"),
        (owner, {"kind": "switch_start"}, 409, "E_ALREADY_SUPPLIER"),
        (other, {"kind": "reconnect"}, 409, "E_SUPPLIED_BY_OTHER"),
        (owner, {"kind": "teleport"}, 422, "E_UNKNOWN_KIND"),
        (owner, {"kind": "disconnect", "supply_point_id": "123"}, 422, "E_INVALID_SUPPLY_POINT"),
        # an unknown point is answered like another retailer's (no enumeration of IDs)
        (
            owner,
            {"kind": "disconnect", "supply_point_id": "0300000000999999999910"},
            403,
            "E_NOT_SUPPLIER",
        ),
    ]
    for retailer, extra, status, code in cases:
        body = {"supply_point_id": sp, "effective_date": "2026-11-05", **extra}
        resp = post(rig, retailer, **body)
        assert (resp.status_code, resp.json()["code"]) == (status, code), (extra, resp.text)
    unknown = {"supply_point_id": "0300000000999999999910", "effective_date": "2026-11-05"}
    for kind in ("disconnect", "ampere_change"):
        foreign = post(
            rig, other, kind=kind, supply_point_id=sp, effective_date="2026-11-05", amperage_a=60
        )
        missing = post(rig, other, kind=kind, amperage_a=60, **unknown)
        same = ("code", "message")
        assert foreign.status_code == missing.status_code == 403
        assert {k: foreign.json()[k] for k in same} == {k: missing.json()[k] for k in same}
    # the registry is untouched by rejected requests
    assert rig.registry.retailer_on(key, date(2026, 11, 5)) == owner

    # an ampere change for a later day, then a second request while it is open
    amps = 60 if rig.city.fleet.contract_amperage_a[0] != 60 else 40
    ok = post(
        rig,
        owner,
        kind="ampere_change",
        supply_point_id=sp,
        effective_date="2026-11-02",
        amperage_a=amps,
    )
    assert ok.status_code == 201 and ok.json()["status"] == "accepted"
    clash = post(rig, owner, kind="disconnect", supply_point_id=sp, effective_date="2026-11-05")
    assert clash.status_code == 409 and clash.json()["code"] == "E_CONFLICTING_REQUEST"
    # switching start by another retailer: ends the old contract, starts the new one
    sp1, key1 = rig.city.supply_point_ids[1], rig.city.supply_point_keys[1]
    old = rig.registry.retailer_on(key1, DAY1)
    new = next(r for r in rig.secrets if r != old)
    auth = authorise(rig, 1, new, DAY4)
    sw = post(
        rig,
        new,
        kind="switch_start",
        supply_point_id=sp1,
        effective_date="2026-11-04",
        authorisation_id=auth,
    )
    assert sw.status_code == 201, sw.text
    assert rig.registry.retailer_on(key1, DAY4 - timedelta(days=1)) == old
    assert rig.registry.retailer_on(key1, DAY4) == new
    rig.sim.run_until(jst_day_start_s(DAY4) + 900)
    h = rig.token(owner)
    assert (
        rig.http.get(f"/v1/retailer-requests/{ok.json()['request_id']}", headers=h).json()["status"]
        == "completed"
    )
    assert rig.city.fleet.contract_amperage_a[0] == amps
    meters = rig.registry.meters_table().to_pydict()
    assert meters["contract_amperage_a"][meters["meter_id"].index(1)] == amps
    listed = rig.http.get("/v1/retailer-requests", headers=rig.token(new)).json()["requests"]
    switches = [r for r in listed if r["kind"] == "switch_start" and r["status"] != "rejected"]
    assert [r["status"] for r in switches] == ["completed"]  # the switching reading came back
    # someone else's request is invisible
    assert (
        rig.http.get(
            f"/v1/retailer-requests/{ok.json()['request_id']}", headers=rig.token(new)
        ).status_code
        == 404
    )


def test_unreachable_meter_fails_with_a_code(rig: Rig) -> None:
    from openami.network import Outage

    pos = 6
    sp, key = rig.city.supply_point_ids[pos], rig.city.supply_point_keys[pos]
    owner = rig.registry.retailer_on(key, DAY1)
    assert owner is not None
    resp = post(rig, owner, kind="disconnect", supply_point_id=sp, effective_date="2026-11-04")
    assert resp.status_code == 201 and resp.json()["status"] == "accepted"
    rig.sim.run_until(jst_day_start_s(DAY4) - 600)
    now = rig.context.clock.timestamp()
    rig.city.network.add_outage(Outage(np.array([pos], dtype=np.int64), now, now + 3 * 3600))
    rig.sim.run_until(now + 1800)
    url = f"/v1/retailer-requests/{resp.json()['request_id']}"
    assert rig.http.get(url, headers=rig.token(owner)).json()["status"] == "scheduled"
    rig.sim.run_until(now + 2 * 3600)  # the HES gives up after its one-hour timeout
    body = rig.http.get(url, headers=rig.token(owner)).json()
    assert (body["status"], body["error_code"]) == ("failed", "E_METER_TIMEOUT")
    assert rig.city.fleet.switch_connected[pos]  # nothing happened at the meter


def test_cancel_takes_the_registry_change_back(rig: Rig) -> None:
    day2, later = DAY4, date(2026, 11, 20)
    sp, key = rig.city.supply_point_ids[2], rig.city.supply_point_keys[2]
    owner = rig.registry.retailer_on(key, DAY1)
    assert owner is not None
    new = next(r for r in rig.secrets if r != owner)
    auth = authorise(rig, 2, new, DAY4)
    sw = post(
        rig,
        new,
        kind="switch_start",
        supply_point_id=sp,
        effective_date="2026-11-04",
        authorisation_id=auth,
    )
    assert sw.status_code == 201 and rig.registry.retailer_on(key, later) == new
    rid = sw.json()["request_id"]
    assert (
        rig.http.post(f"/v1/retailer-requests/{rid}/cancel", headers=rig.token(owner)).json()[
            "code"
        ]
        == "E_UNKNOWN_REQUEST"
    )  # only the requester may withdraw it
    done = rig.http.post(f"/v1/retailer-requests/{rid}/cancel", headers=rig.token(new))
    assert done.status_code == 200 and done.json()["status"] == "cancelled"
    assert [h["status"] for h in done.json()["history"]] == ["received", "accepted", "cancelled"]
    assert rig.registry.retailer_on(key, day2) == owner  # the old contract runs on, open-ended
    assert rig.registry.retailer_on(key, later) == owner
    again = rig.http.post(f"/v1/retailer-requests/{rid}/cancel", headers=rig.token(new))
    assert again.status_code == 409 and again.json()["code"] == "E_NOT_CANCELLABLE"

    # a disconnect withdrawn before its day: the contract is whole again, no command is sent
    cut = post(rig, owner, kind="disconnect", supply_point_id=sp, effective_date="2026-11-04")
    assert cut.status_code == 201 and rig.registry.retailer_on(key, day2) is None
    cid = cut.json()["request_id"]
    assert (
        rig.http.post(f"/v1/retailer-requests/{cid}/cancel", headers=rig.token(owner)).status_code
        == 200
    )
    assert rig.registry.retailer_on(key, later) == owner
    rig.sim.run_until(jst_day_start_s(day2) + 900)
    assert rig.city.fleet.switch_connected[2]
    status = rig.http.get(f"/v1/retailer-requests/{cid}", headers=rig.token(owner)).json()
    assert status["status"] == "cancelled" and status["command_id"] is None


def test_reconcile_concludes_what_the_hub_missed_while_it_was_down(tmp_path: Path) -> None:
    """The hub schedules commands, goes away (nobody listens on hes.commands) while the HES
    concludes them, and on its next start completes or fails them from the port's outcomes;
    a command still queued stays scheduled."""
    from openami.hub.requests import RequestService, request_service
    from openami.network import Outage

    database = open_database(tmp_path / "registry.sqlite")
    registry = Registry(database)
    city = build_city(CityConfig(meters=12, seed=5, start_day=DAY1), registry)
    city.network = NetworkModel(
        city.fleet.meter_ids,
        city.method_codes,
        seed=5,
        params=dict.fromkeys(("mesh", "cellular", "plc"), PERFECT),
    )
    clock = ManualClock(datetime(2026, 11, 1, 9, tzinfo=JST))
    sim = Simulation.create(city, DuckIntervalStore(tmp_path / "interval.duckdb"), clock)
    sim.run_until(clock.timestamp() + 600)
    down = HubContext(
        registry,
        sim.mdms,
        ClientStore(database),
        clock,
        "operator",
        "operator-test-pw",
        command_port=HesCommandPort(sim.hes),
    )  # no bus: outcomes published now reach nobody
    service = RequestService(down)
    unreachable = 7
    ids = {}
    for pos in (3, unreachable):
        owner = registry.retailer_on(city.supply_point_keys[pos], DAY1)
        assert owner is not None
        row = service.submit(
            ApiClient(f"c-{owner}", "retailer", owner),
            "disconnect",
            city.supply_point_ids[pos],
            DAY4,
        )
        ids[pos] = row.request_id
    sim.run_until(jst_day_start_s(DAY4) + 60)
    now = clock.timestamp()
    city.network.add_outage(Outage(np.array([unreachable]), now, now + 6 * 3600))
    assert service.tick(now) == 2
    assert {service.store.request(r).status for r in ids.values()} == {"scheduled"}  # type: ignore[union-attr]
    assert service.reconcile() == 0  # both commands still queued
    sim.run_until(now + 900)  # the reachable meter confirms, nobody hears it
    assert service.store.request(ids[3]).status == "scheduled"  # type: ignore[union-attr]

    up = dataclasses.replace(down, bus=sim.bus, services={})
    restarted = request_service(up)  # reconciles at start
    done = restarted.store.request(ids[3])
    assert done is not None and done.status == "completed"
    assert restarted.store.request(ids[unreachable]).status == "scheduled"  # type: ignore[union-attr]
    assert [h[0] for h in restarted.store.history(ids[3])] == [
        "received",
        "accepted",
        "scheduled",
        "completed",
    ]
    sim.run_until(now + 2 * 3600)  # the timeout arrives on the bus: the handler fails it
    failed = restarted.store.request(ids[unreachable])
    assert failed is not None and (failed.status, failed.error_code) == (
        "failed",
        "E_METER_TIMEOUT",
    )
    assert restarted.reconcile() == 0  # nothing concluded twice
    assert len(restarted.store.history(ids[3])) == 4
