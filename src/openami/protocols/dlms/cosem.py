"""COSEM addressing: OBIS codes, attribute and method references, result codes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


def obis(text: str) -> bytes:
    """``"1.0.1.8.0.255"`` (also ``1-0:1.8.0*255``) → 6 bytes."""
    parts = [p for p in text.replace("-", ".").replace(":", ".").replace("*", ".").split(".") if p]
    if len(parts) != 6:
        raise ValueError(f"an OBIS code has six groups, got {text!r}")
    values = [int(p) for p in parts]
    if any(not 0 <= v <= 255 for v in values):
        raise ValueError(f"OBIS groups are 0..255, got {text!r}")
    return bytes(values)


def obis_text(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


class ClassId(IntEnum):
    DATA = 1
    REGISTER = 3
    PROFILE_GENERIC = 7
    CLOCK = 8
    SCRIPT_TABLE = 9
    ACTIVITY_CALENDAR = 20
    ASSOCIATION_LN = 15
    SECURITY_SETUP = 64
    DISCONNECT_CONTROL = 70
    LIMITER = 71


class DataAccessResult(IntEnum):
    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_CLASS_INCONSISTENT = 9
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    SCOPE_OF_ACCESS_VIOLATED = 13
    DATA_BLOCK_UNAVAILABLE = 14
    LONG_GET_ABORTED = 15
    NO_LONG_GET_IN_PROGRESS = 16
    DATA_BLOCK_NUMBER_INVALID = 19
    OTHER_REASON = 250


class ActionResult(IntEnum):
    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_CLASS_INCONSISTENT = 9
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    SCOPE_OF_ACCESS_VIOLATED = 13
    OTHER_REASON = 250


class Unit(IntEnum):
    """A few DLMS units (Blue Book unit table)."""

    WH = 30
    W = 27
    AMPERE = 33
    VOLT = 35
    SECOND = 7


@dataclass(frozen=True, slots=True)
class AttributeRef:
    """One attribute of one COSEM object (class id, logical name, attribute index)."""

    class_id: int
    logical_name: bytes
    attribute_id: int

    @classmethod
    def of(cls, class_id: int, ln: str, attribute_id: int) -> AttributeRef:
        return cls(class_id, obis(ln), attribute_id)

    def __str__(self) -> str:
        return f"{self.class_id}/{obis_text(self.logical_name)}/a{self.attribute_id}"


@dataclass(frozen=True, slots=True)
class MethodRef:
    """One method of one COSEM object."""

    class_id: int
    logical_name: bytes
    method_id: int

    @classmethod
    def of(cls, class_id: int, ln: str, method_id: int) -> MethodRef:
        return cls(class_id, obis(ln), method_id)

    def __str__(self) -> str:
        return f"{self.class_id}/{obis_text(self.logical_name)}/m{self.method_id}"


# Well-known logical names used by openami's meters.
CLOCK_LN = obis("0.0.1.0.0.255")
IMPORT_ENERGY_LN = obis("1.0.1.8.0.255")
EXPORT_ENERGY_LN = obis("1.0.2.8.0.255")
CURRENT_LN = obis("1.0.11.7.0.255")
LOAD_PROFILE_LN = obis("1.0.99.1.0.255")
EVENT_LOG_LN = obis("0.0.99.98.0.255")
EVENT_CODE_LN = obis("0.0.96.11.0.255")
DISCONNECT_CONTROL_LN = obis("0.0.96.3.10.255")
LIMITER_LN = obis("0.0.17.0.0.255")
ACTIVITY_CALENDAR_LN = obis("0.0.13.0.0.255")  # time-of-use bands (class 20)
ASSOCIATION_LN = obis("0.0.40.0.0.255")
INVOCATION_COUNTER_LN = obis("0.0.43.1.0.255")
LOGICAL_DEVICE_NAME_LN = obis("0.0.42.0.0.255")
SECURITY_SETUP_LN = obis("0.0.43.0.0.255")
ALARM_REGISTER_LN = obis("0.0.97.98.0.255")  # Alarm register 1 (class 1): u32 bit field
ALARM_FILTER_LN = obis("0.0.97.98.10.255")  # Alarm filter 1 (class 1): bits that may rise
