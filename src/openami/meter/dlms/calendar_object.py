"""The Activity Calendar (class 20, 0.0.13.0.0.255) of one emulated meter: the time-of-use
bands it keeps (see :mod:`openami.protocols.dlms.calendar`).

The head-end SETs the passive attributes (6 name, 7 season, 8 week, 9 day profiles) and
calls method 1 (activate_passive_calendar): the passive calendar is checked and becomes
the active one (attributes 2-5), and the meter's supply plan (``MeterFleet.supply_plan_code``)
follows when its name is one of ``SUPPLY_PLANS``. A passive calendar that is not a valid
calendar is refused at activation, and the active one stays. Attribute 10
(activate_passive_calendar_time) is the unset date-time: activation is immediate.
"""

from __future__ import annotations

from openami.bus.messages import SUPPLY_PLANS
from openami.protocols.dlms import axdr
from openami.protocols.dlms.calendar import (
    PLANS,
    CalendarError,
    TouCalendar,
    decode_calendar,
    encode_day_profiles,
    encode_name,
    encode_season_profile,
    encode_week_profile,
)
from openami.protocols.dlms.cosem import ActionResult, DataAccessResult

_ANY_DATE = bytes.fromhex("ffffffffffffffffff8000ff")
PASSIVE_ATTRIBUTES = (6, 7, 8, 9)


def _attributes(cal: TouCalendar) -> dict[int, bytes]:
    return {
        1: encode_name(cal),
        2: encode_season_profile(cal),
        3: encode_week_profile(cal),
        4: encode_day_profiles(cal),
    }


class ActivityCalendar:
    """The active and passive calendars of one meter (encoded attribute values)."""

    def __init__(self, plan_code: int) -> None:
        start = PLANS[SUPPLY_PLANS[plan_code - 1]] if 1 <= plan_code <= len(SUPPLY_PLANS) else None
        self.active = _attributes(start or PLANS["flat"])
        self.passive = dict(self.active)

    def get(self, attribute_id: int) -> bytes:
        if 2 <= attribute_id <= 5:
            return self.active[attribute_id - 1]
        if 6 <= attribute_id <= 9:
            return self.passive[attribute_id - 5]
        return axdr.octet_string(_ANY_DATE)  # 10: activate_passive_calendar_time

    def set(self, attribute_id: int, value: bytes) -> int:
        if attribute_id not in PASSIVE_ATTRIBUTES:
            return DataAccessResult.READ_WRITE_DENIED
        try:
            axdr.decode_all(value)
        except axdr.AxdrError:
            return DataAccessResult.TYPE_UNMATCHED
        self.passive[attribute_id - 5] = value
        return DataAccessResult.SUCCESS

    def activate(self) -> tuple[int, TouCalendar | None]:
        """Method 1: the passive calendar becomes active (if it is a calendar)."""
        try:
            cal = decode_calendar(
                axdr.decode_all(self.passive[1]),
                axdr.decode_all(self.passive[3]),
                axdr.decode_all(self.passive[4]),
            )
        except (CalendarError, axdr.AxdrError):
            return ActionResult.OTHER_REASON, None
        self.active = dict(self.passive)
        return ActionResult.SUCCESS, cal


def plan_code_of(cal: TouCalendar) -> int | None:
    """The supply plan code of a calendar that is one of the plans (same name and bands)."""
    if cal.name in SUPPLY_PLANS and PLANS.get(cal.name) == cal:
        return SUPPLY_PLANS.index(cal.name) + 1
    return None
