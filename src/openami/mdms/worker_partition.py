"""One partition's working MDMS store inside a worker (``openami serve mdms --worker``).

Partition ``k`` has a store of its own, ``DATA_DIR/partitions/p<kk>/interval.duckdb``, with
its saved tick state beside it (``tick_state.arrow``, the format of
:mod:`openami.mdms.tick_state`, tagged with that store's durable write count). The worker
holding ``k``'s lease opens it (DuckDB replays its write-ahead log after a ``kill -9`` of the
previous holder, dropping a transaction that had not committed), loads the tick state when
its tag still matches (else the first tick rebuilds it from stored rows) and writes only
through :class:`PartitionStore`: ingests, meter events and ticks run one at a time under the
partition's lock, each one transaction, and the new versions are handed to the
:class:`~openami.mdms.publish.VersionPublisher` before the bus acknowledges.

The registry look-ups of a partition (installations, meter amperages) cover only its supply
points (``bus.messages.partition_of``): a worker holding 8 of 64 partitions keeps an eighth.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import partition_of
from openami.clock import Clock, slot_at_s
from openami.log import get_logger
from openami.mdms.indexes import MeterIndex
from openami.mdms.ingest_context import VeeIngestResult
from openami.mdms.publish import VersionPublisher, partition_source
from openami.mdms.service import DEADLINE_WATERMARK, Mdms
from openami.mdms.tick_state import TICK_STATE_FILE, load_tick_state, save_tick_state
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.mdms_watermarks import watermark
from openami.storage.meter_data import meter_parameters

log = get_logger(__name__)

#: the partitions' directory in a worker's data directory
PARTITIONS_DIR = "partitions"
#: each partition's interval store file
PARTITION_STORE_FILE = "interval.duckdb"


def partition_dir(data_dir: Path, partition: int) -> Path:
    """``DATA_DIR/partitions/p<kk>``: where partition ``partition``'s store lives."""
    return data_dir / PARTITIONS_DIR / partition_source(partition)


class RegistryLookups:
    """The registry's installations and meter amperages of the partitions a worker owns,
    kept per partition (the whole tables are read, split and let go): loaded for the
    partitions it is about to open and again after ``reload_every_s`` (meters installed or
    exchanged since)."""

    def __init__(self, registry: Registry, partitions: int, reload_every_s: float) -> None:
        self.registry = registry
        self.partitions = partitions
        self.reload_every_s = reload_every_s
        self._loaded_at: float | None = None
        self._by_partition: dict[int, tuple[pa.Table, pa.Table]] = {}

    def due(self) -> bool:
        loaded = self._loaded_at
        return loaded is None or time.monotonic() - loaded >= self.reload_every_s

    def reload(self, partitions: Iterable[int]) -> None:
        """Read the registry once and keep the rows of ``partitions`` only."""
        wanted = sorted(set(partitions))
        installations = self.registry.installations_table()
        amperages = self.registry.meter_amperages_table()
        keys = installations.column("supply_point_key").to_numpy(zero_copy_only=False)
        of = partition_of(keys, self.partitions)
        kept = {}
        for partition in wanted:
            mine = installations.filter(pa.array(of == partition))
            meters = pc.is_in(amperages.column("meter_id"), value_set=mine.column("meter_id"))
            kept[partition] = (mine, amperages.filter(meters))
        self._by_partition = kept
        self._loaded_at = time.monotonic()

    def of(self, partition: int) -> tuple[pa.Table, pa.Table]:
        """(installations, amperages) of ``partition``'s supply points and meters."""
        if partition not in self._by_partition:
            self.reload([*self._by_partition, partition])
        return self._by_partition[partition]


class PartitionMdms(Mdms):
    """The MDMS of one partition: its look-ups are those of the partition's supply points."""

    def __init__(
        self,
        store: DuckIntervalStore,
        lookups: RegistryLookups,
        clock: Clock,
        partition: int,
    ) -> None:
        self.lookups = lookups
        self.partition = partition
        super().__init__(store, lookups.registry, clock)

    @cached_property
    def installations(self) -> pa.Table:
        return self.lookups.of(self.partition)[0]

    @cached_property
    def meter_index(self) -> MeterIndex:
        amps = self.lookups.of(self.partition)[1]
        return MeterIndex(meter_parameters(self.store, amps), self.vee)


