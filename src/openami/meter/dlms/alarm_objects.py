"""Alarm register 1 (0.0.97.98.0.255) and Alarm filter 1 (0.0.97.98.10.255) of one meter.

Both are Data objects (class 1) whose value (attribute 2) is a double-long-unsigned bit
field (bits: :data:`openami.meter.dlms.catalog.ALARM_BIT_OF_EVENT`). Logging an alarm
event (power down, power up, cover opened) raises its bit in the register when the filter
has it set (every alarm bit by default). A SET of the register *clears* the bits written as
1 and leaves the others: a HES resets with the bits it read, so an alarm that rose between
its read and its SET stays for the next read. A SET of the filter replaces it (bits outside
:data:`ALARM_BITS` are refused). Writing either needs a client that may write (HLS-GMAC).
:attr:`AlarmRegister.on_rise` is told each bit that rises (a push of the alarm).
"""

from __future__ import annotations

from collections.abc import Callable

from openami.meter.dlms.catalog import ALARM_BITS
from openami.protocols.dlms import axdr
from openami.protocols.dlms.axdr import AxdrError
from openami.protocols.dlms.cosem import ALARM_FILTER_LN, ALARM_REGISTER_LN, DataAccessResult

MAX_U32 = 0xFFFF_FFFF


class AlarmRegister:
    """The alarm register and its filter (in memory)."""

    def __init__(self, on_rise: Callable[[int], None] | None = None) -> None:
        self.bits = 0
        self.filter = ALARM_BITS
        self.on_rise = on_rise

    def raise_bit(self, bit: int) -> bool:
        """Raise ``bit`` unless the filter masks it; True when it rose (was clear)."""
        if not bit & self.filter or self.bits & bit:
            return False
        self.bits |= bit
        if self.on_rise is not None:
            self.on_rise(bit)
        return True

    def get(self, logical_name: bytes) -> bytes:
        """Attribute 2 of the register or the filter."""
        return axdr.u32(self.bits if logical_name == ALARM_REGISTER_LN else self.filter)

    def set(self, logical_name: bytes, attribute_id: int, value: bytes) -> int:
        """SET of attribute ``attribute_id``: a ``DataAccessResult`` code."""
        if attribute_id != 2:
            return DataAccessResult.READ_WRITE_DENIED
        try:
            mask = axdr.decode_all(value)
        except AxdrError:
            return DataAccessResult.TYPE_UNMATCHED
        if not isinstance(mask, int) or isinstance(mask, bool) or not 0 <= mask <= MAX_U32:
            return DataAccessResult.TYPE_UNMATCHED
        if logical_name == ALARM_REGISTER_LN:
            self.bits &= ~mask
            return DataAccessResult.SUCCESS
        if logical_name == ALARM_FILTER_LN and not mask & ~ALARM_BITS:
            self.filter = mask
            return DataAccessResult.SUCCESS
        return DataAccessResult.OTHER_REASON
