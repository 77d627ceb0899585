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


def test_request_result_and_latest_of_kinds(database: Database) -> None:
    store = database.requests
    suspend = replace(REQUEST, request_id="s-1", kind="suspend", supply_point_key=7)
    resume = replace(
        REQUEST, request_id="r-1", kind="resume", supply_point_key=7, effective_date="2026-04-05"
    )
    store.add_request(suspend)
    store.add_request(replace(resume, status="rejected"))
    assert store.latest_of_kinds(7, ("suspend", "resume"), ("received",)) == suspend
    assert store.latest_of_kinds(8, ("suspend", "resume"), ("received",)) is None
    assert store.latest_of_kinds(7, ("resume",), ("received", "accepted")) is None
    assert store.latest_of_kinds(7, ("suspend",), ("received",), "2026-04-01") is None
    assert store.latest_of_kinds(7, ("suspend",), ("received",), "2026-04-02") == suspend
    store.set_result("s-1", '{"import_register_wh": 12}')
    got = store.request("s-1")
    assert got is not None and got.result == '{"import_register_wh": 12}'
    with_detail = replace(REQUEST, request_id="c-1", detail='{"contract_kw": 500.0}')
    store.add_request(with_detail)
    assert store.request("c-1") == with_detail


def test_contract_demand_is_effective_dated(database: Database) -> None:
    from datetime import date

    from openami.storage.repositories import InvalidValue
    from openami.storage.repositories.contract_demand import ContractDemandStore

    store = ContractDemandStore(database)
    assert store.on(5, date(2026, 4, 1)) is None
    store.set(5, date(2026, 4, 1), 120.0, "rq-a", 1.0)
    store.set(5, date(2026, 5, 1), 150.0, "rq-b", 2.0)
    store.set(6, date(2026, 4, 15), 60.0, "rq-c", 3.0)
    assert store.on(5, date(2026, 3, 31)) is None
    assert store.on(5, date(2026, 4, 30)) == 120.0
    assert store.on(5, date(2026, 5, 1)) == 150.0
    store.set(5, date(2026, 5, 1), 160.0, "rq-d", 4.0)  # the same day again: replaced
    assert [(h.effective_date, h.contract_kw, h.request_id) for h in store.history(5)] == [
        ("2026-04-01", 120.0, "rq-a"),
        ("2026-05-01", 160.0, "rq-d"),
    ]
    for bad in (0.0, -5.0, float("nan")):
        with pytest.raises(InvalidValue):
            store.set(5, date(2026, 6, 1), bad, "rq-e", 5.0)
    assert store.on(5, date(2026, 6, 1)) == 160.0


def test_recent_requests_newest_first_and_filtered(database: Database) -> None:
    store = database.requests
    rows = [
        replace(REQUEST, request_id="a", received_at=1.0, kind="suspend", status="completed"),
        replace(REQUEST, request_id="b", received_at=3.0, retailer_id="R2"),
        replace(REQUEST, request_id="c", received_at=2.0, kind="suspend"),
    ]
    for row in rows:
        store.add_request(row)
    assert [r.request_id for r in store.recent(10)] == ["b", "c", "a"]
    assert [r.request_id for r in store.recent(1)] == ["b"]
    assert [r.request_id for r in store.recent(10, kind="suspend")] == ["c", "a"]
    assert [r.request_id for r in store.recent(10, status="completed")] == ["a"]
    assert [r.request_id for r in store.recent(10, retailer_id="R2")] == ["b"]
    assert store.recent(10, kind="suspend", retailer_id="R2") == []
