"""Partition leases on both engines: one holder at a time, renewal, expiry by the
database's clock, fencing epochs, members' heartbeats."""

from __future__ import annotations

import time

import pytest

from openami.storage.repositories import Database
from openami.storage.repositories.leases import PartitionLeases

TTL_S = 0.6


@pytest.fixture
def leases(database: Database) -> PartitionLeases:
    return PartitionLeases(database, "mdms", TTL_S)


def wait_past_expiry() -> None:
    time.sleep(TTL_S + 0.3)


def test_a_partition_has_one_holder(leases: PartitionLeases) -> None:
    first = leases.acquire("w1", 3)
    assert first is not None and first.epoch == 1 and first.owner == "w1"
    assert leases.acquire("w2", 3) is None
    again = leases.acquire("w1", 3)  # the holder keeps it, same epoch
    assert again is not None and again.epoch == 1
    assert leases.held()[3].owner == "w1"


def test_groups_are_independent(database: Database) -> None:
    assert PartitionLeases(database, "mdms", TTL_S).acquire("w1", 0) is not None
    assert PartitionLeases(database, "hes", TTL_S).acquire("w2", 0) is not None


def test_renewal_keeps_a_lease_past_its_first_expiry(leases: PartitionLeases) -> None:
    lease = leases.acquire("w1", 0)
    assert lease is not None
    for _ in range(4):
        time.sleep(TTL_S / 3)
        renewed = leases.renew(lease)
        assert renewed is not None and renewed.expires_at >= lease.expires_at
        lease = renewed
    assert leases.acquire("w2", 0) is None


def test_an_expired_lease_is_taken_over_with_a_new_epoch(leases: PartitionLeases) -> None:
    old = leases.acquire("w1", 7)
    assert old is not None
    wait_past_expiry()
    assert 7 not in leases.held()
    new = leases.acquire("w2", 7)
    assert new is not None and new.epoch == old.epoch + 1 and new.owner == "w2"
    # the old holder learns it lost the lease and cannot release the new one
    assert leases.renew(old) is None
    assert leases.release(old) is False
    assert leases.held()[7].owner == "w2"


def test_a_released_lease_is_free_at_once(leases: PartitionLeases) -> None:
    lease = leases.acquire("w1", 1)
    assert lease is not None and leases.release(lease)
    taken = leases.acquire("w2", 1)
    assert taken is not None and taken.epoch == 2


def test_members_are_alive_while_they_beat(leases: PartitionLeases) -> None:
    leases.heartbeat("w2")
    leases.heartbeat("w1")
    assert leases.members() == ["w1", "w2"]
    wait_past_expiry()
    leases.heartbeat("w1")
    assert leases.members() == ["w1"]
    leases.acquire("w1", 4)
    leases.leave("w1")
    assert leases.members() == [] and leases.held() == {}


def test_the_database_clock_is_unix_seconds(leases: PartitionLeases) -> None:
    assert abs(leases.now_s() - time.time()) < 5.0


def test_a_ttl_must_be_positive(database: Database) -> None:
    with pytest.raises(ValueError, match="positive"):
        PartitionLeases(database, "mdms", 0)
