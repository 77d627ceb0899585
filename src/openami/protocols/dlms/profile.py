"""Selective access to profile generic buffers: range_descriptor (1) and entry_descriptor (2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openami.protocols.dlms import axdr
from openami.protocols.dlms.apdu import SelectiveAccess
from openami.protocols.dlms.axdr import AxdrError
from openami.protocols.dlms.cosem import CLOCK_LN, ClassId

RANGE_SELECTOR = 1
ENTRY_SELECTOR = 2


@dataclass(frozen=True, slots=True)
class CaptureObject:
    """A capture object definition: class id, logical name, attribute index, data index."""

    class_id: int
    logical_name: bytes
    attribute_id: int
    data_index: int = 0

    def encode(self) -> bytes:
        return axdr.structure(
            axdr.u16(self.class_id),
            axdr.octet_string(self.logical_name),
            axdr.i8(self.attribute_id),
            axdr.u16(self.data_index),
        )

    @classmethod
    def from_value(cls, value: Any) -> CaptureObject:
        if (
            not isinstance(value, tuple)
            or len(value) != 4
            or not isinstance(value[1], bytes)
            or len(value[1]) != 6
            or not all(_is_int(value[i]) for i in (0, 2, 3))
        ):
            raise AxdrError("a capture object definition is {class, LN, attribute, data index}")
        return cls(value[0], value[1], value[2], value[3])


def _is_int(value: Any) -> bool:
    """An integer from the wire (a boolean or a null is none)."""
    return isinstance(value, int) and not isinstance(value, bool)


CLOCK_TIME = CaptureObject(ClassId.CLOCK, CLOCK_LN, 2)


@dataclass(frozen=True, slots=True)
class RangeDescriptor:
    restricting_object: CaptureObject
    from_value: bytes  # 12-byte COSEM date-time when restricted by the clock
    to_value: bytes
    selected_values: tuple[CaptureObject, ...] = ()


@dataclass(frozen=True, slots=True)
class EntryDescriptor:
    from_entry: int  # 1-based
    to_entry: int  # 0 = the newest entry
    from_selected_value: int = 1  # 1-based column
    to_selected_value: int = 0  # 0 = the last column


def by_range(
    start: datetime,
    end: datetime,
    columns: tuple[CaptureObject, ...] = (),
    restricting_object: CaptureObject = CLOCK_TIME,
) -> SelectiveAccess:
    """Rows whose restricting value (the clock) is in ``[start, end]``."""
    params = axdr.structure(
        restricting_object.encode(),
        axdr.octet_string(axdr.encode_datetime(start)),
        axdr.octet_string(axdr.encode_datetime(end)),
        axdr.array([c.encode() for c in columns]),
    )
    return SelectiveAccess(RANGE_SELECTOR, params)


def by_entry(
    from_entry: int, to_entry: int = 0, from_column: int = 1, to_column: int = 0
) -> SelectiveAccess:
    """Rows ``from_entry..to_entry`` (1-based, inclusive; ``to_entry`` 0 = newest)."""
    params = axdr.structure(
        axdr.u32(from_entry), axdr.u32(to_entry), axdr.u16(from_column), axdr.u16(to_column)
    )
    return SelectiveAccess(ENTRY_SELECTOR, params)


def parse_access(access: SelectiveAccess) -> RangeDescriptor | EntryDescriptor:
    """Decode selective-access parameters; raise :class:`AxdrError` when malformed."""
    value = axdr.decode_all(access.parameters)
    if access.selector == RANGE_SELECTOR:
        if not isinstance(value, tuple) or len(value) != 4 or not isinstance(value[3], list):
            raise AxdrError("range_descriptor is {restricting object, from, to, columns}")
        restricting = CaptureObject.from_value(value[0])
        start, end = value[1], value[2]
        if not isinstance(start, bytes) or not isinstance(end, bytes):
            raise AxdrError("range_descriptor from/to must be date-time octet strings")
        columns = tuple(CaptureObject.from_value(v) for v in value[3])
        return RangeDescriptor(restricting, start, end, columns)
    if access.selector == ENTRY_SELECTOR:
        if not isinstance(value, tuple) or len(value) != 4 or not all(_is_int(v) for v in value):
            raise AxdrError("entry_descriptor is {from entry, to entry, from column, to column}")
        return EntryDescriptor(*value)
    raise AxdrError(f"access selector {access.selector} is not supported")
