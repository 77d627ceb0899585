"""``GET /v1/dr/events/{id}/results`` over real HTTP: only the aggregator that created the
event, only customers whose half-hour values it may read (live consent covering
``half_hour`` on the event day), 401/403/404/422 otherwise, every customer read audited."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from tests.hub.cityworld import DAY2
from tests.hub.hubrig import hub_rig
from tests.hub.test_oauth_flow import REDIRECT, Setup, bearer, cc_token, consented

from openami.clock import JST
from openami.dr.events import new_event
from openami.hub.context import HubContext
from openami.hub.dr_api import dr_store
from openami.hub.oauth import register_third_party
from openami.hub.oauth_grants import consent_store
from openami.registry import make_supply_point_id
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.dr import DrEvent


@dataclass
class Dr:
    s: Setup
    event: DrEvent
    others_event: DrEvent
    context: HubContext

    @property
    def audit(self) -> AuditLog:
        assert self.context.audit is not None
        return self.context.audit

    def results(self, token: str | None, event_id: str | None = None) -> httpx.Response:
        headers = bearer(token) if token else {}
        path = f"/v1/dr/events/{event_id or self.event.event_id}/results"
        return self.s.http.get(path, headers=headers)


@pytest.fixture(scope="module")
def dr() -> Iterator[Dr]:
    with hub_rig(rate_limits=None) as rig:  # a bare hub: no city, no values needed here
        context = rig.context
        ids = [make_supply_point_id("03", 900 + i) for i in range(4)]
        keys = context.registry.add_supply_points(ids)
        tp = ("tp-energy-app", secrets.token_urlsafe(24))
        other = ("tp-other-app", secrets.token_urlsafe(24))
        register_third_party(context, *tp, "ENERGY-APP", [REDIRECT])
        register_third_party(context, *other, "OTHER-APP", [REDIRECT])
        customer = ("customer-0001", secrets.token_urlsafe(16))
        consent_store(context).add_customer(customer[0], customer[1], [keys[1], keys[2]])
        s = Setup(None, tp, other, customer, [ids[1], ids[2]], ids[3], rig.http)  # type: ignore[arg-type]
        store = dr_store(context)
        now = time.time()
        for name, point in (("home-a", ids[1]), ("home-b", ids[2]), ("home-c", ids[3])):
            store.enrol(name, "ENERGY-APP", point, f"fp-{name}", now)  # home-c: not the customer's
        store.enrol("home-d", "OTHER-APP", ids[1], "fp-d", now)
        start_s = datetime(DAY2.year, DAY2.month, DAY2.day, 17, tzinfo=JST).timestamp()
        event = new_event("ENERGY-APP", "level", 2, start_s, 3600, 0.0, "test")
        store.create_event(event)
        venue = {v.ven_name: v.ven_id for v in store.vens_of("ENERGY-APP")}
        store.record_opt(event.event_id, venue["home-a"], "optIn", now)
        store.record_opt(event.event_id, venue["home-b"], "optOut", now)
        others = new_event("OTHER-APP", "target_w", 1500, start_s, 1800, 0.0, "test")
        store.create_event(others)
        yield Dr(s, event, others, context)


def test_consented_customers_only(dr: Dr) -> None:
    s = dr.s
    _, token = consented(s)  # both of the customer's points, half_hour included
    resp = dr.results(token["access_token"])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["customers_total"], body["customers_visible"]) == (3, 2)
    by_point = {c["supply_point_id"]: c for c in body["customers"]}
    assert set(by_point) == set(s.customer_points)  # never the foreign point
    assert by_point[s.customer_points[0]]["opt"] == "optIn"
    assert by_point[s.customer_points[1]]["opt"] == "optOut"
    # no values in this hub: no baseline, nothing credited (values: test_dr_settlement.py)
    assert {c["status"] for c in body["customers"]} == {"insufficient_days"}
    assert body["reduction_kwh"] == 0.0
    units = by_point[s.customer_points[0]]["units"]
    assert [u["slot_start"][11:16] for u in units] == ["17:00", "17:30"]
    assert all(u["actual_wh"] is None and u["baseline_wh"] is None for u in units)
    # one consent for one point opens that point only
    _, one = consented(s, supply_point_ids=[s.customer_points[1]])
    assert [c["supply_point_id"] for c in dr.results(one["access_token"]).json()["customers"]] == [
        s.customer_points[1]
    ]
    reads = [
        e for e in dr.audit.entries() if e.kind == "read" and e.action.startswith("read dr results")
    ]
    assert {e.subject for e in reads} >= set(s.customer_points)
    assert s.foreign_point not in {e.subject for e in reads}


def test_refusals(dr: Dr) -> None:
    s = dr.s
    assert dr.results(None).status_code == 401
    no_consent = dr.results(cc_token(s.http, s.tp))
    assert no_consent.status_code == 403
    assert no_consent.json()["code"] == "no_visible_customer"
    _, daily = consented(s, data_kinds=["daily"])  # does not cover half-hour values
    assert dr.results(daily["access_token"]).status_code == 403
    _, token = consented(s)
    access_token = token["access_token"]
    # another aggregator's event and an unknown event look the same
    for event_id in (dr.others_event.event_id, "dr-0000000000000000"):
        resp = dr.results(access_token, event_id)
        assert resp.status_code == 404 and resp.json()["code"] == "unknown_event"
    for bad in ("nope", "dr-XYZ", "dr-" + "0" * 40):
        assert dr.results(access_token, bad).status_code == 422
    # the other aggregator sees its own event only, and only with a consent
    assert dr.results(cc_token(s.http, s.other_tp), dr.others_event.event_id).status_code == 403
    assert dr.results(cc_token(s.http, s.other_tp)).status_code == 404


def test_create_events_over_the_api(dr: Dr) -> None:
    s = dr.s
    token = cc_token(s.http, s.tp)
    start = datetime.fromtimestamp(time.time() // 1800 * 1800 + 7200, JST)
    if start.hour >= 22:
        start = start.replace(hour=9, minute=0) + timedelta(days=1)
    body = {"signal": "target_w", "value": 1500, "start": start.isoformat(), "minutes": 60}
    resp = s.http.post("/v1/dr/events", json=body, headers=bearer(token))
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert created["vens"] == 3 and created["status"] == "pending"
    stored = dr_store(dr.context).event(created["event_id"])
    assert stored is not None and stored.aggregator_id == "ENERGY-APP"
    assert resp.headers["location"] == f"/v1/dr/events/{created['event_id']}/results"
    refusals = [
        ({**body, "minutes": 45}, "invalid_event"),
        ({**body, "start": "2020-01-01T13:00:00+09:00"}, "invalid_event"),
        ({**body, "signal": "level", "value": 7}, "invalid_event"),
        ({**body, "ven_names": ["home-d"]}, "unknown_ven"),  # another aggregator's VEN
    ]
    before = len(dr_store(dr.context).events())
    for bad, code in refusals:
        refused = s.http.post("/v1/dr/events", json=bad, headers=bearer(token))
        assert refused.status_code == 422 and refused.json()["code"] == code, refused.text
    assert s.http.post("/v1/dr/events", json=body).status_code == 401
    assert len(dr_store(dr.context).events()) == before
