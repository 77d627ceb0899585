"""Issue #15 §4: the audit chain resists an attacker who can write the database file.

The attacker uses sqlite3 on the data directory's database, drops the append-only triggers,
changes the log, re-computes whatever hashes they can (the unkeyed SHA-256 is public) and
restores the triggers. They cannot read the keys (kept outside the database): the keyed
chain and the signed checkpoints catch every change.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from openami.storage.repositories import DATA_DIR_FILE, StorageError, open_in_data_dir
from openami.storage.repositories.audit import AuditLog, AuditRecord, entry_hash
from openami.storage.secrets import (
    AUDIT_KEY_ENV,
    AUDIT_KEY_FILE,
    AUDIT_PUBLIC_KEY_FILE,
    AUDIT_SIGNING_KEY_FILE,
    CHECKPOINT_FILE,
)

TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
)
COLUMNS = "seq, at, kind, actor, action, subject, purpose, detail, prev_hash, hash"


def _records(n: int, start: int = 0) -> list[AuditRecord]:
    return [
        AuditRecord(float(i), "request", f"c{i % 3}", f"GET /v1/x/{i}", "api-access", f"s{i}")
        for i in range(start, start + n)
    ]


def _write(data_dir: Path, n: int, checkpoint: bool = True) -> None:
    database = open_in_data_dir(data_dir)
    log = AuditLog(database)
    for i in range(0, n, 50):
        log.append_many(_records(min(50, n - i), i))
    if checkpoint:
        log.checkpoint()  # as `openami serve` does at shutdown
    database.close()


def _attack(data_dir: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    with sqlite3.connect(data_dir / DATA_DIR_FILE) as con:
        con.execute("DROP TRIGGER audit_log_no_update")
        con.execute("DROP TRIGGER audit_log_no_delete")
        for sql, params in statements:
            con.execute(sql, params)
        for statement in TRIGGERS:
            con.execute(statement)


def _rehash_all(data_dir: Path) -> None:
    """Renumber the entries 1..n and re-hash the whole chain with the public hash."""
    with sqlite3.connect(data_dir / DATA_DIR_FILE) as con:
        rows = con.execute(f"SELECT {COLUMNS} FROM audit_log ORDER BY seq").fetchall()
        con.execute("DROP TRIGGER audit_log_no_update")
        con.execute("DROP TRIGGER audit_log_no_delete")
        con.execute("DELETE FROM audit_log")
        prev = "0" * 64
        for seq, row in enumerate(rows, start=1):
            fields = (seq, *row[1:8])
            digest = entry_hash(prev, *fields)
            con.execute(
                f"INSERT INTO audit_log ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (*fields, prev, digest),
            )
            prev = digest
        for statement in TRIGGERS:
            con.execute(statement)


def _verify(data_dir: Path) -> tuple[bool, list[str]]:
    log = AuditLog.open_for_checking(data_dir / DATA_DIR_FILE)
    try:
        result = log.verify()
    finally:
        log.close()
    return result.ok, list(result.problems)


def test_removing_the_newest_100_entries_is_detected(tmp_path: Path) -> None:
    _write(tmp_path, 300)
    assert _verify(tmp_path) == (True, [])
    _attack(tmp_path, ("DELETE FROM audit_log WHERE seq > 200", ()))
    ok, problems = _verify(tmp_path)
    assert not ok
    assert any("checkpoint at entry 300" in p and "cut off" in p for p in problems), problems


def test_deleting_one_entry_and_rehashing_the_whole_chain_is_detected(tmp_path: Path) -> None:
    _write(tmp_path, 120, checkpoint=False)  # only the checkpoint of the first append
    _attack(tmp_path, ("DELETE FROM audit_log WHERE seq = 40", ()))
    _rehash_all(tmp_path)
    ok, problems = _verify(tmp_path)
    assert not ok
    assert any("signed checkpoint" in p or "cut off" in p for p in problems), problems


def test_rehashing_and_removing_the_checkpoints_is_detected(tmp_path: Path) -> None:
    """Without its checkpoints a re-hashed chain would pass as an old, unkeyed one: the
    signing key's public half next to the keys says checkpoints were made."""
    _write(tmp_path, 60)
    (tmp_path / CHECKPOINT_FILE).unlink()
    _attack(tmp_path, ("DELETE FROM audit_log WHERE seq = 59", ()))
    _rehash_all(tmp_path)
    ok, problems = _verify(tmp_path)
    assert not ok and any("checkpoints are missing" in p for p in problems), problems


