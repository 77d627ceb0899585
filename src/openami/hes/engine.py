"""The collection engine of the head-end system, over the statistical network model.

At every :00/:30 boundary each meter is read once, at a seeded per-meter jitter after the
boundary, through per-segment session permits (concentrator or cell, see
:mod:`openami.hes.throttle`). Failed reads are retried with exponential backoff and jitter;
what still fails is a gap that the periodic backfill fills from the meter's own log with one
range read per meter (the window covers ``window_slots``, four days by default; older ranges
are fetched with :meth:`HeadEnd.request_backfill`). Each session also reads the meter's
clock; meters off by more than ``clock_sync_threshold_s`` get a clock-sync command.

Commands (disconnect, reconnect, ampere setting, on-demand read, clock sync, backfill) run
through :class:`openami.hes.commands.CommandQueue`. Alarms (last gasp, restore, tamper) come
from the network model as pushes; those that do not get through are read from the meter's
event log at its next backfill.

Bus topics (Arrow tables, one per tick):
- ``hes.readings``: ``meter_id, boundary, import_register_wh, export_register_wh,
  received_at, source`` (0 scheduled, 1 retry, 2 backfill);
- ``hes.commands``: command outcomes (:data:`openami.hes.journal.COMMAND_SCHEMA`);
- ``hes.events``: alarms (:data:`openami.hes.journal.EVENT_SCHEMA`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from openami.bus.inprocess import Bus
from openami.bus.messages import (
    CLOCK_DAY_SCHEMA,
    COMMAND_ARGUMENT_SCHEMA,
    COMMAND_QUEUE_SCHEMA,
    READ_SCHEMA,
    SEGMENT_ALARM_SCHEMA,
    TOPIC_COMMANDS,
    TOPIC_EVENTS,
    TOPIC_READINGS,
    CommandKind,
    ReadSource,
)
from openami.clock import SLOT_SECONDS, day_of_slot, is_day_start
from openami.hes.alarms import AlarmInbox, release_due
from openami.hes.commands import BackfillRequest, CommandConfig, CommandQueue
from openami.hes.journal import (
    HesJournal,
)
from openami.hes.throttle import lane_schedule
from openami.meter.fleet import MeterFleet
from openami.meter.load import hash_uniform
from openami.network.meter_clock import MeterClocks
from openami.network.model import NetworkModel

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CollectionConfig:
    push_jitter_s: float = 120.0  # spread of read start times after each boundary
    retry_base_s: float = 150.0  # wait before the first retry; doubles each time
    retry_multiplier: float = 2.0
    max_retries: int = 3
    retry_jitter: float = 0.1  # ± share of each wait
    backfill_every_s: float = 6 * 3600.0
    window_slots: int = 4 * 48  # how far back the HES tracks and backfills gaps
    concentrator_permits: int = 16  # concurrent bulk sessions per concentrator
    cell_permits: int = 64  # concurrent bulk sessions per cell
    clock_threshold_s: float = 10.0  # compliant when |meter − HES| <= this
    clock_sync_threshold_s: float = 5.0  # synchronise above this
    outage_missed_share: float = 0.9  # a segment missing this share of a boundary's reads …
    outage_min_meters: int = 5  # … with at least this many meters is a suspected outage
    commands: CommandConfig = field(default_factory=CommandConfig)

    def __post_init__(self) -> None:
        if self.window_slots < 2 or self.max_retries < 0:
            raise ValueError("window_slots must be >= 2 and max_retries >= 0")
        if min(self.concentrator_permits, self.cell_permits) < 1:
            raise ValueError("permits must be at least 1")


@dataclass
class _Pending:
    index: I64
    boundary: I64
    arrival_s: F64
    source: npt.NDArray[np.uint8]


class HeadEnd:
    """Collects a fleet's readings through a network model and publishes them on a bus."""

    def __init__(
        self,
        fleet: MeterFleet,
        network: NetworkModel,
        bus: Bus,
        config: CollectionConfig | None = None,
        clocks: MeterClocks | None = None,
        journal: HesJournal | None = None,
    ) -> None:
        self.fleet = fleet
        self.network = network
        self.bus = bus
        self.config = config or CollectionConfig()
        self.clocks = clocks or MeterClocks(
            fleet.meter_ids, network.seed, fleet.now_boundary * SLOT_SECONDS
        )
        self.journal = journal or HesJournal()
        if not self.journal.commissioned:
            # the HES's own record of its meters' switches and limiters, read once at start
            self.journal.commission(
                fleet.meter_ids,
                fleet.switch_connected,
                fleet.contract_amperage_a,
                fleet.now_boundary * SLOT_SECONDS,
            )
        n = len(fleet)
        w = self.config.window_slots
        self.commands = CommandQueue(n, self.config.commands, network.seed)
        self.commands.restore(
            COMMAND_QUEUE_SCHEMA.empty_table(), self.journal.last_correlation_id(), 0
        )
        self._scheduled = np.zeros((n, w), dtype=np.bool_)
        self._window_boundary = np.full(w, -1, dtype=np.int64)
        self._pending: list[_Pending] = []
        self._pending_commands: list[pa.Table] = []
        self.alarms = AlarmInbox(network, fleet.meter_ids)
        self._next_backfill_s: float | None = None
        self._bulk_permits = np.where(
            network.segment_is_cell, self.config.cell_permits, self.config.concentrator_permits
        ).astype(np.int64)
        self._clock_checked = np.zeros(n, dtype=np.bool_)
        self._clock_ok = np.zeros(n, dtype=np.bool_)
        self._clock_offset = np.full(n, np.nan)
        self._sync_wanted = np.zeros(n, dtype=np.bool_)
        self._sync_queued = np.zeros(n, dtype=np.bool_)
        self._first_boundary: int | None = None
        self.attempts = 0
        self.delivered = 0

    # -- scheduling -------------------------------------------------------------------------
    def _open_boundary(self, boundary: int) -> None:
        col = boundary % self.config.window_slots
        if self._window_boundary[col] != boundary:
            self._window_boundary[col] = boundary
            self._scheduled[:, col] = False

    def _schedule(self, index: I64, boundary: I64, arrival_s: F64, source: int) -> None:
        if len(index) == 0:
            return
        in_window = self._window_boundary[boundary % self.config.window_slots] == boundary
        self._scheduled[index[in_window], boundary[in_window] % self.config.window_slots] = True
        self._pending.append(
            _Pending(index, boundary, arrival_s, np.full(len(index), source, dtype=np.uint8))
        )

    def _clock_check(self, index: I64, at_s: F64) -> None:
        """Every session reads the meter clock: record compliance, flag large offsets."""
        if len(index) == 0:
            return
        offset = self.clocks.offset_s(index, at_s)
        self._clock_checked[index] = True
        self._clock_offset[index] = offset
        self._clock_ok[index] = np.abs(offset) <= self.config.clock_threshold_s
        self._sync_wanted[index] = np.abs(offset) > self.config.clock_sync_threshold_s

    def _session(
        self, index: I64, boundary: I64, ready_s: F64, attempt_no: int
    ) -> tuple[npt.NDArray[np.bool_], F64, F64]:
        """One throttled session per meter: (ok, start, arrival)."""
        start = lane_schedule(
            self.network.segment_of[index],
            ready_s,
            self.network.session_s(index),
            self._bulk_permits,
        )
        ok, delay = self.network.attempt(index, boundary, attempt_no, start)
        self.attempts += len(index)
        arrival = start + delay
        self._clock_check(index[ok], arrival[ok])
        return ok, start, arrival

    def _with_retries(
        self, index: I64, boundary: I64, ready_s: F64, attempt_base: int, source: int
    ) -> tuple[I64, I64, F64]:
        """Sessions with up to ``max_retries`` retries (exponential backoff with jitter).

        Returns the meters reached, their keys and arrival times; scheduled readings of the
        first attempt get ``source``, later ones ``ReadSource.RETRY`` (backfill stays backfill).
        """
        cfg = self.config
        ok, start, arrival = self._session(index, boundary, ready_s, attempt_base)
        got = [(index[ok], boundary[ok], arrival[ok])]
        left, b, last = index[~ok], boundary[~ok], start[~ok]
        for k in range(1, cfg.max_retries + 1):
            if len(left) == 0:
                break
            u = hash_uniform(
                self.network.seed, 510 + attempt_base + k, self.fleet.meter_ids[left], b
            )
            wait = cfg.retry_base_s * cfg.retry_multiplier ** (k - 1)
            ready = last + wait * (1.0 + cfg.retry_jitter * (u - 0.5))
            ok, start, arrival = self._session(left, b, ready, attempt_base + k)
            got.append((left[ok], b[ok], arrival[ok]))
            left, b, last = left[~ok], b[~ok], start[~ok]
        if source == ReadSource.SCHEDULED:
            for k, (i, bb, t) in enumerate(got):
                self._schedule(i, bb, t, ReadSource.SCHEDULED if k == 0 else ReadSource.RETRY)
        return (
            np.concatenate([g[0] for g in got]),
            np.concatenate([g[1] for g in got]),
            np.concatenate([g[2] for g in got]),
        )

    def collect(self, index: I64, boundary: I64, ready_s: F64) -> None:
        """Read registers at ``boundary`` from meters at ``index``, with retries."""
        got, _, arrival = self._with_retries(index, boundary, ready_s, 0, ReadSource.SCHEDULED)
        self._infer_outages(index, got, arrival, boundary)

    def _infer_outages(self, index: I64, got: I64, arrival: F64, boundary: I64) -> None:
        """Segments where (almost) every meter missed every attempt: a suspected outage.

        Last gasps often do not get through a mesh whose neighbours are dark too, so the
        HES also infers outages from mass missed reads (one row per segment and boundary).
        """
        if len(index) == 0:
            return
        seg = self.network.segment_of
        n_seg = self.network.n_segments
        total = np.bincount(seg[index], minlength=n_seg)
        reached = np.bincount(seg[got], minlength=n_seg)
        missed = total - reached
        cfg = self.config
        hit = np.flatnonzero(
            (total >= cfg.outage_min_meters) & (missed >= cfg.outage_missed_share * total)
        )
        if len(hit) == 0:
            return
        detected = float(arrival.max()) if len(arrival) else float(boundary.max()) * SLOT_SECONDS
        detected = max(detected, float(boundary.max()) * SLOT_SECONDS + cfg.push_jitter_s)
        self.journal.add_segment_alarms(
            pa.table(
                {
                    "segment": hit.astype(np.int64),
                    "is_cell": self.network.segment_is_cell[hit],
                    "boundary": np.full(len(hit), int(boundary.max()), dtype=np.int64),
                    "meters": total[hit].astype(np.int64),
                    "missed": missed[hit].astype(np.int64),
                    "detected_at": np.full(len(hit), detected),
                },
                schema=SEGMENT_ALARM_SCHEMA,
            )
        )

    def on_boundary(self, boundary: int) -> None:
        """Start collecting the readings every meter took at ``boundary``."""
        if is_day_start(boundary) and self._first_boundary is not None:
            self.close_clock_day(day_of_slot(boundary - 1))
        if self._first_boundary is None:
            self._first_boundary = boundary
        self._open_boundary(boundary)
        n = len(self.fleet)
        jitter = hash_uniform(self.network.seed, 501, self.fleet.meter_ids, boundary)
        ready = boundary * SLOT_SECONDS + jitter * self.config.push_jitter_s
        self.collect(np.arange(n, dtype=np.int64), np.full(n, boundary, dtype=np.int64), ready)

    def close_clock_day(self, day: date) -> None:
        """Journal each meter's clock state at its last contact of ``day`` and start anew."""
        day_no = (day - date(1970, 1, 1)).days
        self.journal.add_clock_day(
            pa.table(
                {
                    "day": pa.array(np.full(len(self.fleet), day_no, dtype=np.int32), pa.date32()),
                    "meter_id": self.fleet.meter_ids,
                    "clock_checked": self._clock_checked,
                    "clock_ok": self._clock_ok & self._clock_checked,
                    "last_offset_s": self._clock_offset,
                },
                schema=CLOCK_DAY_SCHEMA,
            )
        )
        self._clock_checked = np.zeros(len(self.fleet), dtype=np.bool_)

    def backfill(self, now_s: float) -> int:
        """One range read per meter with gaps in the window; returns readings scheduled."""
        now_boundary = int(now_s // SLOT_SECONDS)
        valid = (self._window_boundary >= 0) & (self._window_boundary <= now_boundary)
        valid &= self.fleet.logged(self._window_boundary)
        gaps = ~self._scheduled & valid[None, :]
        has_gap = np.asarray(gaps.any(axis=1), dtype=np.bool_)
        has_gap[self.alarms.meters_with_logged] = True
        meters = np.flatnonzero(has_gap).astype(np.int64)
        if len(meters) == 0:
            return 0
        got, _, arrival = self._with_retries(
            meters,
            np.full(len(meters), now_boundary, dtype=np.int64),
            np.full(len(meters), now_s),
            90,
            ReadSource.BACKFILL,
        )
        self.alarms.deliver_logged(got, arrival)
        rows, cols = np.nonzero(gaps[got])
        self._schedule(got[rows], self._window_boundary[cols], arrival[rows], ReadSource.BACKFILL)
        return len(rows)

    def _run_backfill_requests(self, requests: list[BackfillRequest]) -> None:
        for req in requests:
            span = (req.last_boundary - req.first_boundary + 1).astype(np.int64)
            meter = np.repeat(req.index, span)
            starts = np.repeat(req.first_boundary - np.cumsum(span) + span, span)
            boundary = starts + np.arange(int(span.sum()), dtype=np.int64)
            arrival = np.repeat(req.arrival_s, span)
            keep = self.fleet.logged(boundary)
            self._schedule(meter[keep], boundary[keep], arrival[keep], ReadSource.BACKFILL)
            self.alarms.deliver_logged(req.index, req.arrival_s)

    # -- commands ---------------------------------------------------------------------------
    def submit(
        self,
        kind: CommandKind,
        meter_index: npt.ArrayLike,
        now_s: float,
        arg: int | npt.ArrayLike = 0,
        arg2: int | npt.ArrayLike = 0,
        priority: int | None = None,
        timeout_s: float | None = None,
        references: Sequence[str | None] | None = None,
    ) -> I64:
        """Queue a command per meter position; returns correlation IDs (see ``hes.commands``).

        ``references`` (one per meter, e.g. the request each command serves) journals the
        commands' arguments with them, stored with the queued commands in one transaction.
        """
        corr = self.commands.submit(meter_index, kind, now_s, arg, arg2, priority, timeout_s)
        arguments = None
        if references is not None:
            position = np.asarray(meter_index, dtype=np.int64).ravel()
            arguments = pa.table(
                {
                    "correlation_id": corr,
                    "meter_id": self.fleet.meter_ids[position],
                    "kind": np.full(len(corr), int(kind), dtype=np.uint8),
                    "argument": np.broadcast_to(np.asarray(arg, dtype=np.int64), corr.shape),
                    "reference": pa.array(list(references), pa.string()),
                },
                schema=COMMAND_ARGUMENT_SCHEMA,
            )
        if self.journal.records is not None or arguments is not None:
            self.journal.queue(self.commands.queued_rows(corr), arguments)
        return corr

    def resume(self, now_s: float, events_since_s: float) -> None:
        """Carry on after a restart at ``now_s``: take back the stored command queue, treat
        every boundary of the window as not yet collected (readings that were in flight when
        the process stopped are fetched again from the meters' logs by a backfill at the next
        tick; the MDMS ignores identical re-sends), and poll alarms again from
        ``events_since_s``, leaving out those already journaled."""
        self.commands.restore(self.journal.queued(), self.journal.last_correlation_id(), now_s)
        last = int(now_s // SLOT_SECONDS)
        for boundary in range(last - self.config.window_slots + 1, last + 1):
            self._open_boundary(boundary)
        self._first_boundary = last
        self._next_backfill_s = now_s
        self.alarms.resume(events_since_s, self.journal.events())

    def read_now(self, meter_index: npt.ArrayLike, now_s: float) -> I64:
        """On-demand read of the live registers (priority 1)."""
        return self.submit(CommandKind.READ, meter_index, now_s)

    def request_backfill(
        self, meter_index: npt.ArrayLike, first_boundary: int, last_boundary: int, now_s: float
    ) -> I64:
        """Fetch the logged registers of a boundary range, however old (within the log)."""
        return self.submit(CommandKind.BACKFILL, meter_index, now_s, first_boundary, last_boundary)

    # -- delivery ---------------------------------------------------------------------------
    def tick(self, now_s: float) -> int:
        """Run due work up to ``now_s`` and publish what has arrived; returns readings published."""
        if self._next_backfill_s is None:
            self._next_backfill_s = now_s + self.config.backfill_every_s
        elif now_s >= self._next_backfill_s:
            self.backfill(now_s)
            self._next_backfill_s = now_s + self.config.backfill_every_s
        sync = np.flatnonzero(self._sync_wanted & ~self._sync_queued)
        if len(sync):
            self.submit(CommandKind.CLOCK_SYNC, sync, now_s)
        results, backfills = self.commands.run(now_s, self.network, self.fleet, self.clocks)
        self._run_backfill_requests(backfills)
        if results.num_rows:
            self._pending_commands.append(results)
        self._sync_queued[:] = False
        self._sync_queued[self.commands.index[self.commands.kind == CommandKind.CLOCK_SYNC]] = True
        self._sync_wanted &= self._sync_queued
        done = release_due(self._pending_commands, "completed_at", now_s)
        if done is not None:
            self.journal.add_commands(done)
            self.bus.publish(TOPIC_COMMANDS, done)
        self.alarms.poll(now_s)
        events = self.alarms.release(now_s)
        if events is not None:
            self.journal.add_events(events)
            self.bus.publish(TOPIC_EVENTS, events)
        return self._publish_readings(now_s)

    def _publish_readings(self, now_s: float) -> int:
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

    @property
    def pending_readings(self) -> int:
        return sum(len(p.index) for p in self._pending)
