"""The audit chain on both engines: appends from two threads form one chain, UPDATE /
DELETE are refused by the database, a read-only log refuses appends."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from openami.storage.repositories import Database
from openami.storage.repositories.audit import GENESIS_HASH, AuditLog, AuditRecord


def _record(i: int, actor: str = "c1") -> AuditRecord:
    return AuditRecord(
        float(i) + 0.1, "request", actor, f"GET /x/{i}", "api-access", f"s{i}", {"n": i, "ok": True}
    )


def test_append_read_and_verify(database: Database) -> None:
    log = AuditLog(database)
    assert log.head == (0, GENESIS_HASH) and log.append_many([]) == 0
    assert log.append(_record(1)) == 1
    assert log.append_many([_record(2), _record(3)]) == 3
    entries = list(log.entries())
    assert [e.seq for e in entries] == [1, 2, 3] and entries[0].prev_hash == GENESIS_HASH
    assert entries[1].prev_hash == entries[0].hash and entries[2].detail == '{"n":3,"ok":true}'
    assert [e.seq for e in log.entries(after_seq=1, limit=1)] == [2]
    result = log.verify()
    assert result.ok and result.entries == 3 and log.head == (3, result.head_hash)
    assert log.verify(expect_head=(2, entries[1].hash)).ok
    wrong = log.verify(expect_head=(2, "ab" * 32))
    assert not wrong.ok and "differs from the anchored head" in wrong.problems[0]
    assert "is gone" in log.verify(expect_head=(9, "ab" * 32)).problems[0]


def test_the_database_refuses_changes_to_entries(database: Database) -> None:
    log = AuditLog(database)
    log.append_many([_record(1), _record(2)])
    for statement in (
        "UPDATE audit_log SET actor = 'x' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 2",
    ):
        with pytest.raises(sa.exc.IntegrityError, match="append-only"), database.write() as c:
            c.execute(sa.text(statement))
    if database.dialect == "postgresql":
        with pytest.raises(sa.exc.IntegrityError, match="append-only"), database.write() as c:
            c.execute(sa.text("TRUNCATE audit_log"))
    assert log.verify().ok and log.verify().entries == 2


def test_appends_from_two_threads_form_one_chain(database: Database) -> None:
    log = AuditLog(database)
    start = threading.Barrier(2)

    def append(actor: str) -> None:
        start.wait()
        for i in range(25):
            log.append_many([_record(i, actor), _record(i + 100, actor)])

    threads = [threading.Thread(target=append, args=(a,)) for a in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result = log.verify()
    assert result.ok and result.entries == 100 and result.head_seq == 100
    actors = [e.actor for e in log.entries()]
    assert actors.count("left") == 50 == actors.count("right")


def test_read_only_log_refuses_appends(database: Database) -> None:
    log = AuditLog(database, read_only=True)
    with pytest.raises(PermissionError):
        log.append(_record(1))
    assert log.verify().ok and log.verify().entries == 0
