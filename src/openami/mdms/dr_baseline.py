"""The ERAB guideline's "High 4 of 5" baseline with the same-day adjustment, columnar.

The rule (METI/ANRE, エネルギー・リソース・アグリゲーション・ビジネスに関するガイドライン,
2020-06-01 edition, the standard baseline "High4of5 当日調整あり"; sources and what is
uncertain in ``docs/demand-response.md``), on 30-minute units:

1. candidate days are the most recent days **before** the event day of the same day type
   (weekday, or Saturday/Sunday/holiday), no more than ``lookback_days`` back (30), skipping
   days of other DR events, days without a complete measured half-hour series, and days whose
   mean use in the event window is below ``low_use_ratio`` (25 %) of the mean over the
   remaining candidates: 5 days for a weekday event, 3 for a 土日祝 event;
2. of those, the days with the highest mean use inside the event window are kept: 4 of 5
   (2 of 3 on 土日祝); where days tie for the last place, the more recent one is kept;
3. the baseline of each event unit is the mean of the kept days' use in that unit;
4. same-day adjustment (additive): the mean of the event day's own use in the units from
   ``adjust_from_s`` to ``adjust_to_s`` before the event start, minus the mean of the
   unadjusted baseline over the same units, is added to every event unit.

Everything here works on NumPy arrays of many customers at once, never one Python object per
reading: ``load_wh[c, d * 48 + k]`` is customer ``c``'s import in unit ``k`` of day ``d``,
with NaN where there is no usable value; the event day is the last day of the array.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from openami.clock import SLOT_SECONDS, SLOTS_PER_DAY

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


class BaselineStatus(IntEnum):
    """Why a customer's baseline could or could not be computed."""

    OK = 0
    #: fewer eligible days than the rule needs (5, or 3 on 土日祝) within the lookback
    INSUFFICIENT_DAYS = 1
    #: a unit of the same-day adjustment window has no value on the event day
    NO_ADJUSTMENT_DATA = 2

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class BaselineRule:
    """The parameters of High X of Y; the defaults are the guideline's standard baseline."""

    weekday_days: int = 5  # Y on weekdays
    weekday_keep: int = 4  # X on weekdays
    holiday_days: int = 3  # Y on Saturdays, Sundays and holidays
    holiday_keep: int = 2  # X on Saturdays, Sundays and holidays
    lookback_days: int = 30
    low_use_ratio: float = 0.25
    #: the adjustment window: units starting from this long before the event start …
    adjust_from_s: int = 5 * 3600
    #: … up to (not including) the unit starting this long before it; 0 disables adjusting
    adjust_to_s: int = 2 * 3600

    def __post_init__(self) -> None:
        for keep, days in (
            (self.weekday_keep, self.weekday_days),
            (self.holiday_keep, self.holiday_days),
        ):
            if not 1 <= keep <= days:
                raise ValueError("a High X of Y rule needs 1 <= X <= Y")
        if self.lookback_days < max(self.weekday_days, self.holiday_days):
            raise ValueError("the lookback must hold at least Y days")
        if self.adjust_from_s % SLOT_SECONDS or self.adjust_to_s % SLOT_SECONDS:
            raise ValueError("the adjustment window must be whole half-hours")
        if self.adjust_to_s and self.adjust_from_s <= self.adjust_to_s:
            raise ValueError("adjust_from_s must be before adjust_to_s")

    def days_and_keep(self, holiday: bool) -> tuple[int, int]:
        if holiday:
            return self.holiday_days, self.holiday_keep
        return self.weekday_days, self.weekday_keep

    @property
    def adjust_units(self) -> tuple[int, int]:
        """The adjustment window as units back from the event's first unit: [first, last)."""
        return self.adjust_from_s // SLOT_SECONDS, self.adjust_to_s // SLOT_SECONDS


@dataclass(frozen=True)
class Baselines:
    """Baselines of many customers for one event (units ``first_unit`` … of the event day)."""

    baseline_wh: Floats  # [customers, event units], adjusted; NaN where status != OK
    unadjusted_wh: Floats  # [customers, event units]
    adjustment_wh: Floats  # [customers]
    kept_days: Bools  # [customers, days]: the X days the baseline averages
    status: npt.NDArray[np.int8]  # BaselineStatus per customer


def window_means(load_wh: Floats, first_unit: int, units: int) -> Floats:
    """Each day's mean use in the event window: [customers, days]."""
    days = load_wh.shape[1] // SLOTS_PER_DAY
    by_day = load_wh.reshape(load_wh.shape[0], days, SLOTS_PER_DAY)
    return np.asarray(by_day[:, :, first_unit : first_unit + units].mean(axis=2), np.float64)


