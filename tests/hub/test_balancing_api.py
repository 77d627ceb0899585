"""``/v1/balancing-groups/{id}/…`` over real HTTP: a balancing group's client submits its
demand plan (JSON or CSV), reads it back with its history, and reads its imbalance; other
clients are refused (403 for non-group clients, 404 for another group's), bad and late
plans get their error codes and store nothing, and every request is audit-logged."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import httpx
import pyarrow as pa
from tests.hub.hubrig import SECRET, Rig, hub_rig

from openami.bus.messages import READ_SCHEMA
from openami.clock import day_first_slot
from openami.hub.ratelimit import RateLimiter
from openami.registry import BalancingGroup, Meter, Retailer, make_supply_point_id
from openami.storage.repositories.clients import ApiClient

DAY = date(2026, 11, 2)  # the rig's clock starts on 2026-11-01 00:00 JST
PLAN = "/v1/balancing-groups/BG1/plans/2026-11-02"


def bearer(http: httpx.Client, client_id: str) -> dict[str, str]:
    resp = http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, SECRET)
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def setup(rig: Rig) -> None:
    """Groups BG1 (retailer R001, two Tokyo points) and BG2, and a client for each."""
    registry = rig.context.registry
    registry.add_balancing_groups([BalancingGroup("BG1", "one"), BalancingGroup("BG2", "two")])
    registry.add_retailers([Retailer("R001", "r1", "BG1"), Retailer("R002", "r2", "BG2")])
    keys = registry.add_supply_points([make_supply_point_id("03", i) for i in (1, 2)])
    registry.add_meters(
        [Meter(10 + i, "M", f"S{i}", 30, "mesh", None, date(2030, 1, 1)) for i in range(2)]
    )
    registry.install_meters([(k, 10 + i) for i, k in enumerate(keys)], 0.0)
    registry.add_supply_contracts([(k, "R001", date(2026, 1, 1), None) for k in keys])
    for cid, group in (("bg1", "BG1"), ("bg2", "BG2")):
        rig.context.clients.register(ApiClient(cid, "balancing_group", group), SECRET)


def json_plan(kwh: list[float]) -> dict[str, Any]:
    return {
        "content": json.dumps({"unit": "kWh", "areas": {"03": kwh}}),
        "headers": {"Content-Type": "application/json"},
    }


def put(rig: Rig, client: str, plan: dict[str, Any], path: str = PLAN) -> httpx.Response:
    headers = {**bearer(rig.http, client), **plan["headers"]}
    return rig.http.put(path, content=plan["content"], headers=headers)


def test_submit_read_back_and_history() -> None:
    with hub_rig() as rig:
        setup(rig)
        first = put(rig, "bg1", json_plan([0.25] * 48))
        assert first.status_code == 200, first.text
        assert (first.json()["version"], first.json()["energy_kwh"]) == (1, 12.0)
        csv = "area_code,slot,energy_kwh\n" + "".join(f"03,{i},0.3\n" for i in range(1, 49))
        second = put(rig, "bg1", {"content": csv, "headers": {"Content-Type": "text/csv"}})
        assert second.status_code == 200 and second.json()["version"] == 2
        headers = bearer(rig.http, "bg1")
        plan = rig.http.get(PLAN, headers=headers).json()
        assert plan["version"] == 2 and plan["areas"]["03"] == [0.3] * 48
        old = rig.http.get(PLAN, params={"version": 1}, headers=headers).json()
        assert old["areas"]["03"] == [0.25] * 48
        assert rig.http.get(PLAN, params={"version": 3}, headers=headers).status_code == 404
        history = rig.http.get(PLAN + "/history", headers=headers).json()["submissions"]
        assert [(h["version"], h["content_type"], h["submitted_by"]) for h in history] == [
            (1, "application/json", "bg1"),
            (2, "text/csv", "bg1"),
        ]
        audited = [(e.actor, e.action, json.loads(e.detail)["status"]) for e in rig.audit_entries()]
        assert ("bg1", f"PUT {PLAN}", 200) in audited


def test_bad_plans_get_their_codes_and_store_nothing() -> None:
    with hub_rig() as rig:
        setup(rig)
        cases = [
            (json_plan([0.25] * 47), 422, "E_SLOT_COUNT"),
            (json_plan([0.25] * 49), 422, "E_SLOT_COUNT"),
            (json_plan([0.25] * 47 + [-1]), 422, "E_NEGATIVE"),
            ({"content": "x", "headers": {"Content-Type": "text/plain"}}, 415, None),
            ({"content": "a" * 70_000, "headers": {"Content-Type": "text/csv"}}, 413, None),
        ]
        for plan, status, code in cases:
            resp = put(rig, "bg1", plan)
            assert resp.status_code == status, resp.text
            assert code is None or resp.json()["code"] == code
        plan = rig.http.get(PLAN, headers=bearer(rig.http, "bg1")).json()
        assert plan["version"] == 0 and plan["areas"] == {}


def test_a_late_plan_is_refused() -> None:
    with hub_rig() as rig:
        setup(rig)
        assert put(rig, "bg1", json_plan([0.25] * 48)).status_code == 200
        rig.clock.advance(timedelta(days=1, hours=9))  # 2026-11-02 09:00: 00:00…10:00 closed (21)
        late = put(rig, "bg1", json_plan([0.5] * 48))
        assert late.status_code == 409 and late.json()["code"] == "E_GATE_CLOSED"
        ok = put(rig, "bg1", json_plan([0.25] * 21 + [0.5] * 27))
        assert ok.status_code == 200 and ok.json()["version"] == 2
        plan = rig.http.get(PLAN, headers=bearer(rig.http, "bg1")).json()
        assert plan["gate_closed_slots"] == 21


def test_only_the_groups_own_client() -> None:
    with hub_rig() as rig:
        setup(rig)
        other = put(rig, "bg2", json_plan([0.25] * 48))
        assert other.status_code == 404 and other.json()["code"] == "E_UNKNOWN_BALANCING_GROUP"
        retailer = put(rig, "r1", json_plan([0.25] * 48))
        assert retailer.status_code == 403 and retailer.json()["code"] == "E_NOT_BALANCING_GROUP"
        unknown = "/v1/balancing-groups/BG9/plans/2026-11-02"
        assert put(rig, "bg1", json_plan([0.25] * 48), unknown).status_code == 404
        for path in (PLAN, PLAN + "/history", "/v1/balancing-groups/BG1/imbalance"):
            params = {"date": "2026-11-02"}
            resp = rig.http.get(path, params=params, headers=bearer(rig.http, "bg2"))
            assert resp.status_code == 404, path
        assert rig.http.get(PLAN).status_code == 401
        assert rig.http.put(PLAN, content=b"{}").status_code == 401
        assert rig.http.get(PLAN, headers=bearer(rig.http, "bg1")).json()["version"] == 0


def test_imbalance_of_the_group() -> None:
    with hub_rig() as rig:
        setup(rig)
        assert put(rig, "bg1", json_plan([0.25] * 48)).status_code == 200
        headers = bearer(rig.http, "bg1")
        params = {"date": "2026-11-02"}
        url = "/v1/balancing-groups/BG1/imbalance"
        none = rig.http.get(url, params=params, headers=headers)
        assert none.status_code == 404 and none.json()["code"] == "E_NO_SETTLEMENT_RUN"
        b = day_first_slot(DAY)
        rows = [(10 + m, b + i, 1000 + i * 100 * (m + 1), 0) for m in (0, 1) for i in range(49)]
        rig.context.mdms.ingest(
            pa.table(
                {
                    "meter_id": [r[0] for r in rows],
                    "boundary": [r[1] for r in rows],
                    "import_register_wh": [r[2] for r in rows],
                    "export_register_wh": [r[3] for r in rows],
                    "received_at": [0.0] * len(rows),
                    "source": [0] * len(rows),
                },
                schema=READ_SCHEMA,
            )
        )
        rig.context.mdms.settle(DAY, estimate=False)
        body = rig.http.get(url, params=params, headers=headers).json()
        assert body["kind"] == "preliminary" and len(body["slots"]) == 48
        slot = body["slots"][0]
        # 100 + 200 Wh metered, Tokyo low voltage 6.9 %: 0.3 / 0.931 kWh against 0.25 kWh
        assert slot["metered_kwh"] == 0.3 and slot["plan_kwh"] == 0.25
        assert abs(slot["imbalance_kwh"] - (0.3 / 0.931 - 0.25)) < 1e-6
        bad = rig.http.get(url, params={**params, "kind": "draft"}, headers=headers)
        assert bad.status_code == 422 and bad.json()["code"] == "E_BAD_KIND"


def test_plan_submissions_are_rate_limited_and_a_refused_one_stores_nothing() -> None:
    limits = RateLimiter(rate_per_s=1.0, burst=2.0, token_rate_per_s=0.5, token_burst=4)
    with hub_rig(rate_limits=limits) as rig:
        setup(rig)
        headers = {**bearer(rig.http, "bg1"), "Content-Type": "application/json"}
        body = json.dumps({"unit": "kWh", "areas": {"03": [0.25] * 48}})
        codes = [rig.http.put(PLAN, content=body, headers=headers).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        rig.clock.advance(5.0)
        history = rig.http.get(PLAN + "/history", headers=headers).json()["submissions"]
        assert [h["version"] for h in history] == [1, 2]
