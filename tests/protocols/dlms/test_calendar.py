"""Activity calendar codec: the supply plans survive encode → decode; bad calendars and
bad attribute values are refused with CalendarError."""

from __future__ import annotations

import pytest

from openami.bus.messages import SUPPLY_PLANS
from openami.protocols.dlms import axdr
from openami.protocols.dlms.calendar import (
    PLANS,
    CalendarError,
    TouCalendar,
    decode_calendar,
    encode_day_profiles,
    encode_name,
    encode_week_profile,
)


def roundtrip(cal: TouCalendar) -> TouCalendar:
    return decode_calendar(
        axdr.decode_all(encode_name(cal)),
        axdr.decode_all(encode_week_profile(cal)),
        axdr.decode_all(encode_day_profiles(cal)),
    )


def test_every_supply_plan_has_bands_and_survives_the_wire() -> None:
    assert set(PLANS) == set(SUPPLY_PLANS)
    for cal in PLANS.values():
        assert roundtrip(cal) == cal
    peak = PLANS["weekday_peak"]
    assert peak.band_at(0, 14 * 60) == 3  # Monday 14:00: peak
    assert peak.band_at(5, 14 * 60) == 1  # Saturday 14:00: day
    assert peak.band_at(2, 23 * 60 + 30) == 2 and peak.band_at(2, 6 * 60 + 59) == 2
    assert PLANS["flat"].band_at(6, 0) == 1


@pytest.mark.parametrize(
    ("days", "week", "why"),
    [
        (((1, ((60, 1),)),), (1,) * 7, "starts at 00:00"),
        (((1, ((0, 1), (0, 2))),), (1,) * 7, "ascend"),
        (((1, ((0, 9),)),), (1,) * 7, "bands"),
        (((1, ((0, 1), (1440, 2))),), (1,) * 7, "within the day"),
        (((1, ((0, 1),)),), (1, 1, 1, 1, 1, 2, 2), "does not exist"),
        (((1, ((0, 1),)), (1, ((0, 2),))), (1,) * 7, "distinct"),
    ],
)
def test_bad_calendars_are_refused(days: object, week: object, why: str) -> None:
    with pytest.raises(CalendarError, match=why):
        TouCalendar("x", days, week)  # type: ignore[arg-type]


def test_values_that_are_not_calendars_are_refused() -> None:
    cal = PLANS["day_night"]
    name = axdr.decode_all(encode_name(cal))
    week = axdr.decode_all(encode_week_profile(cal))
    days = axdr.decode_all(encode_day_profiles(cal))
    bad_script = [(1, [(b"\x00\x00\x00\x00", b"\x00" * 6, 1)])]
    for args in (
        (b"name", week, bad_script),
        ("text", week, days),
        (name, [], days),
        (name, [(b"W1", 1, 1)], days),  # three days, not seven
        (name, week, [(1, "not a list")]),
    ):
        with pytest.raises(CalendarError):
            decode_calendar(*args)
