"""Meter alarms read from DLMS meters' standard event logs (0.0.99.98.0.255).

Every collection session of the HES service ends with one range read of the meter's event
log: the entries since the last one it saw of that meter (one GET; usually an empty
answer). The entries that are alarms become ``hes.events`` rows (``EVENT_SCHEMA``,
``via_log`` true): power down → ``LAST_GASP``, power up → ``RESTORE``, cover opened →
``TAMPER`` (the event codes of openami's meters, docs/dlms.md); the other entries
(switching, settings, security) are the meter's own record, not alarms. At start the HES
looks back :data:`LOOKBACK_S`; the MDMS stores an event it already holds only once, so a
restart that reads some entries again adds nothing.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa

from openami.bus.messages import EVENT_SCHEMA, MeterEvent
from openami.clock import JST
from openami.hes.dlms import DlmsClient
from openami.meter.dlms.catalog import EVENT_COVER_OPENED, EVENT_POWER_DOWN, EVENT_POWER_UP
from openami.protocols.dlms.cosem import EVENT_LOG_LN

#: the meter event code of each alarm
ALARM_OF_CODE = {
    EVENT_POWER_DOWN: MeterEvent.LAST_GASP,
    EVENT_POWER_UP: MeterEvent.RESTORE,
    EVENT_COVER_OPENED: MeterEvent.TAMPER,
}
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

    def commit(self, index: int, mark: Mark | None) -> None:
        """Move meter ``index``'s cursor past the entries of a read that was taken."""
        if mark is not None:
            self.seen_s[index], self._codes_at[index] = mark[0], mark[1]


def alarm_table(
    meter_ids: np.ndarray, alarms: list[tuple[int, tuple[Alarm, ...], float]]
) -> pa.Table:
    """``EVENT_SCHEMA`` rows of (meter position, alarms, received at) triples."""
    rows = [
        {
            "meter_id": int(meter_ids[index]),
            "event": event,
            "occurred_at": at_s,
            "received_at": received_s,
            "via_log": True,
        }
        for index, found, received_s in alarms
        for at_s, event in found
    ]
    return pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)
