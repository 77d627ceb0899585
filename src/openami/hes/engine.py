"""The collection engine of the head-end system, over the statistical network model.

At every :00/:30 boundary each meter's reading is attempted once (with per-meter jitter);
failures are retried on an exponential schedule; what still fails is a gap that the periodic
backfill fills from the meter's own log with one range read per meter. Every delivery is
scheduled with its arrival time and published on the bus as one Arrow batch per tick: the
columns are ``meter_id, boundary, import_register_wh, export_register_wh, received_at,
source`` (0 scheduled, 1 retry, 2 backfill).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from openami.bus.inprocess import TOPIC_READINGS, Bus
from openami.clock import SLOT_SECONDS
from openami.meter.fleet import MeterFleet
from openami.meter.load import hash_uniform
from openami.network.model import NetworkModel
from openami.storage.duckdb_interval import READ_SCHEMA

I64 = npt.NDArray[np.int64]

SOURCE_SCHEDULED = 0
SOURCE_RETRY = 1
SOURCE_BACKFILL = 2


@dataclass(frozen=True)
class CollectionConfig:
    push_jitter_s: float = 120.0
    retry_delays_s: tuple[float, ...] = (300.0, 600.0, 1200.0)
    backfill_every_s: float = 6 * 3600.0
    window_slots: int = 4 * 48  # how far back the HES tracks and backfills gaps


@dataclass
class _Pending:
    index: I64
    boundary: I64
    arrival_s: npt.NDArray[np.float64]
    source: npt.NDArray[np.uint8]


class HeadEnd:
    """Collects a fleet's readings through a network model and publishes them on a bus."""

    def __init__(
        self,
        fleet: MeterFleet,
        network: NetworkModel,
        bus: Bus,
        config: CollectionConfig | None = None,
    ) -> None:
        self.fleet = fleet
        self.network = network
        self.bus = bus
        self.config = config or CollectionConfig()
        n = len(fleet)
        w = self.config.window_slots
        self._scheduled = np.zeros((n, w), dtype=np.bool_)
        self._window_boundary = np.full(w, -1, dtype=np.int64)
        self._pending: list[_Pending] = []
        self._next_backfill_s: float | None = None
        self.attempts = 0
        self.delivered = 0

    # -- scheduling -------------------------------------------------------------------------
    def _open_boundary(self, boundary: int) -> int:
        col = boundary % self.config.window_slots
        if self._window_boundary[col] != boundary:
            self._window_boundary[col] = boundary
            self._scheduled[:, col] = False
        return col

    def _schedule(
        self, index: I64, boundary: I64, arrival_s: npt.NDArray[np.float64], source: int
    ) -> None:
        if len(index) == 0:
            return
        cols = boundary % self.config.window_slots
        self._scheduled[index, cols] = True
        self._pending.append(
            _Pending(index, boundary, arrival_s, np.full(len(index), source, dtype=np.uint8))
        )

    def on_boundary(self, boundary: int) -> None:
        """Start collecting the readings every meter took at ``boundary``."""
        col = self._open_boundary(boundary)
        del col
        n = len(self.fleet)
        index = np.arange(n, dtype=np.int64)
        jitter = hash_uniform(self.network.seed, 501, self.fleet.meter_ids, boundary)
        send_s = boundary * SLOT_SECONDS + jitter * self.config.push_jitter_s
        b = np.full(n, boundary, dtype=np.int64)
        ok, delay = self.network.attempt(index, b, 0, send_s)
        self.attempts += n
        self._schedule(index[ok], b[ok], send_s[ok] + delay[ok], SOURCE_SCHEDULED)
        left = index[~ok]
        base_s = send_s[~ok]
        for k, retry_after in enumerate(self.config.retry_delays_s, start=1):
            if len(left) == 0:
                break
            at_s = base_s + retry_after
            ok, delay = self.network.attempt(left, b[: len(left)], k, at_s)
            self.attempts += len(left)
            self._schedule(left[ok], b[: int(ok.sum())], at_s[ok] + delay[ok], SOURCE_RETRY)
            left, base_s = left[~ok], base_s[~ok]

    def backfill(self, now_s: float) -> int:
        """One range read per meter with gaps in the window; returns readings scheduled."""
        now_boundary = int(now_s // SLOT_SECONDS)
        valid = (self._window_boundary >= 0) & (self._window_boundary <= now_boundary)
        valid &= self.fleet.logged(self._window_boundary)
        gaps = ~self._scheduled & valid[None, :]
        meters = np.flatnonzero(gaps.any(axis=1)).astype(np.int64)
        if len(meters) == 0:
            return 0
        ok, delay = self.network.attempt(
            meters,
            np.full(len(meters), now_boundary, dtype=np.int64),
            90,
            np.full(len(meters), now_s),
        )
        self.attempts += len(meters)
        got = meters[ok]
        rows, cols = np.nonzero(gaps[got])
        index = got[rows]
        boundary = self._window_boundary[cols]
        arrival = now_s + delay[ok][rows]
        self._schedule(index, boundary, arrival, SOURCE_BACKFILL)
        return len(index)

    # -- delivery ---------------------------------------------------------------------------
    def tick(self, now_s: float) -> int:
        """Publish every reading that has arrived by ``now_s``; run backfill when due."""
        if self._next_backfill_s is None:
            self._next_backfill_s = now_s + self.config.backfill_every_s
        elif now_s >= self._next_backfill_s:
            self.backfill(now_s)
            self._next_backfill_s = now_s + self.config.backfill_every_s
        if not self._pending:
            return 0
        index = np.concatenate([p.index for p in self._pending])
        boundary = np.concatenate([p.boundary for p in self._pending])
        arrival = np.concatenate([p.arrival_s for p in self._pending])
        source = np.concatenate([p.source for p in self._pending])
        due = arrival <= now_s
        keep = ~due
        self._pending = (
            [_Pending(index[keep], boundary[keep], arrival[keep], source[keep])]
            if keep.any()
            else []
        )
        if not due.any():
            return 0
        imp, exp = self.fleet.registers_at(index[due], boundary[due])
        batch = pa.table(
            {
                "meter_id": self.fleet.meter_ids[index[due]],
                "boundary": boundary[due],
                "import_register_wh": imp,
                "export_register_wh": exp,
                "received_at": arrival[due],
                "source": source[due],
            },
            schema=READ_SCHEMA,
        )
        self.delivered += batch.num_rows
        self.bus.publish(TOPIC_READINGS, batch)
        return batch.num_rows
