"""The meter-access port: how the collection core (:mod:`openami.hes.core`) reaches meters.

A session with a meter either gets through (the meter's registers, or a range of its load
profile, and its clock) or fails (refused, timed out, broken). Two adapters:

- :class:`NetworkAccess`: the statistical network model of the simulation. Whole batches of
  sessions at once, in simulated time, throttled per segment (concentrator or cell) by
  :func:`openami.hes.throttle.lane_schedule`; a session's success and delay come from the
  model, the meter's clock offset from :class:`openami.network.meter_clock.MeterClocks`.
- :class:`openami.hes.dlms_access.DlmsAccess`: real DLMS/COSEM meters over TCP, one
  association per session, throttled per endpoint by a semaphore; each meter's endpoint
  (host, port, logical device) from the registry and its keys from the key store.

Both answer the same questions, so the core's schedule, retries, backfill and clock rules
are the same whichever adapter carries the sessions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from openami.hes.core import CollectionConfig, segment_permits
from openami.hes.throttle import lane_schedule
from openami.network.meter_clock import MeterClocks
from openami.network.model import NetworkModel

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SessionBatch:
    """Outcome of one session per meter of a batch."""

    ok: npt.NDArray[np.bool_]
    start_s: F64  # when each session started (after waiting for a permit)
    arrival_s: F64  # when its answer arrived (failed: when it was given up)
    clock_offset_s: F64  # meter clock − HES clock, NaN where the session failed


class BatchMeterAccess(Protocol):
    """Sessions in simulated time, a whole batch at once (the simulation's shape)."""

    def sessions(
        self, index: I64, boundary: I64, ready_s: F64, attempt_no: int
    ) -> SessionBatch: ...


@dataclass(frozen=True)
class MeterRead:
    """One session's read of a meter: its load-profile rows and its clock offset."""

    boundary: I64  # slot index of each row's :00/:30 instant
    import_register_wh: I64
    export_register_wh: I64
    clock_offset_s: float
    received_at_s: float
    #: alarms the meter logged since its last read: (occurred at [s], ``MeterEvent``)
    alarms: tuple[tuple[float, int], ...] = ()


class MeterAccess(Protocol):
    """Sessions with real meters, one at a time per meter (the HES service's shape).

    Every method raises :data:`openami.hes.dlms_access.SESSION_ERRORS` when the session
    fails; the core decides about retries."""

    async def read_range(self, index: int, first_boundary: int, last_boundary: int) -> MeterRead:
        """The meter's load-profile rows at boundaries ``first..last`` and its clock."""
        ...

    async def set_clock(self, index: int) -> float:
        """Set the meter's clock to the HES clock; returns the offset read back."""
        ...


class NetworkAccess:
    """The statistical network model behind the meter-access port."""

    def __init__(
        self, network: NetworkModel, clocks: MeterClocks, config: CollectionConfig
    ) -> None:
        self.network = network
        self.clocks = clocks
        self.permits = segment_permits(config, network.segment_is_cell)

    def sessions(self, index: I64, boundary: I64, ready_s: F64, attempt_no: int) -> SessionBatch:
        start = lane_schedule(
            self.network.segment_of[index], ready_s, self.network.session_s(index), self.permits
        )
        ok, delay = self.network.attempt(index, boundary, attempt_no, start)
        arrival = start + delay
        offset = np.full(len(index), np.nan)
        if ok.any():
            offset[ok] = self.clocks.offset_s(index[ok], arrival[ok])
        return SessionBatch(ok, start, arrival, offset)
