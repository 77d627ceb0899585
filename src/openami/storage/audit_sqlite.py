"""Append-only, hash-chained audit log in its own SQLite file.

Each entry stores who (``actor``), what (``action``, ``subject``), when (``at``, epoch s
of the one clock), why (``purpose``) and a JSON ``detail``. ``hash`` = SHA-256 over the
previous entry's hash and the canonical JSON of the entry's fields, so changing, removing
or reordering any entry breaks the chain from there on. SQLite triggers refuse UPDATE and
DELETE; the chain catches edits made around them (another tool, a dropped trigger).
Truncating the newest entries leaves a valid shorter chain: anchor the head
(``seq``, ``hash``) elsewhere and pass it to :meth:`AuditLog.verify` to catch that too.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GENESIS_HASH = "0" * 64

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    purpose TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""

_COLUMNS = "seq, at, kind, actor, action, subject, purpose, detail, prev_hash, hash"


@dataclass(frozen=True)
class AuditRecord:
    """What to log; ``kind`` is "request" (every API request) or "read" (personal data)."""

    at: float
    kind: str
    actor: str
    action: str
    purpose: str
    subject: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: float
    kind: str
    actor: str
    action: str
    subject: str | None
    purpose: str
    detail: str  # canonical JSON
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    problems: tuple[str, ...] = ()


def entry_hash(
    prev_hash: str,
    seq: int,
    at: float,
    kind: str,
    actor: str,
    action: str,
    subject: str | None,
    purpose: str,
    detail: str,
) -> str:
    body = json.dumps(
        [seq, repr(float(at)), kind, actor, action, subject, purpose, detail],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(bytes.fromhex(prev_hash) + body.encode()).hexdigest()


class AuditLog:
    """Thread-safe appender and verifier for one audit SQLite file."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        """Open (and create) the log; ``read_only`` opens it as found, for checking."""
        self.path = str(path)
        self.read_only = read_only
        self._lock = threading.Lock()
        if read_only:
            uri = Path(self.path).resolve().as_uri() + "?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(SCHEMA)
        row = self._conn.execute(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        self._head_seq, self._head_hash = (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)

    @classmethod
    def in_data_dir(cls, data_dir: str | Path) -> AuditLog:
        return cls(Path(data_dir) / "audit.sqlite")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @property
    def head(self) -> tuple[int, str]:
        with self._lock:
            return self._head_seq, self._head_hash

    def append(self, record: AuditRecord) -> int:
        return self.append_many([record])

    def append_many(self, records: Sequence[AuditRecord]) -> int:
        """Append records in one transaction; returns the sequence number of the last one."""
        if not records:
            return self._head_seq
        if self.read_only:
            raise PermissionError("this audit log was opened read-only")
        with self._lock:
            seq, prev = self._head_seq, self._head_hash
            rows = []
            for r in records:
                seq += 1
                detail = json.dumps(r.detail, sort_keys=True, separators=(",", ":"), default=str)
                digest = entry_hash(
                    prev, seq, r.at, r.kind, r.actor, r.action, r.subject, r.purpose, detail
                )
                rows.append(
                    (
                        seq,
                        r.at,
                        r.kind,
                        r.actor,
                        r.action,
                        r.subject,
                        r.purpose,
                        detail,
                        prev,
                        digest,
                    )
                )
                prev = digest
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
            self._head_seq, self._head_hash = seq, prev
            return seq

    def entries(self, after_seq: int = 0, limit: int | None = None) -> Iterator[AuditEntry]:
        sql = f"SELECT {_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq"
        params: tuple[Any, ...] = (after_seq,)
        if limit is not None:
            sql += " LIMIT ?"
            params = (after_seq, limit)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        for row in rows:
            yield AuditEntry(*row)

    def verify(self, expect_head: tuple[int, str] | None = None) -> VerifyResult:
        """Walk the whole chain; list every problem found (first 20)."""
        problems: list[str] = []
        prev, expected_seq, count = GENESIS_HASH, 1, 0
        with self._lock:
            cur = self._conn.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq")
            triggers = {
                r[0]
                for r in self._conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name = 'audit_log'"
                ).fetchall()
            }
            anchored_hash: str | None = None
            for row in cur:
                e = AuditEntry(*row)
                count += 1
                if e.seq != expected_seq:
                    problems.append(f"entry {e.seq}: expected sequence number {expected_seq}")
                if e.prev_hash != prev:
                    problems.append(f"entry {e.seq}: does not link to the entry before it")
                recomputed = entry_hash(
                    e.prev_hash,
                    e.seq,
                    e.at,
                    e.kind,
                    e.actor,
                    e.action,
                    e.subject,
                    e.purpose,
                    e.detail,
                )
                if recomputed != e.hash:
                    problems.append(f"entry {e.seq}: content does not match its hash")
                prev, expected_seq = e.hash, e.seq + 1
                if expect_head is not None and e.seq == expect_head[0]:
                    anchored_hash = e.hash
        for name in ("audit_log_no_update", "audit_log_no_delete"):
            if name not in triggers:
                problems.append(f"trigger {name} is missing: UPDATE/DELETE were made possible")
        head_seq = expected_seq - 1
        if expect_head is not None:
            seq, digest = expect_head
            if seq > head_seq:
                problems.append(f"anchored entry {seq} is gone: the log ends at {head_seq}")
            elif anchored_hash != digest:
                problems.append(f"entry {seq}: hash differs from the anchored head")
        return VerifyResult(not problems, count, head_seq, prev, tuple(problems[:20]))