def test_a_forged_entry_with_a_correct_hash_is_detected(tmp_path: Path) -> None:
    _write(tmp_path, 10, checkpoint=False)
    with sqlite3.connect(tmp_path / DATA_DIR_FILE) as con:
        head_seq, head_hash = con.execute(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    fields = (head_seq + 1, 11.0, "request", "operator", "GET /innocent", None, "x", "{}")
    forged = entry_hash(head_hash, *fields)
    _attack(
        tmp_path,
        (
            f"INSERT INTO audit_log ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (*fields, head_hash, forged),
        ),
    )
    ok, problems = _verify(tmp_path)
    assert not ok
    assert any("entry 11: unkeyed entry after keyed ones" in p for p in problems), problems


def test_a_legacy_chain_verifies_as_a_legacy_segment_then_continues_keyed(
    tmp_path: Path,
) -> None:
    database = open_in_data_dir(tmp_path)
    database.close()
    prev = "0" * 64
    with sqlite3.connect(tmp_path / DATA_DIR_FILE) as con:  # written before keying
        for seq in range(1, 6):
            fields = (seq, float(seq), "request", "c1", f"GET /{seq}", None, "api-access", "{}")
            digest = entry_hash(prev, *fields)
            con.execute(
                f"INSERT INTO audit_log ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (*fields, prev, digest),
            )
            prev = digest
    database = open_in_data_dir(tmp_path)
    log = AuditLog(database)
    assert log.append_many(_records(3, 100)) == 8
    result = log.verify()
    database.close()
    assert result.ok and result.entries == 8 and result.legacy_entries == 5
    assert result.checkpoints == 1 and result.last_checkpoint_seq == 8


def test_keys_live_outside_the_database_owner_only(tmp_path: Path) -> None:
    _write(tmp_path, 5)
    for name in (AUDIT_KEY_FILE, AUDIT_SIGNING_KEY_FILE, CHECKPOINT_FILE):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600, name
    key = (tmp_path / AUDIT_KEY_FILE).read_bytes()
    assert key not in (tmp_path / DATA_DIR_FILE).read_bytes()
    public = (tmp_path / AUDIT_PUBLIC_KEY_FILE).read_text().strip()
    assert len(bytes.fromhex(public)) == 32


def test_without_the_audit_key_keyed_entries_cannot_pass(tmp_path: Path) -> None:
    _write(tmp_path, 5)
    (tmp_path / AUDIT_KEY_FILE).rename(tmp_path / "elsewhere.key")
    ok, problems = _verify(tmp_path)
    assert not ok and any("no audit key" in p for p in problems), problems
    # a missing key is never silently replaced: the checkpoints name the old one
    database = open_in_data_dir(tmp_path)
    with pytest.raises(StorageError, match="restore the key"):
        AuditLog(database).append_many(_records(1))
    database.close()


def test_the_audit_key_may_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(AUDIT_KEY_ENV, "ab" * 32)
    _write(tmp_path, 5)
    assert not (tmp_path / AUDIT_KEY_FILE).exists()
    assert _verify(tmp_path)[0]
    monkeypatch.setenv(AUDIT_KEY_ENV, "cd" * 32)  # another key: nothing verifies
    ok, problems = _verify(tmp_path)
    assert not ok and any("another audit key" in p for p in problems)


def test_a_forged_checkpoint_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, 5)
    path = tmp_path / CHECKPOINT_FILE
    line = json.loads(path.read_text().splitlines()[-1])
    line["seq"] = 4
    with path.open("a") as fh:
        fh.write(json.dumps(line) + "\n")
    ok, problems = _verify(tmp_path)
    assert not ok and any("signature does not hold" in p for p in problems)


def test_a_missing_signing_key_refuses_the_append_before_writing(tmp_path: Path) -> None:
    _write(tmp_path, 5)
    (tmp_path / AUDIT_SIGNING_KEY_FILE).rename(tmp_path / "elsewhere.key")
    database = open_in_data_dir(tmp_path)
    log = AuditLog(database)
    with pytest.raises(StorageError, match="restore the key"):
        log.append_many(_records(1))
    assert log.head[0] == 5  # nothing written without a way to checkpoint it
    database.close()


def test_a_checkpoint_that_cannot_be_written_does_not_undo_the_append(tmp_path: Path) -> None:
    database = open_in_data_dir(tmp_path)
    (tmp_path / CHECKPOINT_FILE).mkdir()  # the file cannot be opened for appending
    log = AuditLog(database)
    assert log.append_many(_records(2)) == 2 and log.head[0] == 2
    log.checkpoint_every = 1  # the next append would sign one: still no harm to the entries
    assert log.append_many(_records(1)) == 3
    database.close()
    ok, problems = _verify(tmp_path)  # the directory in its place is reported, not a crash
    assert not ok and any("cannot read the checkpoints" in p for p in problems), problems
