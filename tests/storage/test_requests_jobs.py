"""Retailer requests and data jobs on both engines: status transitions with ``expect``
(one winner when workers race), the event history in order, chunk claiming."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from openami.storage.repositories import AlreadyExists, Database
from openami.storage.repositories.requests import JobRow, RequestRow

REQUEST = RequestRow(
    "req-1",
    "retailer-1",
    "R1",
    "ampere_change",
    None,
    "0300",
    "2026-04-02",
    40,
    "received",
    None,
    None,
    None,
    100.0,
    100.0,
)
JOB = JobRow(
    "job-1",
    "retailer-1",
    "R1",
    "2026-04-01",
    "2026-04-02",
    "[]",
    "queued",
    3,
    0,
    100.0,
    100.0,
    None,
)


def _run(n: int, target: object) -> None:
    threads = [threading.Thread(target=target) for _ in range(n)]  # type: ignore[arg-type]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_request_lifecycle(database: Database) -> None:
    store = database.requests
    store.add_request(REQUEST)
    with pytest.raises(AlreadyExists):
        store.add_request(REQUEST)
    assert store.request("req-1") == REQUEST and store.request("nope") is None
    assert store.set_status("req-1", "scheduled", 101.0, expect="accepted") is False
    assert store.set_status("req-1", "accepted", 102.0, expect="received") is True
    store.set_decision("req-1", 7, '{"undo": 1}')
    assert store.undo_of("req-1") == '{"undo": 1}' and store.undo_of("nope") is None
    assert store.set_status("req-1", "scheduled", 103.0, correlation_id=77, expect="accepted")
    assert [r.request_id for r in store.open_for_supply_point(7)] == ["req-1"]
    assert store.by_correlation([77, 78]) == {77: "req-1"}
    assert store.set_status("req-1", "completed", 104.0)  # correlation kept when not given
    row = store.request("req-1")
    assert row is not None and row.correlation_id == 77 and row.updated_at == 104.0
    assert store.by_correlation([77]) == {}  # only scheduled ones
    assert store.open_for_supply_point(7) == []
    assert store.set_status("req-1", "failed", 105.0, "E_X", "broke") is True
    assert store.history("req-1") == [
        ("received", 100.0, None),
        ("accepted", 102.0, None),
        ("scheduled", 103.0, None),
        ("completed", 104.0, None),
        ("failed", 105.0, "E_X"),
    ]
    second = replace(REQUEST, request_id="req-2", received_at=90.0, effective_date="2026-04-01")
    store.add_request(second)
    store.add_request(replace(REQUEST, request_id="req-3", client_id="other"))
    assert [r.request_id for r in store.requests_of("retailer-1", 10, 0)] == ["req-2", "req-1"]
    assert [r.request_id for r in store.requests_of("retailer-1", 1, 1)] == ["req-1"]
    assert [r.request_id for r in store.with_status("received")] == ["req-2", "req-3"]


def test_one_worker_wins_a_transition(database: Database) -> None:
    store = database.requests
    store.add_request(REQUEST)
    moved: list[bool] = []
    start = threading.Barrier(4)

    def accept() -> None:
        start.wait()
        moved.append(store.set_status("req-1", "accepted", 101.0, expect="received"))

    _run(4, accept)
    assert moved.count(True) == 1
    assert [s for s, _, _ in store.history("req-1")] == ["received", "accepted"]


def test_jobs_and_chunk_claiming(database: Database) -> None:
    store = database.requests
    store.add_job(JOB)
    store.add_job(replace(JOB, job_id="job-0", created_at=50.0))
    assert [j.job_id for j in store.unfinished_jobs(10)] == ["job-0", "job-1"]
    assert store.job("job-1") == JOB and store.job("nope") is None
    assert store.add_chunk("job-1", 1, "too early", 101.0, 3) is False
    assert store.add_chunk("job-1", 0, '{"n": 0}', 101.0, 3) is True
    job = store.job("job-1")
    assert job is not None and (job.chunks_done, job.status) == (1, "running")
    assert store.add_chunk("job-1", 0, "again", 102.0, 3) is False  # claimed already
    assert store.chunk("job-1", 0) == '{"n": 0}' and store.chunk("job-1", 1) is None
    claimed: list[bool] = []
    start = threading.Barrier(4)

    def write_chunk_one() -> None:
        start.wait()
        claimed.append(store.add_chunk("job-1", 1, threading.current_thread().name, 103.0, 3))

    _run(4, write_chunk_one)
    assert claimed.count(True) == 1
    job = store.job("job-1")
    assert job is not None and job.chunks_done == 2 and store.chunk("job-1", 1) is not None
    assert store.add_chunk("job-1", 2, "last", 104.0, 3) is True
    job = store.job("job-1")
    assert job is not None and job.status == "completed"
    store.set_job_status("job-0", "failed", 105.0, "chunk 0: ValueError")
    failed = store.job("job-0")
    assert failed is not None and failed.error_message == "chunk 0: ValueError"
    assert store.unfinished_jobs(10) == []
