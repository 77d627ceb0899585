"""Claims with leases on the hub's work queues (webhook deliveries, data jobs), on both
engines: one holder at a time, concurrent claimers never share a row, an expired claim is
taken over, the old holder is fenced out, the watermark moves once."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from openami.storage.repositories import Database
from openami.storage.repositories.requests import JobRow, RequestStore
from openami.storage.repositories.webhooks import WebhookStore

TTL_S = 0.6
JOB = JobRow("job-1", "c", "R1", "2026-01-01", "2026-01-31", "[]", "queued", 3, 0, 1.0, 1.0, None)


def _deliveries(store: WebhookStore, n: int) -> None:
    store.enqueue([(f"ws-{i % 3}", f'{{"n":{i}}}'.encode()) for i in range(n)], 10.0)


def test_a_delivery_is_claimed_by_one_replica(database: Database) -> None:
    store = WebhookStore(database, TTL_S)
    _deliveries(store, 5)
    first = store.claim_due("replica-a", 20.0, 3)
    second = store.claim_due("replica-b", 20.0, 10)
    assert len(first) == 3 and len(second) == 2
    assert not {d.delivery_id for d in first} & {d.delivery_id for d in second}
    assert store.claim_due("replica-c", 20.0, 10) == []  # all held by others
    again = store.claim_due("replica-b", 20.0, 10)  # a holder gets its own back
    assert {d.delivery_id for d in again} == {d.delivery_id for d in second}
    assert store.claim_due("replica-a", 5.0, 10) == []  # none due yet at that instant
    # only the holder records; recording gives the claim up
    d = first[0]
    assert not store.record_attempt(d.delivery_id, "delivered", 1, 20, 20, 200, None, "replica-b")
    assert store.record_attempt(d.delivery_id, "delivered", 1, 20, 20, 200, None, "replica-a")
    assert d.delivery_id not in {x.delivery_id for x in store.due(1e9, 10)}


def test_an_expired_claim_is_taken_over_and_the_old_holder_fenced(database: Database) -> None:
    store = WebhookStore(database, TTL_S)
    _deliveries(store, 1)
    (held,) = store.claim_due("dead", 20.0, 10)
    assert store.claim_due("alive", 20.0, 10) == []
    time.sleep(TTL_S + 0.3)  # the database's clock: the lease runs out
    (taken,) = store.claim_due("alive", 20.0, 10)
    assert taken.delivery_id == held.delivery_id
    assert not store.record_attempt(held.delivery_id, "delivered", 1, 20, 20, 200, None, "dead")
    assert store.record_attempt(held.delivery_id, "delivered", 1, 20, 20, 200, None, "alive")
    (row,) = store.deliveries("ws-0")
    assert (row.status, row.attempts) == ("delivered", 1)


def test_concurrent_claimers_never_share_a_delivery(database: Database) -> None:
    store = WebhookStore(database, 60.0)
    _deliveries(store, 60)
    got: dict[str, list[int]] = {}
    start = threading.Barrier(4)

    def claim(owner: str) -> None:
        start.wait()
        mine = got.setdefault(owner, [])
        while batch := store.claim_due(owner, 20.0, 4):
            mine.extend(d.delivery_id for d in batch)
            for d in batch:
                store.record_attempt(d.delivery_id, "delivered", 1, 20, 20, 200, None, owner)

    threads = [threading.Thread(target=claim, args=(f"r{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [i for ids in got.values() for i in ids]
    assert len(claimed) == 60 and len(set(claimed)) == 60


def test_the_watermark_moves_once_with_its_deliveries(database: Database) -> None:
    store = WebhookStore(database)
    assert store.advance_watermark("values", None, 100.0, [("ws-1", b"{}")])
    assert not store.advance_watermark("values", None, 100.0, [("ws-1", b"{}")])
    assert store.advance_watermark("values", 100.0, 200.0, [("ws-1", b"{}")])
    # a replica that read the old watermark loses: nothing queued twice
    assert not store.advance_watermark("values", 100.0, 250.0, [("ws-1", b"{}")])
    assert store.watermark("values") == 200.0
    assert len(store.due(1e9, 10)) == 2


def test_a_job_runs_in_one_replica_and_is_taken_over_after_expiry(database: Database) -> None:
    store = RequestStore(database, TTL_S)
    store.add_job(JOB)
    store.add_job(replace(JOB, job_id="job-2", created_at=2.0))
    mine = store.claim_job("a")
    assert mine is not None and mine.job_id == "job-1"
    other = store.claim_job("b")
    assert other is not None and other.job_id == "job-2"  # the next job, not a's
    assert store.claim_job("c") is None
    assert store.add_chunk("job-1", 0, "{}", 3.0, 3)
    assert store.job_claims.renew("a", "job-1")
    time.sleep(TTL_S + 0.3)  # a dies: its claim runs out
    taken = store.claim_job("c")
    assert taken is not None and taken.job_id == "job-1" and taken.chunks_done == 1
    assert not store.job_claims.renew("a", "job-1")  # fenced out
    assert store.job_claims.holders(["job-1"]) == {"job-1": "c"}
    store.job_claims.release("c", "job-1")
    assert store.job_claims.holders(["job-1"]) == {"job-1": None}
