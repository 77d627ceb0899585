"""The Clock object (class 8, 0.0.1.0.0.255) of one emulated meter: readable and settable.

Every emulated meter keeps its own offset from the field's clock (0 at start), as a real
meter keeps its own real-time clock: attribute 2 (time) reads the field's time plus the
offset, in JST (deviation -540), and a SET of attribute 2 with a COSEM date-time moves the
offset so that the meter reads that time from then on (the HES's clock set, confirmed by
reading it back). A date-time without its deviation counts as JST. The other attributes are
read-only. With the emulator's state store (``openami dlms serve``: the meter state
directory) the offset is saved before the SET is answered and a restarted emulator's meter
runs on from it (:meth:`MeterClock.keep`); without one, a restart gives its meters the
field's time again. The load profile and event log stay on the field's time grid.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from openami.clock import Clock
from openami.meter.dlms.selection import JST_FIXED, JST_OFFSET_MIN
from openami.protocols.dlms import axdr
from openami.protocols.dlms.axdr import AxdrError
from openami.protocols.dlms.cosem import DataAccessResult

_WILDCARD_DT = bytes.fromhex("ffffffffffffffffff8000ff")
#: a SET further than this from the field's time is refused (a garbled or hostile value)
MAX_OFFSET_S = 366 * 86400.0


class MeterClock:
    """One meter's clock over the field's ``clock``; ``on_set`` is told the offset change."""

    def __init__(self, clock: Clock, on_set: Callable[[float], None] | None = None) -> None:
        self.clock = clock
        self.offset_s = 0.0
        self.on_set = on_set
        self._save: Callable[[float], None] | None = None

    def keep(self, offset_s: float, save: Callable[[float], None]) -> None:
        """Run from a saved ``offset_s``; ``save`` is given each new offset before a SET of
        the time is answered (it raises to refuse the SET: the offset stays)."""
        self.offset_s = float(offset_s)
        self._save = save

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.timestamp() + self.offset_s, JST_FIXED)

    def get(self, attribute_id: int) -> bytes:
        if attribute_id == 2:
            return axdr.octet_string(axdr.encode_datetime(self.now()))
        return {
            3: axdr.i16(-JST_OFFSET_MIN),
            4: axdr.u8(0),
            5: axdr.octet_string(_WILDCARD_DT),
            6: axdr.octet_string(_WILDCARD_DT),
            7: axdr.i8(0),
            8: axdr.boolean(False),
            9: axdr.enum(1),
        }[attribute_id]

    def set(self, attribute_id: int, value: bytes) -> int:
        """SET of attribute ``attribute_id``: a ``DataAccessResult`` code."""
        if attribute_id != 2:
            return DataAccessResult.READ_WRITE_DENIED
        try:
            raw = axdr.decode_all(value)
            if not isinstance(raw, bytes):
                return DataAccessResult.TYPE_UNMATCHED
            wanted = axdr.decode_datetime(raw, JST_FIXED)
        except AxdrError:
            return DataAccessResult.TYPE_UNMATCHED
        offset_s = wanted.timestamp() - self.clock.timestamp()
        if abs(offset_s) > MAX_OFFSET_S:
            return DataAccessResult.OTHER_REASON
        if self._save is not None:
            self._save(offset_s)  # durable before the meter answers
        change_s, self.offset_s = offset_s - self.offset_s, offset_s
        if self.on_set is not None:
            self.on_set(change_s)
        return DataAccessResult.SUCCESS
