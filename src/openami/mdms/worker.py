"""An MDMS worker process: the partitions whose leases it holds, each in a store of its own
(``openami serve mdms --worker NAME``, docs/deployment.md "MDMS workers").

Every ``step_s`` the worker runs a round of its :class:`PartitionWorker` (heartbeat, renew,
give up its surplus, take free or expired partitions up to its fair share). A partition
gained is opened (:class:`PartitionStore`) and its durable consumers subscribed; one given
up or lost is unsubscribed (the batch in hand finishes), its tick state saved and its store
closed before the lease goes. After each step the worker runs the MDMS tick of every owned
partition whose last tick was in an earlier slot of its clock (so once per half hour on the
wall clock, and once at once for a partition just gained), after letting the bus settle so
reads already in the stream are stored before slots are closed; and it saves the tick states
every ``tick_state_every_s``. :meth:`MdmsWorker.stop` (SIGTERM, Ctrl-C) finishes the batch
in hand, saves every tick state and releases every lease at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from openami.bus.messages import TOPIC_EVENTS, TOPIC_READINGS
from openami.bus.port import BusTimeout, Handler, PartitionedBus
from openami.clock import Clock, slot_at_s
from openami.log import get_logger
from openami.mdms.partition_balance import Changes, LeaseBalancer, fair_share
from openami.mdms.partition_worker import PartitionWorker
from openami.mdms.publish import VersionPublisher
from openami.mdms.worker_partition import PartitionMdms, PartitionStore, RegistryLookups
from openami.storage.duckdb_interval import DuckIntervalStore, StoreInUse
from openami.storage.repositories.leases import PartitionLeases

log = get_logger(__name__)
#: ``--once``: how long the worker waits for its partitions' backlog to be stored [s]
ONCE_SETTLE_S = 600.0
#: the longest a backlog on the bus defers the closing of due slots [s]
MAX_TICK_DEFER_S = 600.0


@dataclass(frozen=True)
class WorkerOptions:
    name: str
    data_dir: Path
    partitions: int
    lease_ttl_s: float = 15.0
    step_s: float = 5.0  # at most a third of the lease TTL
    tick_state_every_s: float = 1800.0
    registry_every_s: float = 300.0
    #: DuckDB buffer pool of each partition store (None: $OPENAMI_DUCKDB_MEMORY_LIMIT / default)
    store_memory: str | None = None
    #: DuckDB threads of each partition store: a worker holds many small stores, and one
    #: thread each stored more values/s than one per core (bench_mdms_workers: 1 worker
    #: 117-123 k/s against 95-110 k/s; 2 workers 191 k/s against 147-159 k/s)
    store_threads: int | None = 1
    #: the first slot a new partition store closes (None: those due after it first opens)
    close_from_slot: int | None = None
    #: how long a tick waits for the bus to hand over what is already in the stream [s]
    settle_s: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.step_s <= self.lease_ttl_s / 3:
            raise ValueError("the step must be positive and at most a third of the lease TTL")
        if min(self.tick_state_every_s, self.registry_every_s, self.settle_s) <= 0:
            raise ValueError("tick_state_every_s, registry_every_s and settle_s must be positive")


class MdmsWorker:
    """Owns the partition stores of one worker process; the :class:`PartitionHost` of its
    :class:`PartitionWorker`."""

    def __init__(
        self,
        options: WorkerOptions,
        bus: PartitionedBus,
        leases: PartitionLeases,
        lookups: RegistryLookups,
        clock: Clock,
        publisher: VersionPublisher | None = None,
    ) -> None:
        self.options = options
        self.bus = bus
        self.lookups = lookups
        self.clock = clock
        self.publisher = publisher
        self.balancer = LeaseBalancer(leases, options.name, options.partitions)
        self.partition_worker = PartitionWorker(bus, self.balancer, host=self)
        self.stores: dict[int, PartitionStore] = {}
        self._ticked_slot: dict[int, int] = {}
        self._unsettled_since: float | None = None
        self._saved_at = time.monotonic()
        self._stepped_at = time.monotonic()
        self.stats = {"batches": 0, "values_new": 0, "reads_new": 0, "marked": 0}
        self._stats_lock = threading.Lock()

    @property
    def owned(self) -> list[int]:
        return sorted(self.stores)

    # -- PartitionHost ----------------------------------------------------------------------
    def open(self, partition: int) -> Mapping[str, Handler] | None:
        opts = self.options

        def make_mdms(store: DuckIntervalStore) -> PartitionMdms:
            mdms = PartitionMdms(store, self.lookups, self.clock, partition)
            if opts.close_from_slot is not None:
                mdms.start_closing_at(opts.close_from_slot)
            return mdms

        try:
            opened = PartitionStore.open(
                opts.data_dir,
                partition,
                make_mdms,
                self.publisher,
                opts.store_memory,
                opts.store_threads,
            )
        except StoreInUse:  # the previous holder has not closed it yet: try again later
            log.warning("mdms.worker_store_busy", worker=opts.name, partition=partition)
            return None
        except Exception:  # e.g. a full disk: give the lease back, another step retries
            log.exception("mdms.worker_open_failed", worker=opts.name, partition=partition)
            return None
        self.stores[partition] = opened
        return {
            TOPIC_READINGS: self._reads_handler(opened),
            TOPIC_EVENTS: self._events_handler(opened),
        }

    def prepare(self, partitions: list[int]) -> None:
        """Read the registry look-ups of the partitions about to be opened (once for all)."""
        self.lookups.reload([*self.stores, *partitions])

    def close(self, partition: int) -> None:
        opened = self.stores.pop(partition, None)
        self._ticked_slot.pop(partition, None)
        if opened is not None:
            opened.close(save=partition in self.balancer.held)

    def _reads_handler(self, opened: PartitionStore) -> Handler:
        first = [True]

        def handle(batch: pa.Table) -> None:
            started = time.perf_counter()
            result = opened.ingest(batch)
            took_s = round(time.perf_counter() - started, 4)
            with self._stats_lock:
                self.stats["batches"] += 1
                self.stats["values_new"] += result.values_new
                self.stats["reads_new"] += result.reads_new
            event = "mdms.worker_resumed" if first[0] else "mdms.worker_ingested"
            (log.info if first[0] else log.debug)(  # the first batch since it was opened
                event,
                partition=opened.partition,
                rows=result.rows_in,
                values=result.values_new,
                seconds=took_s,
            )
            first[0] = False

        return handle

    def _events_handler(self, opened: PartitionStore) -> Handler:
        return opened.ingest_events

    # -- the loop ---------------------------------------------------------------------------
    def step(self) -> Changes:
        """One lease round, then the registry look-ups when due."""
        try:
            changes = self.partition_worker.step()
        except Exception:
            log.exception("mdms.worker_step_failed", worker=self.options.name)
            self._close_unconsumed()
            if time.monotonic() - self._stepped_at > self.options.lease_ttl_s * 0.8:
                self.partition_worker.drop_all()  # the leases may have expired: stop writing
                self._close_unconsumed()
            return Changes()
        self._stepped_at = time.monotonic()
        if changes.gained or changes.lost:
            log.info(
                "mdms.worker_partitions",
                worker=self.options.name,
                gained=changes.gained,
                lost=changes.lost,
                owned=self.owned,
            )
        if self.stores and self.lookups.due():
            self._refresh_registry()
        return changes

    def _refresh_registry(self) -> None:
        self.lookups.reload(self.stores)
        for opened in list(self.stores.values()):
            opened.refresh_registry()

    def _close_unconsumed(self) -> None:
        """Close the stores a failed step opened but did not get to consume (their leases
        are given back when possible, else they expire)."""
        for partition in [p for p in self.stores if p not in self.partition_worker.consuming]:
            self.close(partition)
            if partition in self.balancer.held:
                try:
                    self.balancer.give_up(partition)
                except Exception:
                    self.balancer.held.pop(partition, None)

    def tick_due(self) -> int:
        """Tick every owned partition not yet ticked in the clock's current slot; values
        marked missing."""
        now_s = self.clock.timestamp()
        slot = slot_at_s(now_s)
        due = [p for p in self.owned if self._ticked_slot.get(p) != slot]
        if not due:
            return 0
        closing = [p for p in due if p in self.stores and self.stores[p].closes_slots(now_s)]
        if closing and not self._settled():  # reads in the stream first, then missing marks
            return 0
        marked = 0
        for partition in due:
            opened = self.stores.get(partition)
            if opened is None:
                continue
            marked += opened.tick(now_s)
            self._ticked_slot[partition] = slot
        with self._stats_lock:
            self.stats["marked"] += marked
        log.info("mdms.worker_ticked", worker=self.options.name, partitions=due, marked=marked)
        return marked

    def _settled(self) -> bool:
        """Whether the reads already in the stream are stored (so slots are not closed
        while their reads wait in it). A backlog defers the tick to the next step, for at
        most ``MAX_TICK_DEFER_S``: then the due slots are closed anyway, and the reads that
        arrive after add measured versions over the missing marks."""
        try:
            self.bus.settle(min(self.options.settle_s, self.options.step_s))
        except BusTimeout:
            now = time.monotonic()
            if self._unsettled_since is None:
                self._unsettled_since = now
            if now - self._unsettled_since < MAX_TICK_DEFER_S:
                log.debug("mdms.worker_tick_deferred", worker=self.options.name)
                return False
            log.warning("mdms.worker_tick_unsettled", worker=self.options.name)
        self._unsettled_since = None
        return True

    def save_due(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._saved_at < self.options.tick_state_every_s:
            return
        for opened in list(self.stores.values()):
            with opened.lock:
                if not opened.closed:
                    opened.save_tick_state()
        self._saved_at = time.monotonic()

    def has_fair_share(self) -> bool:
        members = self.balancer.leases.members()
        share = fair_share(self.options.partitions, members, self.options.name)
        return len(self.stores) >= share

    def run(self, stop: threading.Event, once: bool = False) -> None:
        """Step, tick and save until ``stop`` is set. ``once``: until the fair share is held,
        then tick every partition once and return (the caller then stops the worker)."""
        while not stop.is_set():
            self.step()
            if once and self.has_fair_share():
                self.bus.settle(ONCE_SETTLE_S)  # everything already in the stream
                self.tick_due()
                return
            if not once:
                try:
                    self.tick_due()
                    self.save_due()
                except Exception:  # e.g. a store's disk: the next step tries again
                    log.exception("mdms.worker_tick_failed", worker=self.options.name)
            stop.wait(self.options.step_s)

    def stop(self) -> None:
        """Finish the batch in hand, save the tick states, close the stores, release every
        lease at once (the other workers take over without waiting for expiry)."""
        for partition in [p for p in self.stores if p not in self.partition_worker.consuming]:
            self.close(partition)  # opened by a step that failed half way
        self.partition_worker.stop()
        log.info("mdms.worker_stopped", worker=self.options.name, **self.stats)
