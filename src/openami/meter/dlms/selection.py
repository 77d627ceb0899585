"""Selective access to the emulator's profiles: which rows and columns a descriptor picks.

Shared by every meter of an emulator: :class:`BoundaryDatetimes` caches the encoded
date-time of each slot boundary (all meters' profile rows carry the same ones).
"""

from __future__ import annotations

from datetime import timedelta, timezone

from openami.clock.slots import slot_start_s
from openami.protocols.dlms import axdr
from openami.protocols.dlms.axdr import AxdrError
from openami.protocols.dlms.cosem import CLOCK_LN, DataAccessResult
from openami.protocols.dlms.profile import CaptureObject, EntryDescriptor, RangeDescriptor

JST_OFFSET_MIN = 540
JST_FIXED = timezone(timedelta(minutes=JST_OFFSET_MIN))


class BoundaryDatetimes:
    """Encoded date-times (``09 0c`` + 12 bytes, JST) of slot boundaries, cached: every meter
    of an emulator shares one, since profile rows of all meters carry the same boundaries."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self.known: dict[int, bytes] = {}  # hot loops look here first, then call

    def __call__(self, boundary: int) -> bytes:
        encoded = self.known.get(boundary)
        if encoded is None:
            if len(self.known) >= self.max_entries:
                self.known.clear()
            epoch_s = int(slot_start_s(boundary))
            encoded = axdr.octet_string(axdr.encode_epoch_datetime(epoch_s, JST_OFFSET_MIN))
            self.known[boundary] = encoded
        return encoded


class SelectionError(Exception):
    """A selective access the profile cannot serve (mapped to a data-access-result)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def columns(
    all_columns: tuple[CaptureObject, ...], sel: RangeDescriptor | EntryDescriptor | None
) -> list[int]:
    n = len(all_columns)
    if sel is None:
        return list(range(n))
    if isinstance(sel, RangeDescriptor):
        if not sel.selected_values:
            return list(range(n))
        try:
            return [all_columns.index(c) for c in sel.selected_values]
        except ValueError:
            raise SelectionError(DataAccessResult.OBJECT_UNAVAILABLE) from None
    first = max(sel.from_selected_value, 1)
    last = n if sel.to_selected_value == 0 else min(sel.to_selected_value, n)
    if first > last:
        raise SelectionError(DataAccessResult.OTHER_REASON)
    return list(range(first - 1, last))


def time_bounds(sel: RangeDescriptor) -> tuple[float, float]:
    if sel.restricting_object.logical_name != CLOCK_LN or sel.restricting_object.class_id != 8:
        raise SelectionError(DataAccessResult.OBJECT_UNAVAILABLE)
    try:
        start = axdr.decode_datetime(sel.from_value, JST_FIXED).timestamp()
        end = axdr.decode_datetime(sel.to_value, JST_FIXED).timestamp()
    except AxdrError:
        raise SelectionError(DataAccessResult.TYPE_UNMATCHED) from None
    return start, end
