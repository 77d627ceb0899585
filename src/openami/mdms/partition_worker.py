"""An MDMS worker that consumes exactly the bus partitions whose leases it holds.

Each :meth:`PartitionWorker.step` (every ``ttl_s / 3`` or so) runs a round of the
:class:`~openami.mdms.partition_balance.LeaseBalancer`: for a partition gained it subscribes
to the partition's durable consumers (shared by every worker of the group, so the new holder
carries on from the first message not acknowledged); for a partition to give up it first
unsubscribes (the batch in hand is stored and acknowledged), then the lease is released; for
a lease found lost it unsubscribes at once. Delivery stays at least once and the MDMS's
ingest idempotent, so a batch a dead worker stored but did not acknowledge adds nothing when
its successor gets it again.

The handlers are either the same for every partition (``handlers``: topic → handler), or
given per partition by a :class:`PartitionHost` that opens what the partition needs (its own
store) when it is gained and closes it when it is given up, after its consumers stopped and
before its lease is released.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Protocol

from openami.bus.port import Handler, PartitionedBus
from openami.mdms.partition_balance import Changes, LeaseBalancer


class PartitionHost(Protocol):
    def open(self, partition: int) -> Mapping[str, Handler] | None:
        """Get ready to write ``partition``; its handlers by topic, or None when it cannot
        be opened now (its lease is then given back and taken again later)."""
        ...

    def prepare(self, partitions: list[int]) -> None:
        """``partitions`` are about to be opened (e.g. read what they share, once)."""
        ...

    def close(self, partition: int) -> None:
        """Stop writing ``partition`` (its consumers have stopped): save, close."""
        ...


class PartitionWorker:
    def __init__(
        self,
        bus: PartitionedBus,
        balancer: LeaseBalancer,
        handlers: Mapping[str, Handler] | None = None,
        host: PartitionHost | None = None,
    ) -> None:
        if (handlers is None) == (host is None):
            raise ValueError("give either handlers or a host")
        self.bus = bus
        self.balancer = balancer
        self.handlers = dict(handlers or {})  # topic → handler (e.g. readings → Mdms.ingest)
        self.host = host
        self.consuming: set[int] = set()
        self._topics: dict[int, list[str]] = {}  # partition → the topics it consumes

    def _drop(self, partition: int) -> None:
        topics = self._topics.pop(partition, None)
        if topics is None:
            return
        self.consuming.discard(partition)
        for topic in topics:
            self.bus.unsubscribe(topic, partition)
        if self.host is not None:
            self.host.close(partition)

    def step(self) -> Changes:
        changes = self.balancer.step(before_release=self._drop)
        refused: list[int] = []
        opened: dict[int, Mapping[str, Handler]] = {}
        if changes.gained and self.host is not None:
            self.host.prepare(changes.gained)
        renewed_at = time.monotonic()
        for partition in changes.gained:  # open them all first, then consume
            if time.monotonic() - renewed_at > self.balancer.leases.ttl_s / 3:
                refused += self._renew_while_opening(opened)  # opening many takes a while
                renewed_at = time.monotonic()
            if partition not in self.balancer.held:
                continue
            handlers = self.handlers if self.host is None else self.host.open(partition)
            if handlers is None:
                self.balancer.give_up(partition)
                refused.append(partition)
            else:
                opened[partition] = handlers
        for partition in list(opened):
            if time.monotonic() - renewed_at > self.balancer.leases.ttl_s / 3:
                refused += self._renew_while_opening(opened)
                renewed_at = time.monotonic()
            handlers = opened.get(partition)
            if handlers is None:
                continue
            for topic, handler in handlers.items():
                self.bus.subscribe(topic, handler, [partition])
            self._topics[partition] = list(handlers)
            self.consuming.add(partition)
        if not refused:
            return changes
        # given back or lost before consuming: not gained; lost among those held before: lost
        gained = [p for p in changes.gained if p not in refused]
        lost = {*changes.lost, *(set(refused) - set(changes.gained))}
        return Changes(gained, sorted(lost))

    def _renew_while_opening(self, opened: dict[int, Mapping[str, Handler]]) -> list[int]:
        """Renew the leases in the middle of a step; a partition lost meanwhile is closed
        (opened, not consumed yet) or dropped (consumed); those lost."""
        lost = self.balancer.renew()
        for partition in lost:
            if opened.pop(partition, None) is not None and self.host is not None:
                self.host.close(partition)
            self._drop(partition)
        return lost

    def drop_all(self) -> None:
        """Stop consuming and close every partition at once, keeping the leases (they
        cannot be renewed now, e.g. the database is unreachable: they will expire)."""
        for partition in sorted(self.consuming):
            self._drop(partition)
        self.balancer.held.clear()

    def stop(self) -> None:
        """Stop consuming (and close each partition), then release every lease (the others
        take over at once)."""
        for partition in sorted(self.consuming):
            self._drop(partition)
        self.balancer.stop()
