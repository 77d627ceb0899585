"""DR settlement: per event, each customer's baseline, actual use and reduction per
half-hour unit, from the MDMS's current half-hour values (the one rule of "the current
value": ``MdmsReports.current_values_of_points``), and the aggregator's sum.

The baseline is :func:`openami.mdms.dr_baseline.high_x_of_y`. A day counts as complete when
every unit has a ``measured`` or ``edited`` value: estimated, missing and invalid values
neither make a baseline day nor an actual value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import Quality
from openami.clock import SLOT_SECONDS, SLOTS_PER_DAY, day_first_slot, jst_day_of_s, slot_at_s
from openami.clock.calendar import holiday_flags
from openami.mdms.dr_baseline import BaselineRule, Baselines, BaselineStatus, high_x_of_y
from openami.mdms.reports import MdmsReports
from openami.registry import Registry
from openami.storage.repositories.dr import DrEvent, DrStore

USABLE_QUALITIES = (Quality.MEASURED.label, Quality.EDITED.label)

UNIT_SCHEMA = pa.schema(
    [
        ("supply_point_id", pa.string()),
        ("slot", pa.int64()),
        ("baseline_wh", pa.float64()),
        ("actual_wh", pa.float64()),
        ("reduction_wh", pa.float64()),
    ]
)
CUSTOMER_SCHEMA = pa.schema(
    [
        ("supply_point_id", pa.string()),
        ("status", pa.string()),
        ("baseline_wh", pa.float64()),
        ("actual_wh", pa.float64()),
        ("reduction_wh", pa.float64()),
        ("adjustment_wh", pa.float64()),
        ("baseline_days", pa.list_(pa.date32())),
    ]
)


class EventWindowError(ValueError):
    """An event that is not a whole number of half-hours inside one JST day."""


@dataclass(frozen=True)
class EventUnits:
    day: date  # the JST event day
    first_unit: int  # 0 = 00:00–00:30 JST
    units: int

    @property
    def first_slot(self) -> int:
        return day_first_slot(self.day) + self.first_unit


def event_units(start_s: float, duration_s: float) -> EventUnits:
    """The event's half-hour units, or :class:`EventWindowError`."""
    if start_s % SLOT_SECONDS or duration_s % SLOT_SECONDS or duration_s <= 0:
        raise EventWindowError("a DR event starts and ends on a half-hour boundary")
    day = jst_day_of_s(start_s)
    first = slot_at_s(start_s) - day_first_slot(day)
    units = int(duration_s // SLOT_SECONDS)
    if first + units > SLOTS_PER_DAY:
        raise EventWindowError("a DR event lies inside one JST day (00:00–24:00)")
    return EventUnits(day, first, units)


@dataclass(frozen=True)
class DrSettlement:
    units: pa.Table  # UNIT_SCHEMA, by point and slot
    customers: pa.Table  # CUSTOMER_SCHEMA, one row per point
    total_reduction_wh: float  # over the customers whose status is ok (and who opted in)

    @property
    def customers_ok(self) -> int:
        return int(pc.sum(pc.equal(self.customers["status"], "ok")).as_py() or 0)


def load_matrix(values: pa.Table, keys: np.ndarray, first_slot: int, n_slots: int) -> np.ndarray:
    """``[points, slots]`` of usable import Wh (NaN elsewhere) from current values with a
    ``supply_point_key`` column; ``keys`` sorted."""
    matrix = np.full((len(keys), n_slots), np.nan)
    if values.num_rows == 0:
        return matrix
    usable = pc.is_in(values["quality"], pa.array(USABLE_QUALITIES)).to_numpy(zero_copy_only=False)
    rows = np.searchsorted(keys, values["supply_point_key"].to_numpy())
    cols = values["slot"].to_numpy() - first_slot
    wh = values["import_wh"].to_numpy(zero_copy_only=False).astype(np.float64)
    ok = usable & (cols >= 0) & (cols < n_slots)
    matrix[rows[ok], cols[ok]] = wh[ok]
    return matrix


def dr_day_mask(
    point_ids: Sequence[str],
    spans: Sequence[tuple[str, float, float]],
    first_day: date,
    n_days: int,
) -> np.ndarray:
    """``[points, days]``: another DR event applied to the point on the day."""
    mask = np.zeros((len(point_ids), n_days), bool)
    row_of = {p: i for i, p in enumerate(point_ids)}
    for point, start_s, end_s in spans:
        row = row_of.get(point)
        if row is None:
            continue
        first = (jst_day_of_s(start_s) - first_day).days
        last = (jst_day_of_s(end_s - 1) - first_day).days
        mask[row, max(first, 0) : min(last, n_days - 1) + 1] = True
    return mask


def settle_event(
    reports: MdmsReports,
    points: Sequence[tuple[int, str]],
    window: EventUnits,
    other_events: Sequence[tuple[str, float, float]],
    rule: BaselineRule | None = None,
) -> DrSettlement:
    """Settle one event for ``points`` (supply point key, ID); ``other_events`` are the
    (point, start, end) of other DR events, whose days no baseline uses."""
    rule = rule or BaselineRule()
    if not points:
        return DrSettlement(UNIT_SCHEMA.empty_table(), CUSTOMER_SCHEMA.empty_table(), 0.0)
    ordered = sorted(points)
    keys = np.array([k for k, _ in ordered], np.int64)
    ids = [p for _, p in ordered]
    n_days = rule.lookback_days + 2  # one more day for an adjustment window before 00:00
    first_day = window.day - timedelta(days=n_days - 1)
    first_slot = day_first_slot(first_day)
    n_slots = n_days * SLOTS_PER_DAY
    values = reports.current_values_of_points(keys.tolist(), first_slot, first_slot + n_slots - 1)
    load = load_matrix(values, keys, first_slot, n_slots)
    complete = ~np.isnan(load.reshape(len(keys), n_days, SLOTS_PER_DAY)).any(axis=2)
    # the event day itself is never a baseline day, so the event may be among other_events
    dr_days = dr_day_mask(ids, other_events, first_day, n_days)
    holiday = holiday_flags(first_day, window.day)
    result = high_x_of_y(load, complete, dr_days, holiday, window.first_unit, window.units, rule)
    return _tables(ids, load, result, window, first_day)


def _tables(
    ids: list[str], load: np.ndarray, result: Baselines, window: EventUnits, first_day: date
) -> DrSettlement:
    n = len(ids)
    event_col = (window.day - first_day).days * SLOTS_PER_DAY + window.first_unit
    actual = load[:, event_col : event_col + window.units]
    reduction = result.baseline_wh - actual
    status = np.array([BaselineStatus(s).label for s in result.status], object)
    status[(result.status == BaselineStatus.OK) & np.isnan(actual).any(axis=1)] = "missing_actual"
    slots = window.first_slot + np.arange(window.units)
    units = pa.table(
        {
            "supply_point_id": np.repeat(np.array(ids, object), window.units),
            "slot": np.tile(slots, n),
            "baseline_wh": result.baseline_wh.ravel(),
            "actual_wh": actual.ravel(),
            "reduction_wh": reduction.ravel(),
        },
        schema=UNIT_SCHEMA,
    )
    day_lists = [
        [first_day + timedelta(days=int(d)) for d in np.flatnonzero(row)]
        for row in result.kept_days
    ]
    customers = pa.table(
        {
            "supply_point_id": ids,
            "status": status.tolist(),
            "baseline_wh": result.baseline_wh.sum(axis=1),
            "actual_wh": actual.sum(axis=1),
            "reduction_wh": reduction.sum(axis=1),
            "adjustment_wh": result.adjustment_wh,
            "baseline_days": day_lists,
        },
        schema=CUSTOMER_SCHEMA,
    )
    ok = status == "ok"
    total = float(np.nansum(reduction.sum(axis=1)[ok])) if n else 0.0
    return DrSettlement(units, customers, total)


def settle_stored_event(
    reports: MdmsReports,
    registry: Registry,
    store: DrStore,
    event: DrEvent,
    supply_point_ids: Sequence[str] | None = None,
    rule: BaselineRule | None = None,
) -> DrSettlement:
    """Settle a stored event for its participants (or those of ``supply_point_ids`` among
    them): the one place the CLI and the C-route API both call. The customers table gains
    the participant's ``opt``; the aggregator's total counts the customers who opted in and
    whose baseline and actual values are complete (status ``ok``)."""
    wanted = None if supply_point_ids is None else set(supply_point_ids)
    points: list[tuple[int, str]] = []
    opt_of: dict[str, str] = {}
    for participant in store.participants(event.event_id):
        opt_of[participant.supply_point_id] = participant.opt
        if wanted is not None and participant.supply_point_id not in wanted:
            continue
        sp = registry.supply_point(participant.supply_point_id)
        if sp is not None:
            points.append((sp.supply_point_key, participant.supply_point_id))
    window = event_units(event.start_s, event.duration_s)
    lookback_s = ((rule or BaselineRule()).lookback_days + 2) * 86400.0
    others = store.event_spans_of_points(
        [p for _, p in points], event.start_s - lookback_s, event.start_s
    )
    settled = settle_event(reports, points, window, others, rule)
    opts = [opt_of.get(p, "none") for p in settled.customers["supply_point_id"].to_pylist()]
    customers = settled.customers.append_column("opt", pa.array(opts, pa.string()))
    counted = pc.and_(pc.equal(customers["status"], "ok"), pc.equal(customers["opt"], "optIn"))
    total = pc.sum(pc.filter(customers["reduction_wh"], counted)).as_py() or 0.0
    return DrSettlement(settled.units, customers, float(total))
