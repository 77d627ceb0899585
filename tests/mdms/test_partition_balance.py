"""Workers balance partitions through leases: fair shares as they come and go, and a dead
worker's partitions taken over once its leases expire (both engines)."""

from __future__ import annotations

import time

import pytest
from tests.storage.engines import database, postgres_url

from openami.mdms.partition_balance import LeaseBalancer, fair_share
from openami.storage.repositories import Database
from openami.storage.repositories.leases import PartitionLeases

__all__ = ["database", "postgres_url"]
TTL_S = 3.0
PARTITIONS = 64


def workers(database: Database, *names: str) -> list[LeaseBalancer]:
    return [
        LeaseBalancer(PartitionLeases(database, "mdms", TTL_S), name, PARTITIONS) for name in names
    ]


def rounds(balancers: list[LeaseBalancer], n: int = 3) -> None:
    for _ in range(n):
        for balancer in balancers:
            balancer.step()


def assert_disjoint_and_complete(balancers: list[LeaseBalancer]) -> None:
    owned = [p for b in balancers for p in b.owned]
    assert sorted(owned) == list(range(PARTITIONS))  # every partition, each once


def test_fair_shares_add_up() -> None:
    members = ["a", "b", "c"]
    assert [fair_share(64, members, m) for m in members] == [22, 21, 21]
    assert fair_share(64, [], "a") == 64


def test_two_workers_split_the_partitions(database: Database) -> None:
    a, b = workers(database, "a", "b")
    a.step()  # alone: takes everything
    assert len(a.owned) == PARTITIONS
    rounds([a, b])
    assert (len(a.owned), len(b.owned)) == (32, 32)
    assert_disjoint_and_complete([a, b])


def test_a_third_worker_joins_and_one_leaves(database: Database) -> None:
    a, b, c = workers(database, "a", "b", "c")
    rounds([a, b])
    rounds([a, b, c])
    assert sorted(len(w.owned) for w in (a, b, c)) == [21, 21, 22]
    assert_disjoint_and_complete([a, b, c])
    c.stop()  # leaves cleanly: its partitions are free at once
    changes = [a.step(), b.step()]
    assert sum(len(ch.gained) for ch in changes) >= 21
    rounds([a, b])
    assert (len(a.owned), len(b.owned)) == (32, 32)
    assert_disjoint_and_complete([a, b])


def test_a_dead_workers_partitions_are_taken_over_after_expiry(database: Database) -> None:
    a, b = workers(database, "a", "b")
    rounds([a, b])
    dead = list(b.owned)
    epochs = {p: b.held[p].epoch for p in dead}
    # b stops renewing (killed): until its leases expire, a cannot take them
    a.step()
    assert a.owned == sorted(set(range(PARTITIONS)) - set(dead))
    time.sleep(TTL_S + 0.3)
    changes = a.step()  # b's heartbeat and leases are stale: a takes the lot
    assert changes.gained == sorted(dead) and changes.lost == []
    assert len(a.owned) == PARTITIONS
    assert all(a.held[p].epoch == epochs[p] + 1 for p in dead)  # fenced: a new epoch each
    # the dead worker, coming back with its old leases, finds them lost
    lost = b.step().lost
    assert sorted(lost) == sorted(dead)


@pytest.mark.parametrize("n", [1, 5])
def test_a_worker_holds_every_partition_when_alone(database: Database, n: int) -> None:
    (a,) = workers(database, "a")
    rounds([a], n)
    assert len(a.owned) == PARTITIONS
