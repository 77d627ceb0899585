"""The HES service: the collection core (:mod:`openami.hes.core`) over DLMS/TCP, in real
(or accelerated) time, publishing on a bus (``openami serve hes``).

- At each :00/:30 boundary every meter is read once, at its seeded jitter after the
  boundary, through :class:`openami.hes.dlms_access.DlmsAccess` (capped per endpoint).
- A session reads the meter clock and one range of its load profile: from the oldest
  boundary of the gap window it still lacks up to the boundary (backfill by range read,
  in the same session as the scheduled read), and then checks the clock: an offset beyond
  ``clock_sync_threshold_s`` gets a clock set in a session of its own.
- A failed session is retried with the core's backoff (``retry_base_s``, doubling, with
  jitter) up to ``max_retries`` times; what still fails stays a gap, fetched by the next
  boundary's range read or by the periodic backfill (every ``backfill_every_s``).
- Reads go out on ``hes.readings`` (READ_SCHEMA) in batches every ``flush_s``; commands
  (:mod:`openami.hes.service_commands`) come from ``hes.command_requests``.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from openami.bus.messages import READ_SCHEMA, TOPIC_EVENTS, TOPIC_READINGS, ReadSource
from openami.bus.port import Bus
from openami.clock import SLOT_SECONDS, Clock
from openami.hes.access import MeterRead
from openami.hes.core import ClockWatch, CollectionConfig, GapWindow, read_jitter_s, retry_wait_s
from openami.hes.dlms_access import SESSION_ERRORS, DlmsAccess
from openami.hes.dlms_alarms import Alarm, alarm_table
from openami.log import get_logger

log = get_logger(__name__)
I64 = npt.NDArray[np.int64]


@dataclass
class ServiceStats:
    """What the service did so far (for logs, the benchmark and tests)."""

    boundaries: int = 0
    reads_published: int = 0
    sessions_ok: int = 0
    sessions_failed: int = 0
    meters_missed: int = 0  # meters still unread after every retry of a boundary
    clock_sets: int = 0
    clock_set_failures: int = 0
    alarms_published: int = 0
    last_boundary_done_s: dict[int, float] = field(default_factory=dict)  # HES clock


class HesService:
    def __init__(
        self,
        access: DlmsAccess,
        bus: Bus,
        clock: Clock,
        config: CollectionConfig | None = None,
        *,
        seed: int = 1,
        speed: float = 1.0,
        flush_s: float = 1.0,
        catch_up_slots: int = 0,
    ) -> None:
        self.access = access
        self.bus = bus
        self.clock = clock
        self.config = config or CollectionConfig()
        self.seed = seed
        self.speed = speed
        self.flush_s = flush_s
        self.catch_up_slots = min(catch_up_slots, self.config.window_slots - 1)
        n = len(access)
        self.window = GapWindow(n, self.config.window_slots)
        self.clock_watch = ClockWatch(
            n, self.config.clock_threshold_s, self.config.clock_sync_threshold_s
        )
        self.stats = ServiceStats()
        #: sessions' reads not published yet: (meter position, read, source per row)
        self._rows: list[tuple[int, MeterRead, npt.NDArray[np.uint8]]] = []
        #: alarms not published yet: (meter position, alarms, received at, after a push)
        self._alarms: list[tuple[int, tuple[Alarm, ...], float, bool]] = []
        self._pushed: set[int] = set()  # meters whose pushed alarms are being read
        self._unsent: pa.Table | None = None  # a batch the bus refused, sent first next time
        self._inflight: set[asyncio.Task[object]] = set()

    # -- time -------------------------------------------------------------------------------
    async def sleep_until(self, at_s: float) -> None:
        """Sleep until the HES clock reads ``at_s`` (clock seconds, scaled by ``speed``)."""
        while (left := at_s - self.clock.timestamp()) > 0:
            await asyncio.sleep(min(left / self.speed, 1.0))

    # -- collection -------------------------------------------------------------------------
    async def collect_boundary(self, boundary: int) -> None:
        """Read every meter for ``boundary`` (and its older gaps, in the same range read)."""
        self.window.open(boundary)
        oldest = self.window.oldest_gap(boundary)
        first = np.where(oldest >= 0, np.minimum(oldest, boundary), boundary)
        jitter = read_jitter_s(self.config, self.seed, self.access.meter_ids, boundary)
        start_s = boundary * SLOT_SECONDS + jitter
        got = await asyncio.gather(
            *(
                self._read_with_retries(i, int(first[i]), boundary, float(start_s[i]))
                for i in range(len(self.access))
            )
        )
        missed = len(got) - int(sum(got))
        self.stats.boundaries += 1
        self.stats.meters_missed += missed
        self.stats.last_boundary_done_s[boundary] = self.clock.timestamp()
        log.info("hes.boundary_done", boundary=boundary, meters=len(got), missed=missed)

    async def backfill(self, now_boundary: int) -> int:
        """One range read per meter with gaps in the window; returns meters read."""
        oldest = self.window.oldest_gap(now_boundary)
        meters = np.flatnonzero(oldest >= 0)
        now_s = self.clock.timestamp()
        got = await asyncio.gather(
            *(
                self._read_with_retries(int(i), int(oldest[i]), now_boundary, now_s, backfill=True)
                for i in meters
            )
        )
        return int(sum(got))

    async def _read_with_retries(
        self, index: int, first: int, last: int, start_s: float, backfill: bool = False
    ) -> bool:
        await self.sleep_until(start_s)
        cfg = self.config
        ids = self.access.meter_ids[index : index + 1]
        for retry in range(cfg.max_retries + 1):
            if retry:
                b = np.array([last], dtype=np.int64)
                wait = float(retry_wait_s(cfg, self.seed, 90 if backfill else 0, retry, ids, b)[0])
                await self.sleep_until(self.clock.timestamp() + wait)
            try:
                read = await self.access.read_range(index, first, last)
            except SESSION_ERRORS as exc:
                self.stats.sessions_failed += 1
                log.debug("hes.session_failed", meter_index=index, error=type(exc).__name__)
                continue
            self.stats.sessions_ok += 1
            self._take(index, read, last, retry, backfill)
            if abs(read.clock_offset_s) > cfg.clock_sync_threshold_s:
                await self._set_clock(index)
            return True
        return False

    def _take(self, index: int, read: MeterRead, last: int, retry: int, backfill: bool) -> None:
        boundary = read.boundary
        idx = np.array([index], dtype=np.int64)
        self.clock_watch.check(idx, np.array([read.clock_offset_s]))
        if read.alarms:
            self._alarms.append((index, read.alarms, read.received_at_s, False))
        n = len(boundary)
        if n == 0:
            return
        self.window.mark(np.full(n, index, dtype=np.int64), boundary)
        source = np.full(n, ReadSource.BACKFILL, dtype=np.uint8)
        if not backfill:
            source[boundary == last] = ReadSource.RETRY if retry else ReadSource.SCHEDULED
        self._rows.append((index, read, source))

    async def _set_clock(self, index: int) -> None:
        try:
            offset = await self.access.set_clock(index)
        except SESSION_ERRORS as exc:
            self.stats.clock_set_failures += 1
            log.warning("hes.clock_set_failed", meter_index=index, error=type(exc).__name__)
            return
        self.stats.clock_sets += 1
        self.clock_watch.check(np.array([index], dtype=np.int64), np.array([offset]))

    # -- publishing -------------------------------------------------------------------------
    async def flush(self) -> int:
        """Publish the reads taken since the last flush (one batch); returns rows."""
        await self._flush_alarms()
        rows, self._rows = self._rows, []
        batch = self._batch(rows)
        if self._unsent is not None:
            batch = pa.concat_tables([self._unsent, batch])
            self._unsent = None
        if batch.num_rows == 0:
            return 0
        try:
            await asyncio.to_thread(self.bus.publish, TOPIC_READINGS, batch)
        except BaseException:
            self._unsent = batch  # kept for the next flush
            raise
        self.stats.reads_published += batch.num_rows
        log.info(
            "hes.published",
            reads=batch.num_rows,
            sessions_ok=self.stats.sessions_ok,
            sessions_failed=self.stats.sessions_failed,
        )
        return batch.num_rows

    async def alarm_pushed(self, index: int) -> None:
        """Meter ``index`` pushed an alarm: read its alarms in a session now (the push is
        only a hint) and publish them at once (a meter already being read for a push is
        not read twice; a failed session leaves them to the next scheduled one)."""
        if index in self._pushed:
            return
        self._pushed.add(index)
        try:
            alarms = await self.access.read_alarms(index)
        except SESSION_ERRORS as exc:
            log.warning("hes.pushed_alarm_read_failed", meter_index=index, error=type(exc).__name__)
            return
        finally:
            self._pushed.discard(index)
        if not alarms:
            return
        self._alarms.append((index, alarms, self.clock.timestamp(), True))
        try:
            await self._flush_alarms()
        except Exception as exc:  # the bus is down: the flusher tries again
            log.warning("hes.publish_failed", error=type(exc).__name__)

    async def _flush_alarms(self) -> None:
        """Publish the alarms taken since the last flush (kept when the bus fails)."""
        alarms, self._alarms = self._alarms, []
        if not alarms:
            return
        try:
            table = alarm_table(self.access.meter_ids, alarms)
            await asyncio.to_thread(self.bus.publish, TOPIC_EVENTS, table)
        except BaseException:
            self._alarms = alarms + self._alarms
            raise
        self.stats.alarms_published += table.num_rows
        log.info("hes.alarms_published", alarms=table.num_rows)

    def _batch(self, rows: list[tuple[int, MeterRead, npt.NDArray[np.uint8]]]) -> pa.Table:
        """One READ_SCHEMA table of many sessions' reads (columns built once per flush)."""
        if not rows:
            return READ_SCHEMA.empty_table()
        counts = np.array([len(r.boundary) for _, r, _ in rows], dtype=np.int64)
        positions = np.array([i for i, _, _ in rows], dtype=np.int64)
        received = np.array([r.received_at_s for _, r, _ in rows])
        return pa.table(
            {
                "meter_id": np.repeat(self.access.meter_ids[positions], counts),
                "boundary": np.concatenate([r.boundary for _, r, _ in rows]),
                "import_register_wh": np.concatenate([r.import_register_wh for _, r, _ in rows]),
                "export_register_wh": np.concatenate([r.export_register_wh for _, r, _ in rows]),
                "received_at": np.repeat(received, counts),
                "source": np.concatenate([s for _, _, s in rows]),
            },
            schema=READ_SCHEMA,
        )

    async def _flusher(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.flush_s)
            try:
                await self.flush()
            except Exception as exc:  # the bus is down: keep the rows, try again
                log.warning("hes.publish_failed", error=type(exc).__name__)

    # -- the loop ---------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, boundaries: int | None = None) -> None:
        """Collect on the :00/:30 grid until ``stop`` is set (or ``boundaries`` are done)."""
        flusher = asyncio.create_task(self._flusher(stop))
        await asyncio.to_thread(self.access.prime_counters)
        now_b = int(self.clock.timestamp() // SLOT_SECONDS)
        for b in range(now_b - self.catch_up_slots, now_b + 1):
            self.window.open(b)  # gaps: the next boundary's range reads fetch them
        next_b = now_b + 1
        log.info("hes.started", meters=len(self.access), next_boundary=next_b)
        next_backfill_s = self.clock.timestamp() + self.config.backfill_every_s
        done = 0
        try:
            while not stop.is_set() and (boundaries is None or done < boundaries):
                waiter = asyncio.create_task(self.sleep_until(next_b * SLOT_SECONDS))
                stopped = asyncio.create_task(stop.wait())
                await asyncio.wait({waiter, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    waiter.cancel()
                    break
                stopped.cancel()
                task = asyncio.create_task(self.collect_boundary(next_b))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
                if self.clock.timestamp() >= next_backfill_s:
                    backfill = asyncio.create_task(self.backfill(next_b - 1))
                    self._inflight.add(backfill)
                    backfill.add_done_callback(self._inflight.discard)
                    next_backfill_s = self.clock.timestamp() + self.config.backfill_every_s
                next_b += 1
                done += 1
            if stop.is_set():  # stopping: sessions not done stay gaps for the next start
                for running in self._inflight:
                    running.cancel()
            if self._inflight:
                await asyncio.gather(*self._inflight, return_exceptions=True)
        finally:
            stop.set()
            await flusher
            await self.flush()
