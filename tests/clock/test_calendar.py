"""The billing calendar: holidays from the national calendar, 計量日 by schedule code,
billing periods across month and year ends."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from openami.clock import day_first_slot
from openami.clock.calendar import (
    MAX_READING_DAY_CODE,
    CalendarError,
    assign_reading_day_codes,
    billing_period,
    business_days,
    holiday_flags,
    is_holiday,
    parse_month,
    period_slots,
    reading_day,
)


def test_national_holidays_and_weekends_are_holidays() -> None:
    assert is_holiday(date(2026, 9, 22))  # 国民の休日 between two holidays (a Tuesday)
    assert is_holiday(date(2026, 5, 6))  # substitute holiday (a Wednesday)
    assert is_holiday(date(2026, 9, 26))  # Saturday
    assert not is_holiday(date(2026, 9, 24))  # Thursday
    flags = holiday_flags(date(2026, 9, 20), date(2026, 9, 24))
    assert flags.tolist() == [True, True, True, True, False]


def test_reading_day_is_the_codeth_business_day() -> None:
    # October 2026: Thu 1, Fri 2, Mon 5 …; Sports Day Mon 12 is skipped
    assert [reading_day(c, 2026, 10) for c in (1, 2, 3)] == [
        date(2026, 10, 1),
        date(2026, 10, 2),
        date(2026, 10, 5),
    ]
    assert reading_day(7, 2026, 10) == date(2026, 10, 9)
    assert reading_day(8, 2026, 10) == date(2026, 10, 13)  # not the 12th (a holiday)
    # January 2026: 1st is a holiday, 2nd a Friday
    assert reading_day(1, 2026, 1) == date(2026, 1, 2)
    # every code has a day in every month of the century
    assert min(len(business_days(y, m)) for y in range(2000, 2100) for m in range(1, 13)) >= (
        MAX_READING_DAY_CODE
    )


def test_periods_run_from_one_reading_day_to_the_day_before_the_next() -> None:
    assert billing_period(1, 2026, 10) == (date(2026, 9, 1), date(2026, 9, 30))
    # across the year end: December's 1st business day to the day before January's
    assert billing_period(1, 2026, 1) == (date(2025, 12, 1), date(2026, 1, 1))
    # a late code crosses the month end
    first, last = billing_period(17, 2026, 10)
    assert first.month == 9 and last.month == 10 and first == reading_day(17, 2026, 9)
    # consecutive periods tile the days: no gap, no overlap
    for code in (1, 9, 17):
        _, end_oct = billing_period(code, 2026, 10)
        start_nov, _ = billing_period(code, 2026, 11)
        assert start_nov == end_oct + timedelta(days=1)


def test_period_slots_follow_the_periods_of_each_code() -> None:
    codes = np.array([1, 17, 1, 5])
    first, last = period_slots(codes, 2026, 10)
    for code, a, b in zip(codes, first, last, strict=True):
        p0, p1 = billing_period(int(code), 2026, 10)
        assert a == day_first_slot(p0) and b == day_first_slot(p1 + timedelta(days=1)) - 1


def test_seed_assignment_spreads_points_over_every_code() -> None:
    codes = assign_reading_day_codes(np.arange(1, 1 + 17 * 100))
    assert codes[:3].tolist() == [1, 2, 3] and codes[17] == 1
    assert np.bincount(codes)[1:].tolist() == [100] * 17


@pytest.mark.parametrize("bad", [0, 18, -1])
def test_codes_outside_the_range_are_refused(bad: int) -> None:
    with pytest.raises(CalendarError, match="reading-day codes"):
        reading_day(bad, 2026, 10)
    with pytest.raises(CalendarError):
        period_slots(np.array([1, bad]), 2026, 10)


@pytest.mark.parametrize("text", ["2026-13", "2026/10", "October", "2026-1-1"])
def test_malformed_periods_are_refused(text: str) -> None:
    with pytest.raises(CalendarError, match="YYYY-MM"):
        parse_month(text)
