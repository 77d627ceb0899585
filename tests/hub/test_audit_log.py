"""Audit log: every C-route request and every personal-data read is logged and hash-chained.

The log is written by a real app over HTTP, then verified; tampering is done the way an
attacker with file access would (sqlite3, dropping the append-only triggers) and caught.
The log lives in the data directory's one database (``registry.sqlite``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from tests.httpserver import serve
from tests.hub.cityworld import DAY1, ESPI, World, build_world

from openami.hub.audit import PURPOSE_API_ACCESS, PURPOSE_RETAIL_SUPPLY
from openami.storage.repositories import DATA_DIR_FILE, open_in_data_dir
from openami.storage.repositories.audit import AuditLog, AuditRecord
from openami.web.app import create_app


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Path]]:
    tmp = tmp_path_factory.mktemp("audit")
    world = build_world(tmp, meters=12)
    retailer = world.switch_from
    with serve(create_app(world.context)) as base, httpx.Client(base_url=base) as http:
        tok = world.token(http, retailer)
        auth = {"Authorization": f"Bearer {tok}"}
        ok = http.get(
            f"/v1/supply-points/{world.switched_sp}/half-hour-values",
            params={"date": DAY1.isoformat()},
            headers=auth,
        )
        assert ok.status_code == 200
        feed = http.get(
            f"{ESPI}/Batch/Subscription/{world.client_of(retailer)}",
            params={"published-min": "2026-11-01T00:00:00+09:00"},
            headers=auth,
        )
        assert feed.status_code == 200
        assert http.get("/v1/supply-points/123/half-hour-values?date=2026-11-01").status_code == 401
        other = world.token(http, world.switch_to)
        denied = http.get(
            f"/v1/supply-points/{world.switched_sp}/half-hour-values",
            params={"date": DAY1.isoformat()},
            headers={"Authorization": f"Bearer {other}"},
        )
        assert denied.status_code == 403
        bad = http.get(
            f"/v1/supply-points/{world.switched_sp}/half-hour-values",
            params={"date": "not-a-date"},
            headers=auth,
        )
        assert bad.status_code == 422
    assert world.context.audit is not None
    world.context.audit.database.close()
    yield world, tmp


def test_requests_and_reads_are_logged_with_who_what_when_why(
    logged: tuple[World, Path],
) -> None:
    world, tmp = logged
    log = AuditLog.open_for_checking(tmp / DATA_DIR_FILE)
    entries = list(log.entries())
    log.close()
    requests = [e for e in entries if e.kind == "request"]
    reads = [e for e in entries if e.kind == "read"]
    client = world.client_of(world.switch_from)
    actions = [(e.actor, e.action.split("?")[0], e.detail) for e in requests]
    # token, JSON read, ESPI feed, unauthenticated, second token, refused read, bad date
    assert len(requests) == 7
    assert '"status":422' in actions[6][2] and "date=not-a-date" in requests[6].action
    assert actions[1][:2] == (
        client,
        f"GET /v1/supply-points/{world.switched_sp}/half-hour-values",
    )
    assert '"status":200' in actions[1][2]
    assert actions[3][0] == "anonymous" and '"status":401' in actions[3][2]
    assert actions[5][0] == world.client_of(world.switch_to) and '"status":403' in actions[5][2]
    assert all(e.purpose == PURPOSE_API_ACCESS for e in requests)
    assert all(e.at == world.clock.timestamp() for e in entries)
    # reads: one for the JSON day, one per supply point in the ESPI feed; none for the 403
    assert reads[0].subject == world.switched_sp and reads[0].actor == client
    assert reads[0].detail == f'{{"period":"{DAY1.isoformat()}"}}'
    supplied = {
        sp
        for key, sp in zip(world.city.supply_point_keys, world.city.supply_point_ids, strict=True)
        if world.registry.retailer_on(key, DAY1) == world.switch_from
    }
    assert {e.subject for e in reads[1:]} == supplied
    assert all(e.purpose == PURPOSE_RETAIL_SUPPLY for e in reads)
    assert all(world.client_of(world.switch_to) != e.actor for e in reads)
    # no secrets in the log
    text = " ".join(f"{e.action} {e.detail}" for e in entries)
    assert "secret-for-tests" not in text and "Bearer" not in text


RESTORE_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
)


def test_log_verifies_and_tampering_is_detected(logged: tuple[World, Path], tmp_path: Path) -> None:
    _, tmp = logged
    src = tmp / DATA_DIR_FILE
    database = open_in_data_dir(tmp)
    log = AuditLog(database)
    result = log.verify()
    assert result.ok and result.entries > 7 and result.problems == ()
    head = (result.head_seq, result.head_hash)
    for statement in (
        "UPDATE audit_log SET actor = 'x' WHERE seq = 2",
        "DELETE FROM audit_log WHERE seq = 2",
    ):
        with pytest.raises(sa.exc.IntegrityError, match="append-only"), database.write() as c:
            c.execute(sa.text(statement))
    assert log.verify().ok
    database.close()

    def tampered(sql: str, params: tuple[object, ...] = (), restore: bool = True) -> AuditLog:
        copy = tmp_path / f"t{abs(hash((sql, restore)))}.sqlite"
        with sqlite3.connect(src) as a, sqlite3.connect(copy) as b:
            a.backup(b)
        with sqlite3.connect(copy) as con:
            con.execute("DROP TRIGGER audit_log_no_update")
            con.execute("DROP TRIGGER audit_log_no_delete")
            con.execute(sql, params)
            if restore:  # the attacker restores the triggers: only the chain tells
                for statement in RESTORE_TRIGGERS:
                    con.execute(statement)
        return AuditLog.open_for_checking(copy, key_dir=tmp)  # the keys of the data dir

    unguarded = tampered("SELECT 1", restore=False)
    res = unguarded.verify()
    assert not res.ok and sum("trigger" in p for p in res.problems) == 2
    unguarded.close()
    edited = tampered("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3")
    res = edited.verify()
    assert not res.ok and any("entry 3: content does not match" in p for p in res.problems)
    removed = tampered("DELETE FROM audit_log WHERE seq = 4")
    res = removed.verify()
    assert not res.ok and any("entry 5" in p for p in res.problems)
    cut = tampered("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
    assert cut.verify().ok  # a tail cut after the newest checkpoint is a valid chain …
    res = cut.verify(expect_head=head)
    assert not res.ok and "is gone" in res.problems[0]  # … caught by an anchored head
    # re-hashing an edited entry does not help: the next entry no longer links to it
    rehashed = tampered("UPDATE audit_log SET hash = ? WHERE seq = 2", ("ab" * 32,))
    res = rehashed.verify()
    assert any("entry 2: content" in p for p in res.problems)
    assert any("entry 3: does not link" in p for p in res.problems)
    for log_ in (edited, removed, cut, rehashed):
        log_.close()


def test_append_continues_the_chain_after_reopening(tmp_path: Path) -> None:
    database = open_in_data_dir(tmp_path)
    AuditLog(database).append(AuditRecord(1.0, "request", "c1", "GET /x", PURPOSE_API_ACCESS))
    database.close()
    database = open_in_data_dir(tmp_path)
    log = AuditLog(database)
    seq = log.append_many(
        [AuditRecord(2.0, "read", "c1", "read x", "p", subject=f"s{i}") for i in range(3)]
    )
    assert seq == 4 and log.verify().ok and log.verify().entries == 4
    assert log.append_many([]) == 4
    database.close()
    checking = AuditLog.open_for_checking(tmp_path / DATA_DIR_FILE)
    with pytest.raises(PermissionError):
        checking.append(AuditRecord(3.0, "request", "c1", "GET /y", PURPOSE_API_ACCESS))
    assert checking.head[0] == 4
    checking.close()
