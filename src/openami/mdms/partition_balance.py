"""Partitions balanced among MDMS workers through leases (one writer per partition).

Each worker calls :meth:`LeaseBalancer.step` every ``ttl_s / 3`` or so. A step says the
worker is alive, renews the leases it holds (one it could not renew is lost: it must stop
writing that partition at once), works out its fair share of the partitions among the live
workers (sorted by name, the first ``partitions mod workers`` take one more), gives up what
it holds beyond that share and takes free or expired partitions up to it. Workers that come
and go thus converge in a few steps; a worker that dies (``kill -9``) stops renewing, and
once its leases and heartbeat are ``ttl_s`` old the others take its partitions over, each
with a new epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from openami.storage.repositories.leases import Lease, PartitionLeases


@dataclass(frozen=True)
class Changes:
    gained: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)  # lost to another worker, or given up


def fair_share(partitions: int, members: list[str], owner: str) -> int:
    """How many partitions ``owner`` should hold among ``members`` (sorted)."""
    if owner not in members:
        members = sorted([*members, owner])
    base, extra = divmod(partitions, len(members))
    return base + (1 if members.index(owner) < extra else 0)


class LeaseBalancer:
    def __init__(self, leases: PartitionLeases, owner: str, partitions: int) -> None:
        self.leases = leases
        self.owner = owner
        self.partitions = partitions
        self.held: dict[int, Lease] = {}

    @property
    def owned(self) -> list[int]:
        return sorted(self.held)

    def step(self, before_release: Callable[[int], None] | None = None) -> Changes:
        """One round: heartbeat, renew, give up the surplus, take up to the fair share.
        ``before_release`` is called with each partition before its lease is given up (and
        with each lease found lost), so that its writer stops first."""
        self.leases.heartbeat(self.owner)
        lost = self._renew()
        for partition in lost:
            if before_release is not None:
                before_release(partition)
        target = fair_share(self.partitions, self.leases.members(), self.owner)
        for partition in sorted(self.held, reverse=True)[: max(len(self.held) - target, 0)]:
            if before_release is not None:
                before_release(partition)
            self.leases.release(self.held.pop(partition))
            lost.append(partition)
        gained = []
        if len(self.held) < target:
            taken = self.leases.held()
            for partition in range(self.partitions):
                if len(self.held) >= target:
                    break
                if partition in self.held or partition in taken:
                    continue
                lease = self.leases.acquire(self.owner, partition)
                if lease is not None:
                    self.held[partition] = lease
                    gained.append(partition)
        return Changes(gained, sorted(lost))

    def renew(self) -> list[int]:
        """Renew every held lease now (between the slow parts of a step, so that none
        expires meanwhile); the partitions whose lease was lost."""
        self.leases.heartbeat(self.owner)
        return self._renew()

    def _renew(self) -> list[int]:
        lost = []
        for partition, lease in list(self.held.items()):
            renewed = self.leases.renew(lease)
            if renewed is None:
                del self.held[partition]
                lost.append(partition)
            else:
                self.held[partition] = renewed
        return lost

    def give_up(self, partition: int) -> None:
        """Release one held lease now (e.g. its store could not be opened yet: another
        process still holds the file); a later step may take it again."""
        lease = self.held.pop(partition, None)
        if lease is not None:
            self.leases.release(lease)

    def stop(self) -> None:
        """Leave cleanly: release every lease at once (no waiting for expiry)."""
        self.leases.leave(self.owner)
        self.held.clear()