class PartitionStore:
    """The open store of one partition and the MDMS writing it, one write at a time."""

    def __init__(
        self, mdms: PartitionMdms, directory: Path, publisher: VersionPublisher | None
    ) -> None:
        self.mdms = mdms
        self.directory = directory
        self.publisher = publisher
        self.lock = threading.Lock()
        self.closed = False

    @classmethod
    def open(
        cls,
        data_dir: Path,
        partition: int,
        make_mdms: Callable[[DuckIntervalStore], PartitionMdms],
        publisher: VersionPublisher | None,
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> PartitionStore:
        """Open (or create) the partition's store and load its tick state when it matches;
        raises :class:`~openami.storage.duckdb_interval.StoreInUse` while another process
        still holds the file."""
        directory = partition_dir(data_dir, partition)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        store = DuckIntervalStore(directory / PARTITION_STORE_FILE, memory_limit, threads=threads)
        try:
            mdms = make_mdms(store)
            opened = cls(mdms, directory, publisher)
            opened.load_tick_state()
        except BaseException:
            store.close()
            raise
        return opened

    @property
    def partition(self) -> int:
        return self.mdms.partition

    @property
    def store(self) -> DuckIntervalStore:
        return self.mdms.store

    @property
    def tick_state_path(self) -> Path:
        return self.directory / TICK_STATE_FILE

    def load_tick_state(self) -> None:
        if self.mdms.tick_cache is None:
            return
        got = load_tick_state(self.mdms.tick_cache, self.store, self.mdms.vee, self.tick_state_path)
        log.info(
            "mdms.tick_state_loaded",
            partition=self.partition,
            loaded=got.loaded,
            meters=got.meters,
            reason=got.reason,
        )

    def ingest(self, batch: pa.Table) -> VeeIngestResult:
        """Validate and store register reads (one transaction), then publish the new versions."""
        with self.lock:
            self._check_open()
            result = self.mdms.ingest(batch)
            self._publish()
        return result

    def ingest_events(self, events: pa.Table) -> int:
        """Store meter alarms (outages, tamper flags), then publish the new versions."""
        with self.lock:
            self._check_open()
            stored = self.mdms.ingest_hes_events(events)
            self._publish()
        return stored

    def closes_slots(self, now_s: float) -> bool:
        """Whether a tick at ``now_s`` would mark slots missing (slots past their deadline
        not closed yet); a store that never closed a slot only notes where it starts."""
        with self.lock:
            if self.closed:
                return False
            closed_through = watermark(self.store, DEADLINE_WATERMARK)
        due_through = slot_at_s(now_s - self.mdms.vee.missing_deadline_s) - 1
        return closed_through is not None and due_through > closed_through

    def tick(self, now_s: float) -> int:
        """Close the slots whose deadline has passed at ``now_s`` (missing marks); values
        marked."""
        with self.lock:
            self._check_open()
            marked = self.mdms.close_due_slots(now_s)
            self._publish()
        return marked

    def refresh_registry(self) -> None:
        with self.lock:
            self.mdms.refresh_registry()

    def save_tick_state(self) -> int | None:
        """Save the tick state beside the store (a failure is logged: the next holder then
        rebuilds it); bytes written, or None."""
        cache = self.mdms.tick_cache
        if cache is None:
            return None
        try:
            size = save_tick_state(cache, self.store, self.mdms.vee, self.tick_state_path)
        except OSError:
            log.exception("mdms.tick_state_save_failed", partition=self.partition)
            return None
        log.info("mdms.tick_state_saved", partition=self.partition, bytes=size or 0)
        return size

    def close(self, save: bool = True) -> None:
        """Save the tick state (unless the lease was lost) and close the store; writes that
        come after are refused (they are delivered again to the next holder)."""
        with self.lock:
            if self.closed:
                return
            if save:
                self.save_tick_state()
            self.store.close()
            self.closed = True

    def _check_open(self) -> None:
        if self.closed:
            raise PartitionClosed(f"partition {self.partition} is no longer held here")

    def _publish(self) -> None:
        if self.publisher is not None:
            self.publisher.publish_new(self.store, partition_source(self.partition))


class PartitionClosed(RuntimeError):
    """A write reached a partition this worker no longer holds (it is delivered again)."""
