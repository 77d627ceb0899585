"""An MDMS worker that consumes exactly the bus partitions whose leases it holds.

Each :meth:`PartitionWorker.step` (every ``ttl_s / 3`` or so) runs a round of the
:class:`~openami.mdms.partition_balance.LeaseBalancer`: for a partition gained it subscribes
to the partition's durable consumers (shared by every worker of the group, so the new holder
carries on from the first message not acknowledged); for a partition to give up it first
unsubscribes (the batch in hand is stored and acknowledged), then the lease is released; for
a lease found lost it unsubscribes at once. Delivery stays at least once and the MDMS's
ingest idempotent, so a batch a dead worker stored but did not acknowledge adds nothing when
its successor gets it again.
"""

from __future__ import annotations

from collections.abc import Mapping

from openami.bus.port import Handler, PartitionedBus
from openami.mdms.partition_balance import Changes, LeaseBalancer


class PartitionWorker:
    def __init__(
        self, bus: PartitionedBus, balancer: LeaseBalancer, handlers: Mapping[str, Handler]
    ) -> None:
        self.bus = bus
        self.balancer = balancer
        self.handlers = dict(handlers)  # topic → handler (e.g. readings → Mdms.ingest)
        self.consuming: set[int] = set()

    def _drop(self, partition: int) -> None:
        if partition in self.consuming:
            for topic in self.handlers:
                self.bus.unsubscribe(topic, partition)
            self.consuming.discard(partition)

    def step(self) -> Changes:
        changes = self.balancer.step(before_release=self._drop)
        for partition in changes.gained:
            for topic, handler in self.handlers.items():
                self.bus.subscribe(topic, handler, [partition])
            self.consuming.add(partition)
        return changes

    def stop(self) -> None:
        """Stop consuming, then release every lease (the others take over at once)."""
        for partition in sorted(self.consuming):
            self._drop(partition)
        self.balancer.stop()
