"""The DR page of the customer portal over real HTTP (issue #18 §3, §5): the events the
customer's points took part in, with the home's answer and the settlement of each point
(baseline, actual, reduction) from the one settlement of mdms/dr_settlement.py; another
customer's point or event is never shown (404 on the event page). The city is the dashboard
tests' (tests/web/conftest.py), the customers the portal tests'.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from tests.web.conftest import DAY2, DashboardWorld
from tests.web.test_portal import PortalWorld, customer_client, portal_world

from openami.clock import JST
from openami.dr.events import new_event
from openami.hub.dr_api import dr_store
from openami.storage.repositories.dr import DrEvent


@dataclass
class DrWorld:
    portal: PortalWorld
    event: DrEvent  # alice's first point opted in, bob's point opted out
    foreign: DrEvent  # bob's point only


@pytest.fixture(scope="module")
def drw(world: DashboardWorld) -> Iterator[DrWorld]:
    with portal_world(world) as portal:
        store = dr_store(portal.context)
        aggregator = f"AGG-{portal.alice.customer_id[-8:]}"
        vens = {}
        for name, sp in (("a", portal.alice.points[0]), ("b", portal.bob.points[0])):
            ven = store.enrol(
                f"{aggregator}-{name}", aggregator, sp, f"fp-{aggregator}-{name}", 0.0
            )
            vens[name] = ven.ven_id
        start_s = datetime(DAY2.year, DAY2.month, DAY2.day, 17, tzinfo=JST).timestamp()
        event = new_event(aggregator, "level", 2, start_s, 3600, 0.0, "test")
        store.create_event(event)
        store.record_opt(event.event_id, vens["a"], "optIn", start_s - 3600)
        store.record_opt(event.event_id, vens["b"], "optOut", start_s - 3600)
        foreign = new_event(aggregator, "target_w", 1500, start_s + 3600, 1800, 0.0, "test")
        store.create_event(foreign, [f"{aggregator}-b"])
        yield DrWorld(portal, event, foreign)


def test_events_of_the_customers_points_only(drw: DrWorld) -> None:
    portal = drw.portal
    mine, theirs = portal.alice.points[0], portal.bob.points[0]
    with customer_client(portal.base, portal.alice) as alice:
        page = alice.get("/my/dr")
        assert page.status_code == 200
        rows = re.findall(
            r'<tr data-event="([^"]+)" data-sp="([^"]+)" data-status="([a-z_]+)"', page.text
        )
        pairs = [(e, sp) for e, sp, _ in rows]  # (other modules may add events to the world)
        assert (drw.event.event_id, mine) in pairs and {sp for _, sp in pairs} == {mine}
        assert theirs not in page.text and drw.foreign.event_id not in page.text
        assert "took part" in alice.get("/my/dr?lang=en").text
        detail = alice.get(f"/my/dr/{drw.event.event_id}?sp={mine}")
        assert detail.status_code == 200
        assert 'data-points="' in detail.text and 'id="dr-units"' in detail.text
        assert detail.text.count('<tr><th scope="row">') == 2  # 17:00 and 17:30
        for path in (
            f"/my/dr/{drw.event.event_id}?sp={theirs}",
            f"/my/dr/{drw.foreign.event_id}?sp={theirs}",
            f"/my/dr/{drw.foreign.event_id}?sp={mine}",
            f"/my/dr/dr-0000000000000000?sp={mine}",
        ):
            assert alice.get(path).status_code == 404, path
        ja = alice.get("/my/dr?lang=ja")
        assert "デマンドレスポンス" in ja.text and "参加" in ja.text
    with customer_client(portal.base, portal.bob) as bob:
        events = re.findall(r'<tr data-event="([^"]+)"', bob.get("/my/dr").text)
        assert sorted(events) == sorted([drw.event.event_id, drw.foreign.event_id])
    audit = portal.context.audit
    assert audit is not None
    assert any(
        e.actor == f"customer:{portal.alice.customer_id}" and e.action.startswith("read portal dr")
        for e in audit.entries()
    )
