"""``GET /v1/dr/events/{id}/results`` over real HTTP: only the aggregator that created the
event, only customers whose half-hour values it may read (live consent covering
``half_hour`` on the event day), 401/403/404/422 otherwise, every customer read audited."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from tests.hub.cityworld import DAY2
from tests.hub.test_oauth_flow import Setup, bearer, cc_token, consented, served

from openami.clock import JST
from openami.dr.events import new_event
from openami.hub.dr_api import dr_store
from openami.storage.repositories.dr import DrEvent


@dataclass
class Dr:
    s: Setup
    event: DrEvent
    others_event: DrEvent

    def results(self, token: str | None, event_id: str | None = None) -> httpx.Response:
        headers = bearer(token) if token else {}
        path = f"/v1/dr/events/{event_id or self.event.event_id}/results"
        return self.s.http.get(path, headers=headers)


@pytest.fixture(scope="module")
def dr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dr]:
    with served(Path(tmp_path_factory.mktemp("dr"))) as s:
        store = dr_store(s.world.context)
        now = time.time()
        points = {"home-a": s.customer_points[0], "home-b": s.customer_points[1]}
        for name, point in points.items():
            store.enrol(name, "ENERGY-APP", point, f"fp-{name}", now)
        store.enrol("home-c", "ENERGY-APP", s.foreign_point, "fp-c", now)  # not the customer's
        store.enrol("home-d", "OTHER-APP", s.customer_points[0], "fp-d", now)
        start_s = datetime(DAY2.year, DAY2.month, DAY2.day, 17, tzinfo=JST).timestamp()
        event = new_event("ENERGY-APP", "level", 2, start_s, 3600, 0.0, "test")
        store.create_event(event)
        venue = {v.ven_name: v.ven_id for v in store.vens_of("ENERGY-APP")}
        store.record_opt(event.event_id, venue["home-a"], "optIn", now)
        store.record_opt(event.event_id, venue["home-b"], "optOut", now)
        others = new_event("OTHER-APP", "target_w", 1500, start_s, 1800, 0.0, "test")
        store.create_event(others)
        yield Dr(s, event, others)


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
    # a two-day world has no 5 earlier weekdays: no baseline, nothing credited
    assert {c["status"] for c in body["customers"]} == {"insufficient_days"}
    assert body["reduction_kwh"] == 0.0
    units = by_point[s.customer_points[0]]["units"]
    assert [u["slot_start"][11:16] for u in units] == ["17:00", "17:30"]
    assert all(u["actual_wh"] is not None and u["baseline_wh"] is None for u in units)
    # one consent for one point opens that point only
    _, one = consented(s, supply_point_ids=[s.customer_points[1]])
    assert [c["supply_point_id"] for c in dr.results(one["access_token"]).json()["customers"]] == [
        s.customer_points[1]
    ]
    reads = [
        e
        for e in s.world.context.audit.entries()  # type: ignore[union-attr]
        if e.kind == "read" and e.action.startswith("read dr results")
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
