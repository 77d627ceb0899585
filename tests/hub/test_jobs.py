"""On-demand data jobs: 13 months in chunks with status transitions; > 13 months refused."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from tests.hub.test_requests import Rig, make_rig

from openami.clock import day_first_slot
from openami.hub.jobs import JobService, add_months, job_service
from openami.hub.requests_workers import WorkerThread
from openami.registry import make_supply_point_id
from openami.storage.repositories.clients import ApiClient
from openami.storage.repositories.requests import JobRow

DAY = date(2026, 11, 1)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from make_rig(tmp_path)


def test_add_months_clamps() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 1), -13) == date(2025, 10, 1)
    assert add_months(date(2025, 12, 15), 13) == date(2027, 1, 15)


def test_thirteen_months_in_chunks(rig: Rig) -> None:
    today = date(2026, 11, 1)  # the rig's clock: 10:00 JST
    keys = rig.city.supply_point_keys
    retailer = rig.registry.retailer_on(keys[0], today)
    assert retailer is not None
    mine = [p for p, k in enumerate(keys) if rig.registry.retailer_on(k, today) == retailer][:2]
    sps = [rig.city.supply_point_ids[p] for p in mine]
    h = rig.token(retailer)
    body = {"supply_point_ids": sps, "first_day": "2025-10-02", "last_day": "2026-11-01"}
    resp = rig.http.post("/v1/jobs", json=body, headers=h)
    assert resp.status_code == 202, resp.text
    job = resp.json()
    # 14 calendar months touched (Oct 2025 … Nov 2026) × 2 supply points
    assert job["status"] == "queued" and job["chunks_total"] == 28 and job["chunks_done"] == 0
    url = f"/v1/jobs/{job['job_id']}"
    early = rig.http.get(f"{url}/chunks/0", headers=h)
    assert early.status_code == 409 and early.json()["code"] == "E_CHUNK_NOT_READY"

    assert job_service(rig.context).run_pending(max_chunks=10) == 10
    mid = rig.http.get(url, headers=h).json()
    assert mid["status"] == "running" and mid["chunks_done"] == 10
    assert len(mid["chunk_urls"]) == 10
    rig.sim.run_until(rig.context.clock.timestamp() + 300)  # the worker hook finishes it
    done = rig.http.get(url, headers=h).json()
    assert done["status"] == "completed" and done["chunks_done"] == 28

    chunks = [rig.http.get(u, headers=h).json() for u in done["chunk_urls"]]
    first_sp = [c for c in chunks if c["supply_point_id"] == sps[0]]
    assert len(first_sp) == 14
    days = [d["date"] for c in first_sp for d in c["days"]]
    # supplied from 2025-11-01 on (the city's contracts), so October 2025 is empty
    assert first_sp[0]["days"] == [] and days[0] == "2025-11-01" and days[-1] == "2026-11-01"
    assert len(days) == 366 and len(set(days)) == 366
    last_day = first_sp[-1]["days"][-1]
    assert len(last_day["import_wh"]) == 48
    # 00:00 … 09:00 are in and equal the meter's register differences; later ones are not yet
    s0 = day_first_slot(today)
    imp, _ = rig.city.fleet.registers_at(np.full(19, mine[0]), np.arange(s0, s0 + 19))
    assert last_day["import_wh"][:18] == np.diff(imp).tolist()
    assert set(last_day["quality"][:18]) == {"measured"}
    assert set(last_day["quality"][22:]) == {"not_yet_available"}
    assert rig.http.get(f"{url}/chunks/28", headers=h).json()["code"] == "E_NO_SUCH_CHUNK"
    other = next(r for r in rig.secrets if r != retailer)
    assert rig.http.get(url, headers=rig.token(other)).status_code == 404


def test_job_errors(rig: Rig) -> None:
    keys = rig.city.supply_point_keys
    retailer = rig.registry.retailer_on(keys[0], date(2026, 11, 1))
    assert retailer is not None
    sp = rig.city.supply_point_ids[0]
    h = rig.token(retailer)
    other = next(r for r in rig.secrets if r != retailer)
    cases = [
        (h, ("2025-10-01", "2026-11-01"), [sp], 422, "E_PERIOD_TOO_LONG"),  # 13 months + 1 day
        (h, ("2025-09-30", "2025-10-31"), [sp], 422, "E_BEYOND_13_MONTHS"),
        (h, ("2026-11-01", "2026-11-02"), [sp], 422, "E_DATE_IN_FUTURE"),
        (h, ("2026-10-02", "2026-10-01"), [sp], 422, "E_BAD_PERIOD"),
        (h, ("2026-10-01", "2026-10-31"), [], 422, "E_NO_SUPPLY_POINTS"),
        (h, ("2026-10-01", "2026-10-31"), ["42"], 422, "E_INVALID_SUPPLY_POINT"),
        (rig.token(other), ("2026-10-01", "2026-10-31"), [sp], 403, "E_NOT_SUPPLIER"),
    ]
    for headers, (first, last), sps, status, code in cases:
        body = {"supply_point_ids": sps, "first_day": first, "last_day": last}
        resp = rig.http.post("/v1/jobs", json=body, headers=headers)
        assert (resp.status_code, resp.json()["code"]) == (status, code), (first, last, resp.text)
    many = [make_supply_point_id("03", 20_000_000 + i) for i in range(101)]
    too_many = {"supply_point_ids": many, "first_day": "2026-10-01", "last_day": "2026-10-02"}
    resp = rig.http.post("/v1/jobs", json=too_many, headers=h)
    assert resp.status_code == 422 and resp.json()["code"] == "E_TOO_MANY_SUPPLY_POINTS"


def test_worker_thread_runs_jobs_without_a_simulation(rig: Rig) -> None:
    with pytest.raises(ValueError):
        WorkerThread(rig.context)  # the HES's commands belong to its own loop
    served = dataclasses.replace(rig.context, command_port=None, bus=None, services={})
    client = ApiClient("c-R001", "retailer", "R001")
    keys = rig.city.supply_point_keys
    pos = next(p for p, k in enumerate(keys) if rig.registry.retailer_on(k, DAY) == "R001")
    job = job_service(served).submit(
        client, [rig.city.supply_point_ids[pos]], date(2026, 9, 15), date(2026, 11, 1)
    )
    assert job.chunks_total == 3
    worker = WorkerThread(served, interval_s=0.05).start()
    try:
        deadline = time.monotonic() + 20
        while job_service(served).store.job(job.job_id).status != "completed":  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the worker thread did not finish the job"
            time.sleep(0.05)
    finally:
        worker.stop()
    assert not worker._thread.is_alive()


def test_a_broken_job_fails_alone(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    service = job_service(rig.context)
    client = ApiClient("c-R001", "retailer", "R001")
    keys = rig.city.supply_point_keys
    pos = next(p for p, k in enumerate(keys) if rig.registry.retailer_on(k, DAY) == "R001")
    sp = rig.city.supply_point_ids[pos]
    broken = service.submit(client, [sp], date(2026, 10, 1), date(2026, 11, 1))
    fine = service.submit(client, [sp], date(2026, 10, 30), date(2026, 10, 31))
    original = JobService._chunk_body

    def fault(self: JobService, job: JobRow, no: int, chunk: object, total: int) -> str:
        if job.job_id == broken.job_id and no == 1:
            raise RuntimeError("injected fault")
        return original(self, job, no, chunk, total)  # type: ignore[arg-type]

    monkeypatch.setattr(JobService, "_chunk_body", fault)
    service.run_pending(50)
    failed, ok = service.store.job(broken.job_id), service.store.job(fine.job_id)
    assert failed is not None and ok is not None
    assert (failed.status, failed.chunks_done) == ("failed", 1)
    assert failed.error_message == "chunk 1: RuntimeError"
    assert ok.status == "completed"
