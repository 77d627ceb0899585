"""What an emulated meter holds and who may touch it: the object list and the access rights.

Three client levels (the client SAP and the mechanism of the association):

- the **public client** (SAP 16, no authentication) reads only the public objects: the
  logical device name, the invocation counter the meter expects, and the association itself
  (object list, partners), what a client needs to set up a secured association; no
  register, profile, clock or event log;
- the **password (LLS) level** reads every object and writes none: the password crosses the
  wire in clear, so it never switches a supply or changes a threshold;
- **HLS-GMAC with authenticated encryption** reads and writes (SET, ACTION, key transfer).
"""

from __future__ import annotations

from openami.protocols.dlms import axdr
from openami.protocols.dlms.acse import Mechanism
from openami.protocols.dlms.cosem import (
    ACTIVITY_CALENDAR_LN,
    ALARM_FILTER_LN,
    ALARM_REGISTER_LN,
    ASSOCIATION_LN,
    CLOCK_LN,
    CURRENT_LN,
    DISCONNECT_CONTROL_LN,
    EVENT_CODE_LN,
    EVENT_LOG_LN,
    EXPORT_ENERGY_LN,
    IMPORT_ENERGY_LN,
    INVOCATION_COUNTER_LN,
    LIMITER_LN,
    LOAD_PROFILE_LN,
    LOGICAL_DEVICE_NAME_LN,
    SECURITY_SETUP_LN,
    ClassId,
)
from openami.protocols.dlms.server_session import ServerAssociation

SYSTEM_TITLE_PREFIX = b"OAM"  # 3-letter manufacturer id of openami's simulated meters


def meter_system_title(meter_id: int) -> bytes:
    """8-byte system title: ``OAM`` + the meter id's low 40 bits."""
    return SYSTEM_TITLE_PREFIX + (meter_id & 0xFF_FFFF_FFFF).to_bytes(5, "big")


def logical_device_name(meter_id: int) -> bytes:
    """COSEM logical device name (16 bytes): manufacturer id + 13 digits of the meter id."""
    return SYSTEM_TITLE_PREFIX + f"{meter_id % 10**13:013d}".encode("ascii")


# (class id, version, logical name, attribute count, method count)
OBJECTS: tuple[tuple[int, int, bytes, int, int], ...] = (
    (ClassId.CLOCK, 0, CLOCK_LN, 9, 6),
    (ClassId.REGISTER, 0, IMPORT_ENERGY_LN, 3, 1),
    (ClassId.REGISTER, 0, EXPORT_ENERGY_LN, 3, 1),
    (ClassId.REGISTER, 0, CURRENT_LN, 3, 1),
    (ClassId.PROFILE_GENERIC, 1, LOAD_PROFILE_LN, 8, 2),
    (ClassId.PROFILE_GENERIC, 1, EVENT_LOG_LN, 8, 2),
    (ClassId.DATA, 0, EVENT_CODE_LN, 2, 0),
    (ClassId.DISCONNECT_CONTROL, 0, DISCONNECT_CONTROL_LN, 4, 2),
    (ClassId.LIMITER, 0, LIMITER_LN, 11, 0),
    (ClassId.ACTIVITY_CALENDAR, 0, ACTIVITY_CALENDAR_LN, 10, 1),
    (ClassId.ASSOCIATION_LN, 1, ASSOCIATION_LN, 9, 1),
    (ClassId.DATA, 0, INVOCATION_COUNTER_LN, 2, 0),
    (ClassId.DATA, 0, LOGICAL_DEVICE_NAME_LN, 2, 0),
    (ClassId.SECURITY_SETUP, 0, SECURITY_SETUP_LN, 5, 2),
    (ClassId.DATA, 0, ALARM_REGISTER_LN, 2, 0),
    (ClassId.DATA, 0, ALARM_FILTER_LN, 2, 0),
)
KNOWN = {(cid, ln): (nattr, nmeth) for cid, _v, ln, nattr, nmeth in OBJECTS}

PUBLIC_OBJECTS = frozenset(
    {
        (ClassId.DATA, LOGICAL_DEVICE_NAME_LN),
        (ClassId.DATA, INVOCATION_COUNTER_LN),
        (ClassId.ASSOCIATION_LN, ASSOCIATION_LN),
    }
)


def readable(ctx: ServerAssociation, key: tuple[int, bytes]) -> bool:
    """May this association read the object ``key`` (class id, logical name)?"""
    return ctx.mechanism != Mechanism.NONE or key in PUBLIC_OBJECTS


def _object_list() -> bytes:
    items = []
    for cid, version, ln, nattr, nmeth in OBJECTS:
        attrs = [
            axdr.structure(axdr.i8(i), axdr.enum(3 if i > 1 else 1), axdr.null())
            for i in range(1, nattr + 1)
        ]
        methods = [axdr.structure(axdr.i8(i), axdr.enum(1)) for i in range(1, nmeth + 1)]
        items.append(
            axdr.structure(
                axdr.u16(cid),
                axdr.u8(version),
                axdr.octet_string(ln),
                axdr.structure(axdr.array(attrs), axdr.array(methods)),
            )
        )
    return axdr.array(items)


OBJECT_LIST = _object_list()

# openami event codes written to the standard event log (0.0.99.98.0.255)
EVENT_REMOTE_DISCONNECT = 1
EVENT_REMOTE_RECONNECT = 2
EVENT_LIMITER_CHANGED = 3
EVENT_AUTHENTICATION_FAILURE = 4
EVENT_COUNTER_REPLAY = 5
EVENT_DECIPHERING_ERROR = 6
EVENT_SECURITY_POLICY_VIOLATION = 7  # not authenticated encryption in an HLS association
EVENT_ASSOCIATION_LOCKED = 8  # a client locked out after failed associations
EVENT_KEYS_CHANGED = 9  # a key transfer through the Security Setup object
EVENT_TARIFF_CHANGED = 10  # a new time-of-use calendar activated
EVENT_CLOCK_SET = 11  # the clock was set (a SET of the Clock's time)
EVENT_POWER_DOWN = 12  # mains lost (the last gasp)
EVENT_POWER_UP = 13  # mains back
EVENT_COVER_OPENED = 14  # terminal cover opened (tamper)
SECURITY_EVENTS = {
    "authentication-failure": EVENT_AUTHENTICATION_FAILURE,
    "invocation-counter-replay": EVENT_COUNTER_REPLAY,
    "deciphering-error": EVENT_DECIPHERING_ERROR,
    "security-policy-violation": EVENT_SECURITY_POLICY_VIOLATION,
    "association-locked": EVENT_ASSOCIATION_LOCKED,
}

# bits of Alarm register 1 (0.0.97.98.0.255) and its filter (0.0.97.98.10.255): the alarms
# among the events above; logging one of these events raises its bit (if the filter lets it)
ALARM_POWER_DOWN = 1 << 0  # the last gasp
ALARM_POWER_UP = 1 << 1
ALARM_COVER_OPENED = 1 << 2  # tamper
ALARM_BIT_OF_EVENT = {
    EVENT_POWER_DOWN: ALARM_POWER_DOWN,
    EVENT_POWER_UP: ALARM_POWER_UP,
    EVENT_COVER_OPENED: ALARM_COVER_OPENED,
}
#: every alarm bit a meter raises (the filter's default: all of them)
ALARM_BITS = ALARM_POWER_DOWN | ALARM_POWER_UP | ALARM_COVER_OPENED
