"""``openami serve mdms --worker``: real worker processes on real NATS JetStream, with their
leases and registry in PostgreSQL, share 8 partitions, each in a store of its own, hand them
over on a graceful stop at once, and on a ``kill -9`` inside a tick's transaction after the
lease TTL; the values always equal those of one MDMS process, stored exactly once."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from tests.bus.nats_server import js_config, nats_url
from tests.mdms.worker_cluster import (
    PARTITIONS,
    WorkerProcess,
    drained,
    make_registry,
    merged,
    only_own_points,
    partition_values,
    publish,
    reads,
    reference,
    wait_for,
)
from tests.storage.engines import empty_postgres, postgres_url

from openami.bus.jetstream import JetStreamConfig
from openami.storage.repositories import open_database
from openami.storage.repositories.leases import PartitionLeases
from openami.storage.shared_read import SharedValuesReader

__all__ = ["js_config", "nats_url", "postgres_url"]
METERS = 24
BOUNDARIES = list(range(7))  # registers at 00:00 … 03:00 JST: values of six slots


def gaps(meter: int, boundary: int) -> bool:
    """Some meters miss a read (their slots stay missing until the backfill)."""
    return not (meter % 5 == 0 and boundary in (2, 3))


@pytest.fixture
def db_url(postgres_url: str) -> str:
    empty_postgres(postgres_url)
    return postgres_url


def owners(leases: PartitionLeases) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for partition, lease in leases.held().items():
        out.setdefault(lease.owner, set()).add(partition)
    return out


def test_two_workers_share_the_partitions_and_a_graceful_stop_hands_over_at_once(
    js_config: JetStreamConfig, db_url: str, tmp_path: Path
) -> None:
    meter_ids, keys = make_registry(db_url, METERS)
    batch = reads(meter_ids, BOUNDARIES, gaps)
    publish(js_config, meter_ids, keys, batch)
    data_dir = tmp_path / "data"
    leases = PartitionLeases(open_database(db_url), "mdms", 20.0)
    ttl_s = 20.0  # long: a takeover well before expiry proves the leases were released
    shared = tmp_path / "shared-values"  # both publish their partitions to one table
    w1 = WorkerProcess("w1", js_config, db_url, data_dir, ttl_s, shared_values=shared)
    w2 = WorkerProcess("w2", js_config, db_url, data_dir, ttl_s, shared_values=shared)
    try:
        wait_for(
            lambda: (
                {k: len(v) for k, v in owners(leases).items()} == {"w1": 4, "w2": 4}
                and drained(js_config)
                and w1.ticked() | w2.ticked() == set(range(PARTITIONS))
            ),
            90,
            "two workers holding 4 partitions each, the stream drained and every partition ticked",
            w1,
            w2,
        )
        held = leases.held()
        w1_expiry = max(lease.expires_at for lease in held.values() if lease.owner == "w1")
        assert w1.stop() == 0, w1.tail()
        assert set(owners(leases)) <= {"w2"}  # w1's leases released on its way out
        wait_for(lambda: len(owners(leases).get("w2", ())) == PARTITIONS, 30, "w2 taking all", w2)
        assert leases.now_s() < w1_expiry  # taken over before w1's leases would have expired
        wait_for(lambda: w2.ticked() == set(range(PARTITIONS)), 30, "w2 ticking all", w2)
    finally:
        for proc in (w1, w2):
            if proc.process.poll() is None:
                proc.stop()
    assert w2.process.returncode == 0, w2.tail()
    assert leases.held() == {}  # w2 left cleanly too
    per_partition = partition_values(data_dir)
    assert set(per_partition) == set(range(PARTITIONS))
    assert only_own_points(per_partition)  # state and values only for owned partitions
    got = merged(per_partition)
    expected = reference(db_url, [batch], tmp_path)
    assert any(r["quality"] != "valid" for r in expected)  # the tick marked missing slots
    assert got == expected  # every value once, as one process stores them
    assert shared_current(shared, expected) == current(expected)  # what other processes read
    leases.database.close()


def current(rows: list[dict[str, object]]) -> dict[tuple[int, int], tuple[object, ...]]:
    """(supply point, slot) → (version, import, export) of the highest version."""
    out: dict[tuple[int, int], tuple[object, ...]] = {}
    for row in rows:  # sorted by supply point, slot, version: the last one wins
        key = (int(row["supply_point_key"]), int(row["slot"]))  # type: ignore[call-overload]
        out[key] = (row["version"], row["import_wh"], row["export_wh"])
    return out


def shared_current(
    uri: Path, rows: list[dict[str, object]]
) -> dict[tuple[int, int], tuple[object, ...]]:
    """The same, as a reader of the shared interval store sees it, slot by slot."""
    reader = SharedValuesReader(uri)
    out: dict[tuple[int, int], tuple[object, ...]] = {}
    for slot in sorted({int(row["slot"]) for row in rows}):  # type: ignore[call-overload]
        table = reader.slot_values(slot).to_pylist()
        for row in table:
            key = (int(row["supply_point_key"]), slot)
            out[key] = (row["version"], row["import_wh"], row["export_wh"])
    return out


def test_a_worker_killed_inside_a_tick_transaction_is_taken_over_within_the_ttl(
    js_config: JetStreamConfig, db_url: str, tmp_path: Path
) -> None:
    meter_ids, keys = make_registry(db_url, METERS)
    first = reads(meter_ids, BOUNDARIES, gaps)
    publish(js_config, meter_ids, keys, first)
    data_dir, pause = tmp_path / "data", tmp_path / "paused"
    leases = PartitionLeases(open_database(db_url), "mdms", 3.0)
    ttl_s = 3.0
    w1 = WorkerProcess("w1", js_config, db_url, data_dir, ttl_s, pause_file=pause)
    w2: WorkerProcess | None = None
    try:
        wait_for(pause.exists, 90, "w1 pausing inside a tick's transaction", w1)
        w2 = WorkerProcess("w2", js_config, db_url, data_dir, ttl_s)
        w1.kill()
        assert w1.process.returncode == -signal.SIGKILL
        wait_for(
            lambda: (
                len(owners(leases).get("w2", ())) == PARTITIONS
                and w2 is not None
                and w2.ticked() == set(range(PARTITIONS))
            ),
            60,
            "w2 taking and ticking every partition",
            w2,
        )
        # the backfill of the missing reads, published after the takeover: versions 2
        backfill = reads(meter_ids, [2, 3], lambda meter, _b: not gaps(meter, 2))
        publish(js_config, meter_ids, keys, backfill)
        wait_for(lambda: drained(js_config), 60, "w2 storing the backfill", w2)
        assert w2.stop() == 0, w2.tail()
    finally:
        for proc in (w1, w2):
            if proc is not None and proc.process.poll() is None:
                proc.kill()
    assert leases.held() == {}
    assert any(e.get("loaded") is False for e in w2.events("mdms.tick_state_loaded"))
    # the marks rolled back with w1 were made again by w2
    assert sum(int(e["marked"]) for e in w2.events("mdms.worker_ticked")) > 0  # type: ignore[call-overload]
    per_partition = partition_values(data_dir)
    assert only_own_points(per_partition)
    got = merged(per_partition)
    expected = reference(db_url, [first, backfill], tmp_path)
    assert max(int(r["version"]) for r in expected) == 2  # missing, then measured
    assert got == expected  # none lost, none twice, versions in the same order
    leases.database.close()
