"""The Japanese business calendar of billing: holidays, business days, meter-reading days.

- **Holiday** (休日): Saturday, Sunday or a Japanese national holiday (国民の祝日, with the
  substitute holidays and the citizens' holidays between two holidays), from the maintained
  ``holidays`` library. The holiday time-of-use band and the business days below use it.
- **Business day** (営業日): a day that is not a holiday.
- **Meter-reading day** (計量日): each supply point has a ``reading_day_code`` (the TSO's
  基本検針日 schedule code, 1 … :data:`MAX_READING_DAY_CODE`): its 計量日 in a month is that
  month's ``code``-th business day. Areas use 17-19 working days for their codes (Tohoku and
  Chubu from the first weekday, Tokyo from the second business day); openami counts from the
  first business day in every area and keeps the codes within the shortest month's business
  days, so every code has a day in every month.
- **Billing period** of month ``YYYY-MM`` (計量期間): from the previous month's 計量日 to the
  day before this month's, i.e. ``[reading_day(M-1), reading_day(M))`` in JST days.

Columnar helpers work on NumPy arrays of codes (one entry per supply point); only the
calendar itself (≤ 17 codes x a few months) is built in Python.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays
import numpy as np

from openami.clock.slots import day_first_slot

#: highest schedule code, as in Tohoku and Chubu (every month of 2000-2099 has ≥ 18 business days)
MAX_READING_DAY_CODE = 17


class CalendarError(ValueError):
    """A reading-day code or period outside the calendar's rules."""


@lru_cache(maxsize=64)
def _national_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("JP", years=year))


def is_holiday(day: date) -> bool:
    """Saturday, Sunday or a Japanese national holiday."""
    return day.weekday() >= 5 or day in _national_holidays(day.year)


def holiday_flags(first_day: date, last_day: date) -> np.ndarray:
    """One bool per JST day ``first_day`` … ``last_day`` (inclusive): is it a holiday."""
    n = (last_day - first_day).days + 1
    return np.array([is_holiday(first_day + timedelta(days=i)) for i in range(max(n, 0))], bool)


@lru_cache(maxsize=256)
def business_days(year: int, month: int) -> tuple[date, ...]:
    """The month's business days, in order."""
    day, out = date(year, month, 1), []
    while day.month == month:
        if not is_holiday(day):
            out.append(day)
        day += timedelta(days=1)
    return tuple(out)


def parse_month(text: str) -> tuple[int, int]:
    """``YYYY-MM`` as (year, month); a clear error otherwise."""
    try:
        year_s, month_s = text.split("-")
        year, month = int(year_s), int(month_s)
        date(year, month, 1)
    except ValueError as exc:
        raise CalendarError(f"a period is YYYY-MM, got {text!r}") from exc
    return year, month


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def check_code(code: int) -> None:
    if not 1 <= code <= MAX_READING_DAY_CODE:
        raise CalendarError(f"reading-day codes are 1 … {MAX_READING_DAY_CODE}, got {code}")


def reading_day(code: int, year: int, month: int) -> date:
    """The 計量日 of schedule code ``code`` in a month: its ``code``-th business day."""
    check_code(code)
    return business_days(year, month)[code - 1]


def billing_period(code: int, year: int, month: int) -> tuple[date, date]:
    """(first day, last day) inclusive of the billing period of month ``year-month`` for
    ``code``: from the previous month's 計量日 to the day before this month's."""
    first = reading_day(code, *previous_month(year, month))
    return first, reading_day(code, year, month) - timedelta(days=1)


def assign_reading_day_codes(supply_point_keys: np.ndarray) -> np.ndarray:
    """The seed's deterministic assignment: keys spread evenly over codes 1 … 17 (key 1 →
    code 1, key 2 → 2, …, key 18 → 1), so every business-day group holds as many points."""
    keys = np.asarray(supply_point_keys, dtype=np.int64)
    return ((keys - 1) % MAX_READING_DAY_CODE + 1).astype(np.int16)


def period_slots(codes: np.ndarray, year: int, month: int) -> tuple[np.ndarray, np.ndarray]:
    """Per supply point (its code in ``codes``): the first slot and the last slot of its
    billing period of ``year-month``, as int64 arrays (vectorised over the ≤ 17 codes)."""
    codes = np.asarray(codes, dtype=np.int64)
    bad = (codes < 1) | (codes > MAX_READING_DAY_CODE)
    if bad.any():
        check_code(int(codes[bad][0]))
    first_of = np.zeros(MAX_READING_DAY_CODE + 1, np.int64)
    last_of = np.zeros(MAX_READING_DAY_CODE + 1, np.int64)
    for code in range(1, MAX_READING_DAY_CODE + 1):
        first, last = billing_period(code, year, month)
        first_of[code] = day_first_slot(first)
        last_of[code] = day_first_slot(last + timedelta(days=1)) - 1
    return first_of[codes], last_of[codes]


def month_span(year: int, month: int) -> tuple[date, date]:
    """First and last day that any code's billing period of ``year-month`` covers."""
    first = reading_day(1, *previous_month(year, month))
    return first, reading_day(MAX_READING_DAY_CODE, year, month) - timedelta(days=1)
