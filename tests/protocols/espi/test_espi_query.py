"""ESPI published-* period → JST days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from openami.clock import JST
from openami.protocols.espi.query import QueryError, period_days

NOW = datetime(2026, 11, 3, 1, 0, tzinfo=JST)


def test_default_is_yesterday_and_today_in_jst() -> None:
    assert period_days(None, None, NOW) == [date(2026, 11, 2), date(2026, 11, 3)]


def test_window_is_half_open_and_in_jst() -> None:
    # 2026-10-31T15:00Z = 2026-11-01 00:00 JST; the max is exclusive
    days = period_days(
        datetime(2026, 10, 31, 15, tzinfo=UTC), datetime(2026, 11, 2, 15, tzinfo=UTC), NOW
    )
    assert days == [date(2026, 11, 1), date(2026, 11, 2)]
    one = period_days(datetime(2026, 11, 1, 12, tzinfo=JST), datetime(2026, 11, 1, 13), NOW)
    assert one == [date(2026, 11, 1)]  # a naive max is UTC: 13:00Z = 22:00 JST


def test_only_min_runs_to_now_and_only_max_starts_the_day_before() -> None:
    assert period_days(datetime(2026, 11, 1, tzinfo=JST), None, NOW)[-1] == date(2026, 11, 3)
    assert period_days(None, datetime(2026, 11, 1, 12, tzinfo=JST), NOW) == [
        date(2026, 10, 31),
        date(2026, 11, 1),
    ]


@pytest.mark.parametrize(
    ("p_min", "p_max", "code"),
    [
        (datetime(2026, 11, 2, tzinfo=JST), datetime(2026, 11, 1, tzinfo=JST), "invalid_period"),
        (datetime(2026, 1, 1, tzinfo=JST), datetime(2026, 3, 1, tzinfo=JST), "period_too_long"),
        (datetime(9999, 12, 31, tzinfo=UTC), None, "invalid_period"),
        (None, datetime(1, 1, 2, tzinfo=UTC), "invalid_period"),
    ],
)
def test_refusals_carry_an_error_code(
    p_min: datetime | None, p_max: datetime | None, code: str
) -> None:
    with pytest.raises(QueryError) as info:
        period_days(p_min, p_max, NOW)
    assert info.value.code == code
