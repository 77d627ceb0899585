"""The collection engine of the head-end system, over the statistical network model.

The schedule, retry, backfill-window and clock rules are the collection core's
(:mod:`openami.hes.core`), shared with the DLMS service (:mod:`openami.hes.service`); the
sessions go through the meter-access port's network-model adapter
(:class:`openami.hes.access.NetworkAccess`).

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
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from openami.bus.inprocess import Bus
from openami.bus.messages import (
    CLOCK_DAY_SCHEMA,
    COMMAND_ARGUMENT_SCHEMA,
    COMMAND_QUEUE_SCHEMA,
    COMMAND_SCHEMA,
    READ_SCHEMA,
    REMOTE_OPERATIONS,
    SEGMENT_ALARM_SCHEMA,
    TOPIC_COMMANDS,
    TOPIC_EVENTS,
    TOPIC_READINGS,
    CommandKind,
    CommandState,
    ReadSource,
)
from openami.clock import SLOT_SECONDS, day_of_slot, is_day_start
from openami.hes.access import NetworkAccess
from openami.hes.alarms import AlarmInbox, release_due
from openami.hes.commands import BackfillRequest, CommandQueue
from openami.hes.core import (
    ClockWatch,
    CollectionConfig,
    GapWindow,
    read_jitter_s,
    retry_wait_s,
)
from openami.hes.journal import HesJournal
from openami.hes.switch_guard import SwitchGuard
from openami.meter.fleet import MeterFleet
from openami.network.meter_clock import MeterClocks
from openami.network.model import NetworkModel
from openami.storage.repositories.command_signing import SignedCommand

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


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
        self.window = GapWindow(n, w)
        self._pending: list[_Pending] = []
        self._pending_commands: list[pa.Table] = []
        self.alarms = AlarmInbox(network, fleet.meter_ids)
        self._next_backfill_s: float | None = None
        self.access = NetworkAccess(network, self.clocks, self.config)
        self.clock_watch = ClockWatch(
            n, self.config.clock_threshold_s, self.config.clock_sync_threshold_s
        )
        self._sync_queued = np.zeros(n, dtype=np.bool_)
        self._first_boundary: int | None = None
        self.attempts = 0
        self.delivered = 0
        #: checks every remote switching command before it is queued (None: none checked)
        self.guard: SwitchGuard | None = None
        self._refused_outcomes: list[pa.Table] = []

    # -- scheduling -------------------------------------------------------------------------
    def _open_boundary(self, boundary: int) -> None:
        self.window.open(boundary)

    def _schedule(self, index: I64, boundary: I64, arrival_s: F64, source: int) -> None:
        if len(index) == 0:
            return
        self.window.mark(index, boundary)
        self._pending.append(
            _Pending(index, boundary, arrival_s, np.full(len(index), source, dtype=np.uint8))
        )

    def _session(
        self, index: I64, boundary: I64, ready_s: F64, attempt_no: int
    ) -> tuple[npt.NDArray[np.bool_], F64, F64]:
        """One throttled session per meter through the access port: (ok, start, arrival);
        every session that got through also read the meter clock."""
        got = self.access.sessions(index, boundary, ready_s, attempt_no)
        self.attempts += len(index)
        self.clock_watch.check(index[got.ok], got.clock_offset_s[got.ok])
        return got.ok, got.start_s, got.arrival_s

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
            ids = self.fleet.meter_ids[left]
            ready = last + retry_wait_s(cfg, self.network.seed, attempt_base, k, ids, b)
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
        jitter = read_jitter_s(self.config, self.network.seed, self.fleet.meter_ids, boundary)
        ready = boundary * SLOT_SECONDS + jitter
        self.collect(np.arange(n, dtype=np.int64), np.full(n, boundary, dtype=np.int64), ready)

    def close_clock_day(self, day: date) -> None:
        """Journal each meter's clock state at its last contact of ``day`` and start anew."""
        day_no = (day - date(1970, 1, 1)).days
        self.journal.add_clock_day(
            pa.table(
                {
                    "day": pa.array(np.full(len(self.fleet), day_no, dtype=np.int32), pa.date32()),
                    "meter_id": self.fleet.meter_ids,
                    "clock_checked": self.clock_watch.checked,
                    "clock_ok": self.clock_watch.ok & self.clock_watch.checked,
                    "last_offset_s": self.clock_watch.offset_s,
                },
                schema=CLOCK_DAY_SCHEMA,
            )
        )
        self.clock_watch.new_day()

    def backfill(self, now_s: float) -> int:
        """One range read per meter with gaps in the window; returns readings scheduled."""
        now_boundary = int(now_s // SLOT_SECONDS)
        gaps = self.window.gaps(now_boundary, self.fleet.logged(self.window.boundary))
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
        self._schedule(got[rows], self.window.boundary[cols], arrival[rows], ReadSource.BACKFILL)
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
        authorisations: Sequence[SignedCommand | None] | None = None,
    ) -> I64:
        """Queue a command per meter position; returns correlation IDs (see ``hes.commands``).

        ``references`` (one per meter, e.g. the request each command serves) journals the
        commands' arguments with them, stored with the queued commands in one transaction.
        With a :attr:`guard`, remote switching commands (``authorisations``: the hub's signed
        authorisation per meter) it refuses are not queued: each ends at once as
        ``FAILED``, journaled, its reason recorded by the guard and carried in the
        outcome's ``refusal``.
        """
        position = np.asarray(meter_index, dtype=np.int64).ravel()
        corr = self.commands.submit(position, kind, now_s, arg, arg2, priority, timeout_s)
        refused = np.zeros(len(corr), dtype=np.bool_)
        if self.guard is not None and kind in REMOTE_OPERATIONS:
            meters = self.fleet.meter_ids[position]
            args = np.broadcast_to(np.asarray(arg, dtype=np.int64), corr.shape)
            reasons = self.guard.check(kind, meters, args, now_s, authorisations)
            refused = np.array([r is not None for r in reasons], dtype=np.bool_)
            self.guard.record(kind, corr, meters, reasons, now_s, authorisations)
            if refused.any():
                self.commands.withdraw(corr[refused])
                why = [r for r in reasons if r is not None]
                self._refuse(kind, corr[refused], meters[refused], why, now_s)
        admitted = ~refused
        arguments = None
        if references is not None:
            arguments = pa.table(
                {
                    "correlation_id": corr[admitted],
                    "meter_id": self.fleet.meter_ids[position][admitted],
                    "kind": np.full(int(admitted.sum()), int(kind), dtype=np.uint8),
                    "argument": np.broadcast_to(np.asarray(arg, dtype=np.int64), corr.shape)[
                        admitted
                    ],
                    "reference": pa.array(
                        [r for r, ok in zip(references, admitted.tolist(), strict=True) if ok],
                        pa.string(),
                    ),
                },
                schema=COMMAND_ARGUMENT_SCHEMA,
            )
        if self.journal.records is not None or arguments is not None:
            self.journal.queue(self.commands.queued_rows(corr[admitted]), arguments)
        return corr

    def _refuse(
        self, kind: CommandKind, corr: I64, meter_ids: I64, reasons: list[str], now_s: float
    ) -> None:
        """Refused commands end as FAILED now, each with its reason: journaled at once,
        published next tick."""
        n = len(corr)
        outcomes = pa.table(
            {
                "correlation_id": corr,
                "meter_id": meter_ids,
                "kind": np.full(n, int(kind), dtype=np.uint8),
                "priority": np.zeros(n, dtype=np.uint8),
                "state": np.full(n, CommandState.FAILED, dtype=np.uint8),
                "attempts": np.zeros(n, dtype=np.uint8),
                "issued_at": np.full(n, now_s),
                "completed_at": np.full(n, now_s),
                "import_register_wh": np.full(n, -1, dtype=np.int64),
                "export_register_wh": np.full(n, -1, dtype=np.int64),
                "clock_offset_s": np.full(n, np.nan),
                "refusal": pa.array(reasons, pa.string()),
            },
            schema=COMMAND_SCHEMA,
        )
        self.journal.add_commands(outcomes)
        self._refused_outcomes.append(outcomes)

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
        sync = np.flatnonzero(self.clock_watch.sync_wanted & ~self._sync_queued)
        if len(sync):
            self.submit(CommandKind.CLOCK_SYNC, sync, now_s)
        results, backfills = self.commands.run(now_s, self.network, self.fleet, self.clocks)
        self._run_backfill_requests(backfills)
        if results.num_rows:
            self._pending_commands.append(results)
        self._sync_queued[:] = False
        self._sync_queued[self.commands.index[self.commands.kind == CommandKind.CLOCK_SYNC]] = True
        self.clock_watch.sync_wanted &= self._sync_queued
        done = release_due(self._pending_commands, "completed_at", now_s)
        if done is not None:
            self.journal.add_commands(done)
            self.bus.publish(TOPIC_COMMANDS, done)
        if self._refused_outcomes:  # journaled when refused
            refused = pa.concat_tables(self._refused_outcomes)
            self._refused_outcomes.clear()
            self.bus.publish(TOPIC_COMMANDS, refused)
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