def candidate_days(
    means: Floats, day_complete: Bools, dr_days: Bools, holiday: Bools, rule: BaselineRule
) -> tuple[Bools, int, int]:
    """The Y most recent eligible days per customer before the event day (the last day),
    with Y and X for the event day's type."""
    n_days = means.shape[1]
    event_day = n_days - 1
    y_days, x_keep = rule.days_and_keep(bool(holiday[event_day]))
    index = np.arange(n_days)
    in_window = (index < event_day) & (index >= event_day - rule.lookback_days)
    same_type = holiday == holiday[event_day]
    eligible = day_complete & ~dr_days & (in_window & same_type)[None, :] & ~np.isnan(means)
    counted = np.where(eligible, means, 0.0)
    n = eligible.sum(axis=1)
    reference = np.divide(counted.sum(axis=1), n, out=np.zeros(len(n)), where=n > 0)
    eligible &= means >= rule.low_use_ratio * reference[:, None]
    # the most recent Y: count eligible days from the event day backwards
    recency = np.cumsum(eligible[:, ::-1], axis=1)[:, ::-1]
    return eligible & (recency <= y_days), y_days, x_keep


def keep_highest(means: Floats, candidates: Bools, keep: int) -> tuple[Bools, IntArray]:
    """Of the candidates, the ``keep`` days with the highest window mean (ties: the more
    recent day wins): as a mask [customers, days] and as day indices [customers, keep]
    (meaningful where a customer has at least ``keep`` candidates)."""
    n_days = means.shape[1]
    score = np.where(candidates, means, -np.inf)[:, ::-1]  # most recent day first
    order = np.argsort(-score, axis=1, kind="stable")[:, :keep]
    kept_reversed = np.zeros_like(candidates)
    np.put_along_axis(kept_reversed, order, True, axis=1)
    return kept_reversed[:, ::-1] & candidates, (n_days - 1 - order).astype(np.int64)


def high_x_of_y(
    load_wh: Floats,
    day_complete: Bools,
    dr_days: Bools,
    holiday: Bools,
    first_unit: int,
    units: int,
    rule: BaselineRule | None = None,
) -> Baselines:
    """Baselines of the event units ``first_unit`` … ``first_unit + units - 1`` of the last
    day in ``load_wh`` for every customer (see the module's docstring for the rule).

    ``day_complete[c, d]``: the day has a measured (or edited) value in every unit;
    ``dr_days[c, d]``: another DR event applied to the customer that day; ``holiday[d]``:
    Saturday, Sunday or national holiday (``openami.clock.calendar.holiday_flags``).
    """
    rule = rule or BaselineRule()
    customers, slots = load_wh.shape
    n_days = slots // SLOTS_PER_DAY
    if slots != n_days * SLOTS_PER_DAY or n_days < 2:
        raise ValueError("load_wh needs whole days, the event day last")
    if not (first_unit >= 0 and units >= 1 and first_unit + units <= SLOTS_PER_DAY):
        raise ValueError("the event units must lie inside the event day")
    means = window_means(load_wh, first_unit, units)
    candidates, y_days, x_keep = candidate_days(means, day_complete, dr_days, holiday, rule)
    enough = candidates.sum(axis=1) >= y_days
    kept, kept_days = keep_highest(means, candidates, x_keep)
    kept &= enough[:, None]
    unadjusted = _mean_over_days(load_wh, kept_days, first_unit, units)
    unadjusted[~enough] = np.nan
    adjustment, adjustable = _same_day_adjustment(load_wh, kept_days, first_unit, rule)
    status = np.full(customers, BaselineStatus.OK, np.int8)
    status[~adjustable] = BaselineStatus.NO_ADJUSTMENT_DATA
    status[~enough] = BaselineStatus.INSUFFICIENT_DAYS
    baseline = unadjusted + adjustment[:, None]
    baseline[status != BaselineStatus.OK] = np.nan
    return Baselines(baseline, unadjusted, adjustment, kept, status)


def _mean_over_days(load_wh: Floats, days: IntArray, first_unit: int, units: int) -> Floats:
    """[customers, units]: the mean over each customer's ``days`` of units ``first_unit`` …
    counted from each day's start (a negative unit reaches into the day before; NaN where
    that lies outside the array). Gathers only those values, never the whole history."""
    customers, slots = load_wh.shape
    positions = (days * SLOTS_PER_DAY + first_unit)[:, :, None] + np.arange(units)[None, None, :]
    valid = (positions >= 0) & (positions < slots)
    flat = np.clip(positions, 0, slots - 1).reshape(customers, -1)
    taken = np.take_along_axis(load_wh, flat, axis=1).reshape(positions.shape)
    return np.asarray(np.where(valid, taken, np.nan).mean(axis=1), np.float64)


def _same_day_adjustment(
    load_wh: Floats, kept_days: IntArray, first_unit: int, rule: BaselineRule
) -> tuple[Floats, Bools]:
    """The additive adjustment per customer, and whether the event day had the data."""
    customers, slots = load_wh.shape
    back_first, back_last = rule.adjust_units
    if back_last == 0 and back_first == 0:
        return np.zeros(customers), np.ones(customers, bool)
    units = back_first - back_last
    event_day = np.full((customers, 1), slots // SLOTS_PER_DAY - 1, np.int64)
    actual = _mean_over_days(load_wh, event_day, first_unit - back_first, units).mean(axis=1)
    expected = _mean_over_days(load_wh, kept_days, first_unit - back_first, units).mean(axis=1)
    adjustable = ~np.isnan(actual) & ~np.isnan(expected)
    return np.where(adjustable, actual - expected, 0.0), adjustable
