"""Demand plan rules: exactly 48 slots, non-negative kWh with at most 1 Wh resolution,
known areas, the unit, JSON and CSV alike, and gate closure one hour before each slot —
a refused submission stores nothing of itself."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pyarrow as pa
import pytest

from openami.clock import JST
from openami.mdms.demand_plans import DemandPlans, PlanRejected, closed_slots_of_day
from openami.storage.repositories import open_database
from openami.storage.repositories.balancing import PLAN_SCHEMA, DemandPlanStore, PlanSubmission

DAY = date(2026, 11, 2)
BEFORE = datetime(2026, 11, 1, 12, tzinfo=JST).timestamp()  # the day before, noon


def at(hour: int, minute: int = 0) -> float:
    return datetime(2026, 11, 2, hour, minute, tzinfo=JST).timestamp()


def body(areas: dict[str, list[float]], unit: str = "kWh") -> bytes:
    return json.dumps({"unit": unit, "areas": areas}).encode()


def csv_body(area: str, values: list[str], header: str = "area_code,slot,energy_kwh") -> bytes:
    lines = [header] + [f"{area},{i + 1},{v}" for i, v in enumerate(values)]
    return "\n".join(lines).encode()


@pytest.fixture
def plans() -> DemandPlans:
    database = open_database(":memory:")
    database.registry.add_balancing_groups([("BG1", "one")])
    return DemandPlans(DemandPlanStore(database))


def refused(
    plans: DemandPlans, data: bytes, ctype: str = "application/json", now: float = BEFORE
) -> str:
    with pytest.raises(PlanRejected) as caught:
        plans.submit("BG1", DAY, data, ctype, "c1", now)
    assert plans.current("BG1", DAY)[0] == 0  # nothing stored
    return caught.value.code


def test_json_and_csv_give_the_same_plan(plans: DemandPlans) -> None:
    values = [1.5 + i / 1000 for i in range(48)]
    s1 = plans.submit("BG1", DAY, body({"03": values}), "application/json", "c1", BEFORE)
    _, first = plans.current("BG1", DAY)
    s2 = plans.submit(
        "BG1",
        DAY,
        csv_body("03", [f"{v:.3f}" for v in values]),
        "text/csv; charset=utf-8",
        "c1",
        BEFORE,
    )
    _, second = plans.current("BG1", DAY)
    assert (s1.version, s2.version) == (1, 2)
    assert first.equals(second)
    assert first.column("energy_wh").to_pylist()[:3] == [1500, 1501, 1502]
    assert s2.energy_wh == sum(1500 + i for i in range(48)) and s2.content_type == "text/csv"


@pytest.mark.parametrize("slots", [47, 49, 0])
def test_a_day_has_exactly_48_slots(plans: DemandPlans, slots: int) -> None:
    assert refused(plans, body({"03": [1.0] * slots})) == "E_SLOT_COUNT"
    assert refused(plans, csv_body("03", ["1"] * slots), "text/csv") in (
        "E_SLOT_COUNT",
        "E_EMPTY_PLAN",
    )


def test_csv_slots_out_of_range_or_twice(plans: DemandPlans) -> None:
    data = csv_body("03", ["1"] * 48) + b"\n03,49,1"
    assert refused(plans, data, "text/csv") == "E_SLOT_COUNT"
    data = csv_body("03", ["1"] * 48) + b"\n03,5,1"
    assert refused(plans, data, "text/csv") == "E_SLOT_COUNT"


def test_values_units_areas_and_body(plans: DemandPlans) -> None:
    assert refused(plans, body({"03": [1.0] * 47 + [-0.001]})) == "E_NEGATIVE"
    assert refused(plans, body({"03": [1.0] * 47 + [0.0001]})) == "E_BAD_VALUE"
    assert refused(plans, body({"03": [1.0] * 47 + [1e30]})) == "E_BAD_VALUE"
    assert refused(plans, body({"03": [1.0] * 47 + [float("nan")]})) == "E_BAD_VALUE"
    assert refused(plans, body({"03": [1.0] * 47 + ["x"]})) == "E_BAD_VALUE"  # type: ignore[list-item]
    assert refused(plans, body({"03": [1.0] * 48}, unit="MWh")) == "E_BAD_UNIT"
    assert refused(plans, csv_body("03", ["1"] * 48, "area_code,slot,energy_wh"), "text/csv") == (
        "E_BAD_UNIT"
    )
    assert refused(plans, body({"99": [1.0] * 48})) == "E_UNKNOWN_AREA"
    assert refused(plans, body({})) == "E_EMPTY_PLAN"
    assert refused(plans, b"{not json") == "E_BAD_BODY"
    assert refused(plans, body({"03": [1.0] * 48}), "application/xml") == "E_UNSUPPORTED_MEDIA_TYPE"
    assert refused(plans, body({"03": [1.0] * 48}), now=BEFORE - 400 * 86400) == "E_DATE_TOO_FAR"


def test_gate_closes_one_hour_before_each_slot() -> None:
    assert closed_slots_of_day(DAY, at(0) - 3600 - 1) == []
    assert closed_slots_of_day(DAY, at(0) - 3600) == [0]
    assert closed_slots_of_day(DAY, at(9, 59)) == list(range(22))  # 10:30 closes at 09:30
    assert closed_slots_of_day(DAY, at(23, 0)) == list(range(48))


def test_a_late_change_is_refused_whole(plans: DemandPlans) -> None:
    plans.submit("BG1", DAY, body({"03": [1.0] * 48}), "application/json", "c1", BEFORE)
    # at 09:59 slots 1-22 (00:00-11:00) are closed: changing slot 22 (10:30) is late
    late = [1.0] * 21 + [2.0] * 27
    with pytest.raises(PlanRejected) as caught:
        plans.submit("BG1", DAY, body({"03": late}), "application/json", "c1", at(9, 59))
    assert caught.value.code == "E_GATE_CLOSED" and "03/22" in caught.value.message
    version, values = plans.current("BG1", DAY)
    assert version == 1 and values.column("energy_wh").to_pylist() == [1000] * 48
    # the same change of open slots only is accepted
    ok = [1.0] * 22 + [2.0] * 26
    assert (
        plans.submit("BG1", DAY, body({"03": ok}), "application/json", "c1", at(9, 59)).version == 2
    )
    # adding an area with energy in a closed slot changes that slot (no plan is 0 kWh)
    with pytest.raises(PlanRejected, match="01/1"):
        plans.submit(
            "BG1", DAY, body({"03": ok, "01": [0.5] * 48}), "application/json", "c1", at(9, 59)
        )
    zero_closed = [0.0] * 22 + [0.5] * 26
    added = plans.submit(
        "BG1", DAY, body({"03": ok, "01": zero_closed}), "application/json", "c1", at(9, 59)
    )
    assert added.version == 3
    # leaving out a planned area changes its closed slots too
    with pytest.raises(PlanRejected, match="gate closure"):
        plans.submit("BG1", DAY, body({"01": [0.0] * 48}), "application/json", "c1", at(9, 59))
    assert len(plans.history("BG1", DAY)) == 3


def test_after_the_day_nothing_changes(plans: DemandPlans) -> None:
    plans.submit("BG1", DAY, body({"03": [1.0] * 48}), "application/json", "c1", BEFORE)
    after = (datetime(2026, 11, 2, tzinfo=JST) + timedelta(days=1)).timestamp()
    with pytest.raises(PlanRejected) as caught:
        plans.submit("BG1", DAY, body({"03": [1.1] * 48}), "application/json", "c1", after)
    assert caught.value.code == "E_GATE_CLOSED" and caught.value.status == 409


class RacingStore(DemandPlanStore):
    """A real store in which another submission lands between reading the current version
    and storing the next one (two clients of the group at once)."""

    def current(self, balancing_group_id: str, day: date) -> tuple[int, pa.Table]:
        found = super().current(balancing_group_id, day)
        other = PlanSubmission(balancing_group_id, day, found[0] + 1, 0.0, "c2", "text/csv", 0)
        DemandPlanStore.submit(self, other, found[0], PLAN_SCHEMA.empty_table())
        return found


def test_a_submission_that_lost_a_race_is_refused() -> None:
    database = open_database(":memory:")
    database.registry.add_balancing_groups([("BG1", "one")])
    plans = DemandPlans(RacingStore(database))
    with pytest.raises(PlanRejected) as caught:
        plans.submit("BG1", DAY, body({"03": [1.0] * 48}), "application/json", "c1", BEFORE)
    assert (caught.value.status, caught.value.code) == (409, "E_PLAN_CONFLICT")
    history = DemandPlanStore(database).history("BG1", DAY)
    assert [(h.version, h.submitted_by) for h in history] == [(1, "c2")]
