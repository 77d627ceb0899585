"""Delivery SLO: per slot latency from slot end to availability on the hub, completeness at
+60 min, +24 h and final, with a known outage that backfill repairs later."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from tests.hub.test_requests import Rig, make_rig

from openami.clock import JST, day_first_slot
from openami.hub.slo import slot_slo, summary
from openami.network import Outage
from openami.storage.repositories.clients import ApiClient

DAY1 = date(2026, 11, 1)


def at(day: date, hour: int, minute: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=JST).timestamp()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from make_rig(tmp_path)


def test_slot_latency_and_completeness(rig: Rig) -> None:
    n = len(rig.city.supply_point_keys)
    dark = np.array([0, 1], dtype=np.int64)  # unreachable 10:30-11:30: reads at 10:30, 11:00 fail
    rig.city.network.add_outage(Outage(dark, at(DAY1, 10, 30), at(DAY1, 11, 30)))
    first = day_first_slot(DAY1)
    # at 11:20: the 10:00 slot is not yet 60 min past its end, so +60 min is open
    rig.sim.run_until(at(DAY1, 11, 20))
    early = {r.slot: r for r in slot_slo(rig.context.mdms, first, first + 47)}
    s1000 = first + 20  # needs the read at 10:30
    assert early[s1000].complete_60min is None and early[s1000].measured_now == n - 2
    assert early[first + 19].complete_60min == 1.0
    assert early[first + 40].expected == n and early[first + 40].measured_now == 0

    rig.sim.run_until(at(DAY1 + timedelta(days=1), 12))
    rows = {r.slot: r for r in slot_slo(rig.context.mdms, first, first + 47)}
    assert all(r.expected == n for r in rows.values())
    ordinary = rows[first + 10]  # 05:00-05:30: every value within one 5-minute tick
    assert ordinary.complete_60min == 1.0 and ordinary.complete_24h == 1.0
    assert ordinary.latency_max_s is not None and 0 < ordinary.latency_max_s <= 300
    # 11:00-11:30 lacks the 11:00 read too, but backfill at 12:05 is within its 60 minutes
    assert rows[first + 22].complete_60min == 1.0
    assert rows[first + 22].latency_max_s is not None and rows[first + 22].latency_max_s > 1800
    for s in (first + 20, first + 21):  # 10:00, 10:30: filled after more than 60 minutes
        r = rows[s]
        assert r.complete_60min == pytest.approx((n - 2) / n)
        assert r.complete_24h == 1.0 and r.complete_now == 1.0  # backfill (every 6 h) fixed it
        assert r.latency_max_s is not None and 3600 < r.latency_max_s <= 6 * 3600
        assert r.latency_p50_s is not None and r.latency_p50_s <= 300
    late = rows[first + 47]  # 23:30: its +24 h lies ahead
    assert late.complete_60min == 1.0 and late.complete_24h is None
    assert not any(r.final for r in rows.values())
    total = summary(list(rows.values()))
    # 2 of 12 late is more than 5 %: those two slots miss the p95 <= 60 min target
    assert total.slots == 48 and total.slots_meeting_target == 46
    assert total.worst_latency_p95_s is not None and total.worst_latency_p95_s > 3600

    # final: once the day is declared final, its slots say so
    rig.context.mdms.finalize(first, first + 47, "operator")
    assert all(r.final for r in slot_slo(rig.context.mdms, first, first + 47))

    # the same figures on the API, for operator clients (fleet-wide: see test_slo_api)
    rig.context.clients.register(ApiClient("ops", "operator", "OPS"), "ops-secret-for-tests")
    rig.secrets["OPS"] = ("ops", "ops-secret-for-tests")
    retailer = "OPS"
    resp = rig.http.get(
        "/v1/slo/delivery", params={"first_day": "2026-11-01"}, headers=rig.token(retailer)
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(body["slots"]) == 48 and body["slots"][20]["slot_start"].endswith("10:00:00+09:00")
    assert body["slots"][20]["complete_60min"] == pytest.approx((n - 2) / n)
    assert body["slots"][20]["final"] is True
    bad = rig.http.get(
        "/v1/slo/delivery",
        params={"first_day": "2026-11-01", "last_day": "2026-12-31"},
        headers=rig.token(retailer),
    )
    assert bad.status_code == 422 and bad.json()["code"] == "E_BAD_PERIOD"
    assert rig.http.get("/v1/slo/delivery", params={"first_day": "2026-11-01"}).status_code == 401
