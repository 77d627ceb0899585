"""Group commit of the audit log (``hub.audit.AuditWriter``): entries submitted from many
threads at once all land, each request's entries together and in its order, in fewer
transactions than requests; a failed write reaches every request waiting on it; and over
real HTTP the entries of a request are in the log when its answer arrives."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from tests.httpserver import serve
from tests.hub.cityworld import DAY1, build_world

from openami.hub.audit import PURPOSE_API_ACCESS, AuditWriter
from openami.storage.repositories import open_in_data_dir
from openami.storage.repositories.audit import AuditLog, AuditRecord
from openami.web.app import create_app


class CountingLog(AuditLog):
    """A real audit log that counts its transactions."""

    commits = 0

    def append_many(self, records):  # type: ignore[no-untyped-def]
        self.commits += 1
        return super().append_many(records)


def _records(request: int) -> list[AuditRecord]:
    return [
        AuditRecord(
            float(request), kind, f"client{request}", f"{kind} {request}", PURPOSE_API_ACCESS
        )
        for kind in ("read", "request")
    ]


def test_many_requests_share_commits_and_lose_nothing(tmp_path: Path) -> None:
    log = CountingLog(open_in_data_dir(tmp_path))
    writer = AuditWriter(log)
    start = threading.Barrier(16)

    def one(request: int) -> None:
        start.wait() if request < 16 else None
        writer.submit(_records(request)).result(timeout=60)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(200)))
    entries = list(log.entries())
    assert len(entries) == 400
    actions = [e.action for e in entries]
    for request in range(200):  # a request's two entries are adjacent, read first
        at = actions.index(f"read {request}")
        assert actions[at + 1] == f"request {request}"
    assert log.commits < 200  # grouped: fewer transactions than requests
    assert log.verify().ok  # the hash chain holds across groups


def test_a_failed_write_fails_every_waiting_request(tmp_path: Path) -> None:
    database = open_in_data_dir(tmp_path)
    AuditLog(database).append(_records(0)[0])  # keys and chain exist
    writer = AuditWriter(AuditLog(database, read_only=True))
    futures = [writer.submit(_records(i)) for i in range(5)]
    for future in futures:
        with pytest.raises(PermissionError):
            future.result(timeout=60)


def test_entries_are_in_the_log_when_the_answer_arrives(tmp_path: Path) -> None:
    world = build_world(tmp_path, meters=12)
    audit = world.context.audit
    assert audit is not None
    retailer = world.switch_from
    url = f"/v1/supply-points/{world.switched_sp}/half-hour-values"
    with serve(create_app(world.context)) as base, httpx.Client(base_url=base) as http:
        auth = {"Authorization": f"Bearer {world.token(http, retailer)}"}
        for _ in range(3):
            before = audit.head[0]
            resp = http.get(url, params={"date": DAY1.isoformat()}, headers=auth)
            assert resp.status_code == 200
            new = list(audit.entries(after_seq=before))
            assert [e.kind for e in new] == ["read", "request"]
            assert new[0].subject == world.switched_sp
