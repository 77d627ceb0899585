"""Meter alarms read from DLMS meters' alarm register and standard event log.

Every collection session of the HES service ends with a read of the meter's Alarm
register 1 (0.0.97.98.0.255, one GET of a u32 bit field; 0 for a meter without one), then
one range read of its event log (0.0.99.98.0.255): the entries since the last one it saw
of that meter (one GET; usually an empty answer). The entries that are alarms become
``hes.events`` rows (``EVENT_SCHEMA``, ``via_log`` true): power down → ``LAST_GASP``,
power up → ``RESTORE``, cover opened → ``TAMPER`` (the event codes of openami's meters,
docs/dlms.md); the other entries (switching, settings, security) are the meter's own
record, not alarms. At start the HES looks back :data:`LOOKBACK_S`; the MDMS stores an
event it already holds only once, so a restart that reads some entries again adds nothing.

The log says when each alarm happened; the register says that one is pending, even when
its log entry is gone (the log keeps its last 100 entries). A bit set in the register whose
kind the log read did not bring is an alarm of its own, stamped with the meter's time of
the read. When the register had bits set or the log brought alarms, the session resets the
register by a SET of those bits (the meter clears the bits written 1; an alarm that rises
meanwhile stays), so each alarm is reported once. A meter that refuses the reset (an
association that may not write) keeps its bits: they are reported again at the next read.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa

from openami.bus.messages import EVENT_SCHEMA, MeterEvent
from openami.clock import JST
from openami.hes.dlms import DlmsClient
from openami.log import get_logger
from openami.meter.dlms.catalog import (
    ALARM_COVER_OPENED,
    ALARM_POWER_DOWN,
    ALARM_POWER_UP,
    EVENT_COVER_OPENED,
    EVENT_POWER_DOWN,
    EVENT_POWER_UP,
)
from openami.protocols.dlms import axdr
from openami.protocols.dlms.cosem import ALARM_REGISTER_LN, EVENT_LOG_LN, AttributeRef, ClassId
from openami.protocols.dlms.errors import DlmsServiceError

log = get_logger(__name__)

#: the meter event code of each alarm
ALARM_OF_CODE = {
    EVENT_POWER_DOWN: MeterEvent.LAST_GASP,
    EVENT_POWER_UP: MeterEvent.RESTORE,
    EVENT_COVER_OPENED: MeterEvent.TAMPER,
}
#: the alarm of each bit of the alarm register
ALARM_OF_BIT = {
    ALARM_POWER_DOWN: MeterEvent.LAST_GASP,
    ALARM_POWER_UP: MeterEvent.RESTORE,
    ALARM_COVER_OPENED: MeterEvent.TAMPER,
}
_BIT_OF_ALARM = {int(event): bit for bit, event in ALARM_OF_BIT.items()}
_ALARM_REGISTER = AttributeRef(ClassId.DATA, ALARM_REGISTER_LN, 2)
#: how far back the first read of a meter's event log looks [s] (the catch-up window)
LOOKBACK_S = 86400.0
#: how far past the HES clock an entry may be stamped and still be read [s] (meter clocks)
AHEAD_S = 3600.0
Alarm = tuple[float, int]  # (occurred at [Unix s, meter clock], MeterEvent)
Mark = tuple[float, set[int]]  # the newest entry's time and the codes logged then
Fetched = tuple[tuple[Alarm, ...], Mark | None]


class EventLogCursor:
    """Per meter, the newest event-log entry seen: the next read starts there."""

    def __init__(self, meters: int, start_s: float) -> None:
        self.seen_s = np.full(meters, start_s - LOOKBACK_S)
        self._codes_at: dict[int, set[int]] = {}  # codes of the entries at seen_s

    async def fetch(self, client: DlmsClient, index: int, now_s: float) -> Fetched:
        """The alarms logged since the last read of meter ``index`` (one GET), and where
        the cursor goes once they are taken (:meth:`commit`)."""
        since = float(self.seen_s[index])
        rows = await client.read_profile_range(
            EVENT_LOG_LN,
            datetime.fromtimestamp(since, JST),
            datetime.fromtimestamp(now_s + AHEAD_S, JST),
        )
        seen_at = self._codes_at.get(index, set())
        new = [
            (row[0].timestamp(), int(row[1]))
            for row in rows
            if row[0].timestamp() > since
            or (row[0].timestamp() == since and int(row[1]) not in seen_at)
        ]
        alarms = tuple((t, int(ALARM_OF_CODE[c])) for t, c in new if c in ALARM_OF_CODE)
        if not new:
            return alarms, None
        newest = max(t for t, _ in new)
        at_newest = {c for t, c in new if t == newest}
        return alarms, (newest, at_newest | (seen_at if newest == since else set()))

    async def read(self, client: DlmsClient, index: int, now_s: float, meter_s: float) -> Fetched:
        """The alarms of meter ``index`` since its last read: its alarm register, then its
        event log (:meth:`fetch`); the register reset when something was pending.
        ``meter_s``: the meter's time, the stamp of an alarm only the register knows."""
        bits = await read_alarm_register(client)
        alarms, mark = await self.fetch(client, index, now_s)
        logged = {event for _, event in alarms}
        extra = tuple(
            (meter_s, int(event))
            for bit, event in ALARM_OF_BIT.items()
            if bits & bit and int(event) not in logged
        )
        clear = bits | sum(_BIT_OF_ALARM.get(event, 0) for event in logged)
        if clear:
            await reset_alarm_register(client, clear)
        return alarms + extra, mark

    def commit(self, index: int, mark: Mark | None) -> None:
        """Move meter ``index``'s cursor past the entries of a read that was taken."""
        if mark is not None:
            self.seen_s[index], self._codes_at[index] = mark[0], mark[1]


def alarm_table(
    meter_ids: np.ndarray, alarms: list[tuple[int, tuple[Alarm, ...], float, bool]]
) -> pa.Table:
    """``EVENT_SCHEMA`` rows of (meter position, alarms, received at, read after a push)."""
    rows = [
        {
            "meter_id": int(meter_ids[index]),
            "event": event,
            "occurred_at": at_s,
            "received_at": received_s,
            "via_log": not pushed,
        }
        for index, found, received_s, pushed in alarms
        for at_s, event in found
    ]
    return pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)


async def read_alarm_register(client: DlmsClient) -> int:
    """The bits of the meter's Alarm register 1 (0: none, or a meter without one)."""
    try:
        value = await client.get(_ALARM_REGISTER)
    except DlmsServiceError:
        return 0
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


async def reset_alarm_register(client: DlmsClient, bits: int) -> bool:
    """Clear ``bits`` of the meter's alarm register; False when the meter refused."""
    try:
        await client.set(_ALARM_REGISTER, axdr.u32(bits & 0xFFFF_FFFF))
    except DlmsServiceError as exc:
        log.warning("hes.alarm_reset_refused", code=exc.code)
        return False
    return True
