"""Completeness against targets on a hand-made day: 5 values arrive two days late."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest
from tests.mdms.vee_world import B0, DAY, make_mdms, reads

from openami.clock import ManualClock
from openami.mdms import Mdms
from openami.mdms.completeness import _area_reading_targets, load_area_targets


def test_late_values_count_at_the_right_horizons() -> None:
    base = make_mdms()
    clock = ManualClock(datetime(2026, 10, 31, tzinfo=UTC))
    mdms = Mdms(base.store, base.registry, clock)
    late = {20, 21, 22, 23}  # reads of 10:00-11:30 JST: slots 19-23 wait for them
    for b in range(49):
        if b in late:
            continue
        clock.set_timestamp((B0 + b) * 1800.0 + 600)  # 10 minutes after the boundary
        mdms.ingest(reads([(b, 1000 + 100 * b, 0)]))
    clock.set_timestamp((B0 + 48) * 1800.0 + 2 * 86_400)  # two days later
    mdms.ingest(reads([(b, 1000 + 100 * b, 0) for b in sorted(late)]))
    targets = {"available_60min": 0.9, "available_4d": 0.999, "reading_rate": 1.0}
    rows = {r["area_code"]: r for r in mdms.completeness(DAY, targets).to_pylist()}
    assert set(rows) == {"03", "all"}
    r = rows["all"]
    assert (r["points"], r["expected_values"]) == (1, 48)
    assert r["available_60min"] == r["available_24h"] == 43 / 48
    assert r["available_4d"] == 1.0 and r["reading_rate"] == 1.0
    assert (r["available_60min_met"], r["available_4d_met"], r["reading_rate_met"]) == (
        False,
        True,
        True,
    )
    assert r["available_24h_target"] is None and r["available_24h_met"] is None


def test_reading_rate_is_held_to_each_areas_automatic_reading_target() -> None:
    targets = load_area_targets()
    assert targets["01"] == 0.90 and targets["03"] == 0.99 and targets["09"] == 0.95
    assert len(targets) == 10
    base = make_mdms()
    clock = ManualClock(datetime(2026, 10, 31, tzinfo=UTC))
    mdms = Mdms(base.store, base.registry, clock)
    for b in range(49):
        if b != 30:  # one read missing: 2 values missing, the day is incomplete
            mdms.ingest(reads([(b, 1000 + 100 * b, 0)]))
    rows = {r["area_code"]: r for r in mdms.completeness(DAY).to_pylist()}
    assert rows["03"]["reading_rate"] == 0.0
    assert rows["03"]["reading_rate_target"] == 0.99  # Tokyo, from the seed table
    assert rows["all"]["reading_rate_target"] == 0.99
    assert rows["03"]["reading_rate_met"] is False
    assert rows["03"]["available_60min_target"] == 0.95  # vee.toml [targets]
    # the fleet's target is the points-weighted mean of its areas' targets
    table = pa.table({"area_code": ["01", "03", "99", "all"], "points": [1, 3, 4, 8]})
    got = _area_reading_targets(table, ["01", "03", "99", "all"], targets, 0.5)
    assert got[:3] == [0.90, 0.99, 0.5]
    assert got[3] == pytest.approx((0.90 * 1 + 0.99 * 3 + 0.5 * 4) / 8)
    assert _area_reading_targets(table, ["01", "03", "99", "all"], targets, None)[3] is None
