"""The ERAB "High 4 of 5" baseline: hand-worked examples from the guideline's definition,
its edge cases (DR days, incomplete days, 土日祝 events, low-use days, ties, no data), and a
property test against a plain re-statement of the rule."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openami.clock import SLOTS_PER_DAY
from openami.clock.calendar import holiday_flags
from openami.mdms.dr_baseline import BaselineRule, BaselineStatus, high_x_of_y

EVENT_DAY = date(2026, 7, 15)  # a Wednesday; Monday 2026-07-20 is 海の日 (Marine Day)
FIRST_UNIT, UNITS = 26, 4  # 13:00–15:00 JST
N_DAYS = 32  # the lookback (30) and one day before it, the event day last


def flat_days(per_day: dict[date, float], event_day: date = EVENT_DAY, other: float = 400.0):
    """One customer whose use is flat over each day: ``per_day`` Wh per unit, else ``other``."""
    first = event_day - timedelta(days=N_DAYS - 1)
    days = [first + timedelta(days=i) for i in range(N_DAYS)]
    load = np.repeat([per_day.get(d, other) for d in days], SLOTS_PER_DAY)[None, :].astype(float)
    return load, days, holiday_flags(first, event_day)


def run(load, days, holiday, dr: tuple[date, ...] = (), incomplete: tuple[date, ...] = (), **kw):
    complete = np.array([[d not in incomplete for d in days]])
    dr_days = np.array([[d in dr for d in days]])
    return high_x_of_y(load, complete, dr_days, holiday, FIRST_UNIT, UNITS, BaselineRule(**kw))


def weekday_history() -> dict[date, float]:
    d = EVENT_DAY
    # the 5 most recent weekdays: Tue 14th 300, Mon 13th 500, Fri 10th 400, Thu 9th 200,
    # Wed 8th 600; Tue 7th 700; weekends 5000 (another day type: never used)
    history = {d - timedelta(days=n): v for n, v in [(1, 300), (2, 500), (5, 400), (6, 200)]}
    history |= {d - timedelta(days=7): 600, d - timedelta(days=8): 700}
    history |= {d - timedelta(days=n): 5000 for n in (3, 4, 10, 11)}
    # the event day: 550 Wh per unit from 08:00 to 11:00 (5 h to 2 h before 13:00), 300 in
    # the event; its other units do not matter
    return history


def event_day_profile(load: np.ndarray) -> None:
    row = load[0, -SLOTS_PER_DAY:]
    row[:] = 0.0
    row[16:22] = 550.0  # 08:00–11:00
    row[FIRST_UNIT : FIRST_UNIT + UNITS] = 300.0


def test_weekday_high_4_of_5_with_same_day_adjustment() -> None:
    load, days, holiday = flat_days(weekday_history())
    event_day_profile(load)
    result = run(load, days, holiday)
    # top 4 of (300, 500, 400, 200, 600) = 600, 500, 400, 300: mean 450 Wh per unit
    assert result.unadjusted_wh[0].tolist() == [450.0] * 4
    # the adjustment window: the event day 550, the baseline there 450 → +100
    assert result.adjustment_wh[0] == pytest.approx(100.0)
    assert result.baseline_wh[0].tolist() == [550.0] * 4
    kept = {d for d, k in zip(days, result.kept_days[0], strict=True) if k}
    assert kept == {date(2026, 7, 14), date(2026, 7, 13), date(2026, 7, 10), date(2026, 7, 8)}
    assert result.status[0] == BaselineStatus.OK
    # reduction: (550 − 300) × 4 units = 1000 Wh
    assert float((result.baseline_wh[0] - 300.0).sum()) == pytest.approx(1000.0)


def test_dr_days_and_incomplete_days_are_skipped() -> None:
    load, days, holiday = flat_days(weekday_history())
    event_day_profile(load)
    # Monday 13th had another DR event: candidates 14, 10, 9, 8 and Tuesday 7th (700)
    result = run(load, days, holiday, dr=(date(2026, 7, 13),))
    assert result.unadjusted_wh[0].tolist() == [500.0] * 4  # (700 + 600 + 400 + 300) / 4
    # Friday 10th has a missing unit: candidates 14, 13, 9, 8, 7 → 700, 600, 500, 300
    result = run(load, days, holiday, incomplete=(date(2026, 7, 10),))
    assert result.unadjusted_wh[0].tolist() == [525.0] * 4


def test_a_holiday_event_uses_high_2_of_3_of_weekends_and_holidays() -> None:
    event = date(2026, 7, 20)  # 海の日, a Monday
    # the 3 most recent 土日祝: Sun 19th 800, Sat 18th 200, Sun 12th 400; weekdays 5000
    older = [event - timedelta(days=n) for n in range(1, N_DAYS)]
    history = {d: 500.0 if d.weekday() >= 5 else 5000.0 for d in older}
    history |= {date(2026, 7, 19): 800, date(2026, 7, 18): 200, date(2026, 7, 12): 400}
    history[date(2026, 7, 11)] = 900  # Saturday before: the 4th most recent, not a candidate
    load, days, holiday = flat_days(history, event, other=5000)
    result = run(load, days, holiday, adjust_from_s=0, adjust_to_s=0)
    assert result.unadjusted_wh[0].tolist() == [600.0] * 4  # (800 + 400) / 2
    assert result.adjustment_wh[0] == 0.0


def test_low_use_days_are_not_candidates() -> None:
    history = weekday_history()
    history[date(2026, 7, 9)] = 20.0  # < 25 % of the candidates' mean: a day nobody was home
    load, days, holiday = flat_days(history)
    result = run(load, days, holiday, adjust_from_s=0, adjust_to_s=0)
    # candidates 14, 13, 10, 8, 7 → top 4: 700, 600, 500, 400
    assert result.unadjusted_wh[0].tolist() == [550.0] * 4


def test_ties_for_last_place_keep_the_more_recent_day() -> None:
    history = weekday_history()
    history[date(2026, 7, 9)] = 300.0  # ties with Tuesday 14th (300) for the 4th place
    history[date(2026, 7, 10)] = 100.0  # now the lowest
    load, days, holiday = flat_days(history)
    # make the two tied days distinguishable outside the event window
    by_day = load.reshape(N_DAYS, SLOTS_PER_DAY)
    by_day[days.index(date(2026, 7, 14)), 0] = 1.0
    by_day[days.index(date(2026, 7, 9)), 0] = 2.0
    result = run(load, days, holiday, adjust_from_s=0, adjust_to_s=0)
    kept = {d for d, k in zip(days, result.kept_days[0], strict=True) if k}
    assert date(2026, 7, 14) in kept and date(2026, 7, 9) not in kept


def test_too_few_days_or_no_adjustment_data_give_no_baseline() -> None:
    load, days, holiday = flat_days(weekday_history())
    weekdays = tuple(d for d, h in zip(days[:-1], holiday[:-1], strict=True) if not h)
    result = run(load, days, holiday, incomplete=weekdays[:-4])  # only 4 weekdays left
    assert result.status[0] == BaselineStatus.INSUFFICIENT_DAYS
    assert np.isnan(result.baseline_wh[0]).all()
    event_day_profile(load)
    load[0, -SLOTS_PER_DAY + 17] = np.nan  # 08:30 of the event day has no value
    result = run(load, days, holiday)
    assert result.status[0] == BaselineStatus.NO_ADJUSTMENT_DATA
    assert np.isnan(result.baseline_wh[0]).all()


def test_bad_rules_and_windows_are_refused() -> None:
    with pytest.raises(ValueError):
        BaselineRule(weekday_keep=6)
    with pytest.raises(ValueError):
        BaselineRule(adjust_from_s=3600, adjust_to_s=7200)
    load, _days, holiday = flat_days({})
    with pytest.raises(ValueError):
        high_x_of_y(load, np.ones((1, N_DAYS), bool), np.zeros((1, N_DAYS), bool), holiday, 46, 4)


def plain_high_4_of_5(days_load: list[list[float]], first: int, units: int) -> list[float]:
    """The rule restated for weekdays with no exclusions: the 5 most recent days before the
    last, keep the 4 with the highest mean in the window (the more recent on a tie), and
    average them unit by unit."""
    recent = list(enumerate(days_load[:-1]))[-5:]
    ranked = sorted(recent, key=lambda p: (sum(p[1][first : first + units]) / units, p[0]))
    kept = [day for _, day in ranked[1:]]
    return [sum(day[first + u] for day in kept) / 4 for u in range(units)]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=0, max_value=2**31),
    st.integers(min_value=0, max_value=SLOTS_PER_DAY - 1),
    st.integers(min_value=1, max_value=8),
)
def test_baseline_is_the_mean_of_the_4_highest_of_5(seed: int, first: int, units: int) -> None:
    units = min(units, SLOTS_PER_DAY - first)
    rng = np.random.default_rng(seed)
    customers, n_days = 3, 8
    load = rng.integers(100, 400, size=(customers, n_days * SLOTS_PER_DAY)).astype(float)
    weekdays = np.zeros(n_days, bool)
    rule = BaselineRule(adjust_from_s=0, adjust_to_s=0, lookback_days=6)
    result = high_x_of_y(
        load,
        np.ones((customers, n_days), bool),
        ~np.ones((customers, n_days), bool),
        weekdays,
        first,
        units,
        rule,
    )
    for c in range(customers):
        days = [list(load[c, d * SLOTS_PER_DAY : (d + 1) * SLOTS_PER_DAY]) for d in range(n_days)]
        expected = plain_high_4_of_5(days, first, units)
        assert result.baseline_wh[c].tolist() == pytest.approx(expected)


def plain_rule(
    days_load: list[list[float]],
    usable: list[bool],
    holiday: list[bool],
    first: int,
    units: int,
    adjust: tuple[int, int],
) -> list[float] | None:
    """The whole rule restated for one customer, day by day (lookback 30, 25 % low use,
    5/4 on weekdays and 3/2 on 土日祝, additive adjustment over the units ``adjust`` back);
    None where there is no baseline."""
    event = len(days_load) - 1
    y, x = (3, 2) if holiday[event] else (5, 4)

    def mean(day: int, lo: int, n: int) -> float:
        flat = [v for d in days_load for v in d]
        return sum(flat[day * SLOTS_PER_DAY + lo + k] for k in range(n)) / n

    eligible = [
        d for d in range(max(event - 30, 0), event) if usable[d] and holiday[d] == holiday[event]
    ]
    if eligible:
        reference = sum(mean(d, first, units) for d in eligible) / len(eligible)
        eligible = [d for d in eligible if mean(d, first, units) >= 0.25 * reference]
    chosen = eligible[-y:]
    if len(chosen) < y:
        return None
    kept = sorted(chosen, key=lambda d: (mean(d, first, units), d))[-x:]
    base = [sum(days_load[d][first + u] for d in kept) / x for u in range(units)]
    back_first, back_last = adjust
    n_adj = back_first - back_last
    actual = mean(event, first - back_first, n_adj)
    expected = sum(mean(d, first - back_first, n_adj) for d in kept) / x
    return [b + actual - expected for b in base]


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=0, max_value=2**31),
    st.integers(min_value=12, max_value=SLOTS_PER_DAY - 4),
    st.integers(min_value=1, max_value=4),
    st.sampled_from([date(2026, 7, 15), date(2026, 7, 20), date(2026, 11, 3), date(2026, 5, 9)]),
)
def test_baseline_matches_the_rule_restated(seed: int, first: int, units: int, event: date) -> None:
    rng = np.random.default_rng(seed)
    customers, n_days = 4, 34
    load = rng.gamma(3.0, 100.0, size=(customers, n_days * SLOTS_PER_DAY))
    load[rng.random(load.shape) < 0.02] *= 0.05  # some near-empty units
    usable = rng.random((customers, n_days)) > 0.15  # missing/estimated days, DR days
    dr_days = rng.random((customers, n_days)) < 0.1
    holiday = holiday_flags(event - timedelta(days=n_days - 1), event)
    result = high_x_of_y(load, usable, dr_days, holiday, first, units, BaselineRule())
    for c in range(customers):
        days = [list(load[c, d * SLOTS_PER_DAY : (d + 1) * SLOTS_PER_DAY]) for d in range(n_days)]
        ok = [bool(usable[c, d] and not dr_days[c, d]) for d in range(n_days)]
        expected = plain_rule(days, ok, list(holiday), first, units, (10, 4))
        if expected is None:
            assert result.status[c] == BaselineStatus.INSUFFICIENT_DAYS
        else:
            assert result.status[c] == BaselineStatus.OK
            assert result.baseline_wh[c].tolist() == pytest.approx(expected)
