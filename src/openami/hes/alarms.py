"""Meter alarms on their way to the HES journal and the ``hes.events`` topic.

The network model pushes alarms (last gasp, restore, tamper); a push that does not get
through stays in the meter's event log and reaches the HES at the meter's next backfill
(``via_log``). Alarms are released when their receive time has come.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import EVENT_SCHEMA
from openami.network.model import NetworkModel

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def release_due(parts: list[pa.Table], column: str, now_s: float) -> pa.Table | None:
    """Rows of ``parts`` whose ``column`` <= now_s; the rest stay in ``parts``."""
    if not parts:
        return None
    table = pa.concat_tables(parts)
    t = table.column(column).to_numpy()
    due = t <= now_s
    parts.clear()
    if not due.all():
        parts.append(table.filter(pa.array(~due)))
    return table.filter(pa.array(due)) if due.any() else None


class AlarmInbox:
    """Alarms polled from the network, and those waiting in meters' logs."""

    def __init__(self, network: NetworkModel, meter_ids: I64) -> None:
        self.network = network
        self.meter_ids = meter_ids
        self.pending: list[pa.Table] = []
        self._log_index = np.zeros(0, np.int64)
        self._log_kind = np.zeros(0, np.uint8)
        self._log_at_s = np.zeros(0, np.float64)
        self._polled_until_s: float | None = None
        self._journaled: set[tuple[int, int, float]] = set()

    @property
    def meters_with_logged(self) -> I64:
        """Meter positions whose log holds alarms the HES has not received."""
        return self._log_index

    def resume(self, since_s: float, journaled: pa.Table) -> None:
        """After a restart: poll again from ``since_s``, leaving out the alarms already in
        ``journaled`` (:data:`EVENT_SCHEMA` rows)."""
        self._polled_until_s = since_s
        known = journaled.filter(pc.greater(journaled.column("occurred_at"), since_s))
        self._journaled = set(
            zip(
                known.column("meter_id").to_pylist(),
                known.column("event").to_pylist(),
                known.column("occurred_at").to_pylist(),
                strict=True,
            )
        )

    def deliver_logged(self, index: I64, arrival_s: F64) -> None:
        """The meters at ``index`` were read at ``arrival_s``: their logged alarms arrive."""
        if len(self._log_index) == 0 or len(index) == 0:
            return
        order = np.argsort(index)
        pos = np.minimum(np.searchsorted(index[order], self._log_index), len(index) - 1)
        found = index[order][pos] == self._log_index
        if not found.any():
            return
        self.pending.append(
            pa.table(
                {
                    "meter_id": self.meter_ids[self._log_index[found]],
                    "event": self._log_kind[found],
                    "occurred_at": self._log_at_s[found],
                    "received_at": arrival_s[order][pos][found],
                    "via_log": np.ones(int(found.sum()), dtype=np.bool_),
                },
                schema=EVENT_SCHEMA,
            )
        )
        self._log_index = self._log_index[~found]
        self._log_kind = self._log_kind[~found]
        self._log_at_s = self._log_at_s[~found]

    def poll(self, now_s: float) -> None:
        """Alarms the meters raised since the last poll: pushed, or left in their logs."""
        since = self._polled_until_s if self._polled_until_s is not None else now_s - 1e9
        ev = self.network.device_events(since, now_s)
        self._polled_until_s = now_s
        if len(ev) == 0:
            return
        new = np.ones(len(ev), dtype=np.bool_)
        if self._journaled:  # polled again after a restart
            meter = self.meter_ids[ev.index]
            new = np.array(
                [
                    (int(m), int(k), float(t)) not in self._journaled
                    for m, k, t in zip(meter, ev.kind, ev.occurred_s, strict=True)
                ],
                dtype=np.bool_,
            )
        pushed = ev.delivered & new
        self.pending.append(
            pa.table(
                {
                    "meter_id": self.meter_ids[ev.index[pushed]],
                    "event": ev.kind[pushed],
                    "occurred_at": ev.occurred_s[pushed],
                    "received_at": ev.occurred_s[pushed] + ev.delay_s[pushed],
                    "via_log": np.zeros(int(pushed.sum()), dtype=np.bool_),
                },
                schema=EVENT_SCHEMA,
            )
        )
        logged = ~ev.delivered & new
        self._log_index = np.concatenate([self._log_index, ev.index[logged]])
        self._log_kind = np.concatenate([self._log_kind, ev.kind[logged]])
        self._log_at_s = np.concatenate([self._log_at_s, ev.occurred_s[logged]])

    def release(self, now_s: float) -> pa.Table | None:
        """Alarms received by ``now_s``."""
        return release_due(self.pending, "received_at", now_s)
