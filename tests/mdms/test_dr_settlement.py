"""DR settlement from the MDMS's current half-hour values (ingested as register reads):
the baseline skips a customer's earlier DR day and a day with estimated values, the
reduction per customer, and the aggregator's total over those who opted in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from openami.bus.messages import READ_SCHEMA
from openami.clock import SLOTS_PER_DAY, ManualClock, day_first_slot, jst_day_start_s
from openami.mdms import Mdms
from openami.mdms.dr_settlement import EventWindowError, event_units, settle_stored_event
from openami.mdms.reports import MdmsReports
from openami.registry import Meter, Registry, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.dr import DrEvent, DrStore

EVENT_DAY = date(2026, 7, 15)  # Wednesday; event 13:00–15:00 JST
FIRST_DAY = EVENT_DAY - timedelta(days=31)
# window use per weekday before the event day (flat over each day), 400 Wh on other days
HISTORY = {1: 300, 2: 500, 5: 400, 6: 200, 7: 600, 8: 700}  # days before EVENT_DAY: Wh/unit


def day_profile(day: date) -> np.ndarray:
    if day == EVENT_DAY:
        units = np.full(SLOTS_PER_DAY, 400.0)
        units[16:22] = 550.0  # 08:00–11:00: the same-day adjustment window
        units[26:30] = 300.0  # the event: 4 units of 300 Wh
        return units
    if day.weekday() >= 5:
        return np.full(SLOTS_PER_DAY, 5000.0)  # weekends: another day type
    return np.full(SLOTS_PER_DAY, float(HISTORY.get((EVENT_DAY - day).days, 400)))


def reads(meter_id: int, skip: set[int]) -> pa.Table:
    units = np.concatenate([day_profile(FIRST_DAY + timedelta(days=d)) for d in range(32)]).astype(
        np.int64
    )
    registers = np.concatenate([[10_000], 10_000 + np.cumsum(units)])
    boundaries = day_first_slot(FIRST_DAY) + np.arange(len(registers))
    keep = ~np.isin(np.arange(len(registers)), list(skip))
    n = int(keep.sum())
    return pa.table(
        {
            "meter_id": np.full(n, meter_id),
            "boundary": boundaries[keep],
            "import_register_wh": registers[keep],
            "export_register_wh": np.zeros(n, np.int64),
            "received_at": np.zeros(n),
            "source": np.zeros(n, np.int8),
        },
        schema=READ_SCHEMA,
    )


def dr_event(event_id: str, day: date, first_unit: int, units: int) -> DrEvent:
    start_s = jst_day_start_s(day) + first_unit * 1800.0
    return DrEvent(event_id, "AGG1", "level", 2, start_s, units * 1800.0, "distributed", 0, "t")


def test_settlement_from_mdms_values() -> None:
    database = open_database(":memory:")
    registry = Registry(database)
    points = [make_supply_point_id("03", i) for i in (1, 2)]
    keys = registry.add_supply_points(points)
    registry.add_meters(
        [Meter(20 + i, "M", f"S{i}", 30, "mesh", None, date(2030, 1, 1)) for i in range(2)]
    )
    registry.install_meters([(k, 20 + i) for i, k in enumerate(keys)], 0.0)
    clock = ManualClock(datetime(2026, 7, 17, tzinfo=UTC))
    mdms = Mdms(DuckIntervalStore(), registry, clock)
    gap_day = (date(2026, 7, 10) - FIRST_DAY).days * SLOTS_PER_DAY
    mdms.ingest(pa.concat_tables([reads(20, set()), reads(21, {gap_day + 20, gap_day + 21})]))
    store = DrStore(database)
    store.enrol("a", "AGG1", points[0], "fp-a", 0.0)
    store.enrol("b", "AGG1", points[1], "fp-b", 0.0)
    store.create_event(dr_event("dr-earlier", date(2026, 7, 13), 26, 4), ["a"])
    event = dr_event("dr-event", EVENT_DAY, 26, 4)
    participants = {p.ven_name: p.ven_id for p in store.create_event(event)}
    store.record_opt(event.event_id, participants["a"], "optIn", 1.0)
    store.record_opt(event.event_id, participants["b"], "optOut", 1.0)

    settled = settle_stored_event(MdmsReports(mdms), registry, store, event)
    rows = {r["supply_point_id"]: r for r in settled.customers.to_pylist()}
    a, b = rows[points[0]], rows[points[1]]
    # a: Monday 13th was a DR day → 14, 10, 9, 8, 7 → top 4 700, 600, 400, 300 = 500/unit;
    # the event day used 550 in 08:00–11:00 → +50 → 550/unit; actual 300 → 4 × 250 Wh
    assert a["status"] == "ok" and a["opt"] == "optIn"
    assert a["adjustment_wh"] == pytest.approx(50.0)
    assert a["baseline_days"] == [date(2026, 7, d) for d in (7, 8, 10, 14)]
    assert (a["baseline_wh"], a["actual_wh"], a["reduction_wh"]) == pytest.approx(
        (2200, 1200, 1000)
    )
    # b: Friday 10th has estimated values → 14, 13, 9, 8, 7 → 700, 600, 500, 300 = 525/unit
    assert b["adjustment_wh"] == pytest.approx(25.0)
    assert b["baseline_days"] == [date(2026, 7, d) for d in (7, 8, 13, 14)]
    assert b["reduction_wh"] == pytest.approx(1000.0) and b["opt"] == "optOut"
    # the aggregator is credited for the customers who opted in
    assert settled.total_reduction_wh == pytest.approx(1000.0)
    units = settled.units.filter(pa.compute.equal(settled.units["supply_point_id"], points[0]))
    assert units["reduction_wh"].to_pylist() == pytest.approx([250.0] * 4)


def test_event_windows() -> None:
    start = jst_day_start_s(EVENT_DAY)
    assert event_units(start + 13 * 3600, 7200).first_unit == 26
    with pytest.raises(EventWindowError):
        event_units(start + 600, 1800)  # not on the half-hour grid
    with pytest.raises(EventWindowError):
        event_units(start + 23 * 3600, 7200)  # runs into the next day
