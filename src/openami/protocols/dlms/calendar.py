"""Time-of-use bands as a COSEM Activity Calendar (class 20, 0.0.13.0.0.255): codec and the
supply plans openami's meters know.

A calendar has a name, day profiles (a day id and its switching times: from ``start`` the
tariff band ``band`` applies, the band being the script selector of the tariffication
script table 0.0.10.0.100.255) and a week profile (the day id of Monday … Sunday). One
season (from any date) carries the one week profile. The head-end writes the *passive*
calendar (attributes 6–9) and activates it (method 1); the meter copies it to the *active*
attributes (2–5), which the head-end reads back.

Attributes (IEC 62056-6-2, class 20 v0): 6 ``calendar_name_passive`` octet-string,
7 ``season_profile_passive`` array of {name, start date-time, week name},
8 ``week_profile_table_passive`` array of {name, Mon … Sun day ids},
9 ``day_profile_table_passive`` array of {day id, array of {start time, script logical
name, script selector}}. Times are 4-byte COSEM times (hour, minute, second, hundredths).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openami.protocols.dlms import axdr
from openami.protocols.dlms.cosem import ACTIVITY_CALENDAR_LN, ClassId, obis

ACTIVITY_CALENDAR_CLASS = ClassId.ACTIVITY_CALENDAR
__all__ = ["ACTIVITY_CALENDAR_LN", "PLANS", "CalendarError", "TouCalendar", "decode_calendar"]
TARIFF_SCRIPT_TABLE_LN = obis("0.0.10.0.100.255")
MAX_BANDS = 8
_WEEK_NAME = b"W1"
_SEASON_NAME = b"S1"
_ANY_DATE = bytes.fromhex("ffffffffffffffffff8000ff")  # a date-time with every field unset

#: (start minute of the day, tariff band)
Switch = tuple[int, int]


class CalendarError(ValueError):
    """A calendar that cannot be encoded, or an attribute value that is not one."""


@dataclass(frozen=True)
class TouCalendar:
    """A week of time-of-use bands: ``days`` maps day ids to their switching times (the
    first at 00:00), ``week`` the day id of Monday … Sunday."""

    name: str
    days: tuple[tuple[int, tuple[Switch, ...]], ...]
    week: tuple[int, int, int, int, int, int, int]

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 16 or not self.name.isascii():
            raise CalendarError("a calendar name is 1-16 ASCII characters")
        ids = [day_id for day_id, _ in self.days]
        if len(set(ids)) != len(ids) or not all(0 <= d <= 255 for d in ids):
            raise CalendarError("day ids are distinct, 0-255")
        for _, switches in self.days:
            starts = [start for start, _ in switches]
            if not starts or starts[0] != 0 or starts != sorted(set(starts)):
                raise CalendarError("a day starts at 00:00 and its switches ascend")
            if not all(0 <= s < 1440 and 1 <= b <= MAX_BANDS for s, b in switches):
                raise CalendarError(f"switch times within the day, bands 1-{MAX_BANDS}")
        if not set(self.week) <= set(ids):
            raise CalendarError("the week names a day profile that does not exist")

    def band_at(self, weekday: int, minute_of_day: int) -> int:
        """The tariff band in force on ``weekday`` (0 = Monday) at ``minute_of_day``."""
        switches = dict(self.days)[self.week[weekday]]
        return [band for start, band in switches if start <= minute_of_day][-1]


def _time(minute: int) -> bytes:
    return bytes((minute // 60, minute % 60, 0, 0))


def encode_name(cal: TouCalendar) -> bytes:
    return axdr.octet_string(cal.name.encode("ascii"))


def encode_season_profile(cal: TouCalendar) -> bytes:
    season = axdr.structure(
        axdr.octet_string(_SEASON_NAME), axdr.octet_string(_ANY_DATE), axdr.octet_string(_WEEK_NAME)
    )
    return axdr.array([season])


def encode_week_profile(cal: TouCalendar) -> bytes:
    days = [axdr.u8(day_id) for day_id in cal.week]
    return axdr.array([axdr.structure(axdr.octet_string(_WEEK_NAME), *days)])


def encode_day_profiles(cal: TouCalendar) -> bytes:
    profiles = []
    for day_id, switches in cal.days:
        actions = [
            axdr.structure(
                axdr.octet_string(_time(start)),
                axdr.octet_string(TARIFF_SCRIPT_TABLE_LN),
                axdr.u16(band),
            )
            for start, band in switches
        ]
        profiles.append(axdr.structure(axdr.u8(day_id), axdr.array(actions)))
    return axdr.array(profiles)


def decode_calendar(name: Any, week_table: Any, day_table: Any) -> TouCalendar:
    """A calendar from the decoded values of its name, week and day profile attributes."""
    try:
        if not isinstance(name, bytes) or not isinstance(week_table, list) or not week_table:
            raise CalendarError("not a calendar name and week profile table")
        week = tuple(int(d) for d in week_table[0][1:8])
        days = []
        for day_id, actions in day_table:
            switches = []
            for start, script, band in actions:
                is_time = isinstance(start, bytes) and len(start) == 4
                if not is_time or script != TARIFF_SCRIPT_TABLE_LN:
                    raise CalendarError("a day action is {time, tariff script table, band}")
                switches.append((start[0] * 60 + start[1], int(band)))
            days.append((int(day_id), tuple(switches)))
        if len(week) != 7:
            raise CalendarError("a week profile names seven days")
        return TouCalendar(name.decode("ascii"), tuple(days), week)
    except (TypeError, ValueError, IndexError, UnicodeDecodeError) as exc:
        if isinstance(exc, CalendarError):
            raise
        raise CalendarError(f"not an activity calendar: {exc}") from None


_WEEKDAYS = (1, 1, 1, 1, 1, 2, 2)  # Monday … Friday day 1, Saturday and Sunday day 2

#: the supply plans' bands (band 1 day/flat, 2 night, 3 peak); names as in
#: ``openami.bus.messages.SUPPLY_PLANS``
PLANS: dict[str, TouCalendar] = {
    "flat": TouCalendar("flat", ((1, ((0, 1),)),), (1,) * 7),
    # 夜間: 23:00-07:00 night, the rest day, every day
    "day_night": TouCalendar(
        "day_night",
        ((1, ((0, 2), (7 * 60, 1), (23 * 60, 2))),),
        (1,) * 7,
    ),
    # 時間帯別: weekdays night 23-07, day, peak 13-16; weekends day and night only
    "weekday_peak": TouCalendar(
        "weekday_peak",
        (
            (1, ((0, 2), (7 * 60, 1), (13 * 60, 3), (16 * 60, 1), (23 * 60, 2))),
            (2, ((0, 2), (7 * 60, 1), (23 * 60, 2))),
        ),
        _WEEKDAYS,
    ),
}
