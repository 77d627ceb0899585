"""Append-only, hash-chained audit log (table ``audit_log`` of the transactional store).

Each entry stores who (``actor``), what (``action``, ``subject``), when (``at``, epoch s
of the one clock), why (``purpose``) and a JSON ``detail``. ``hash`` = SHA-256 over the
previous entry's hash and the canonical JSON of the entry's fields, so changing, removing
or reordering any entry breaks the chain from there on. Triggers refuse UPDATE and DELETE
(and TRUNCATE on PostgreSQL); the chain catches edits made around them (another tool, a
dropped trigger), and :meth:`AuditLog.verify` reports a missing trigger. Truncating the
newest entries leaves a valid shorter chain: anchor the head (``seq``, ``hash``) elsewhere
and pass it to :meth:`AuditLog.verify` to catch that too.

Appends from any number of threads or processes form one chain: each append reads the head
and inserts after it inside one write transaction that holds the chain's lock (SQLite's
write lock; a transaction-scoped advisory lock on PostgreSQL).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from openami.storage.sql import tables as t
from openami.storage.sql.database import Database
from openami.storage.sql.engine import database_url
from openami.storage.sql.errors import StorageError
from openami.storage.sql.migrate import open_database
from openami.storage.sql.prepared import Prepared

GENESIS_HASH = "0" * 64
TRIGGERS = {
    "sqlite": ("audit_log_no_update", "audit_log_no_delete"),
    "postgresql": ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_truncate"),
}


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


_a = t.audit_log
_ENTRY_COLUMNS = tuple(_a.c[name] for name in AuditEntry.__dataclass_fields__)


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


def _chained(records: Sequence[AuditRecord], seq: int, prev: str) -> list[AuditEntry]:
    entries = []
    for r in records:
        seq += 1
        detail = json.dumps(r.detail, sort_keys=True, separators=(",", ":"), default=str)
        digest = entry_hash(
            prev, seq, r.at, r.kind, r.actor, r.action, r.subject, r.purpose, detail
        )
        entries.append(
            AuditEntry(
                seq, r.at, r.kind, r.actor, r.action, r.subject, r.purpose, detail, prev, digest
            )
        )
        prev = digest
    return entries


_HEAD = Prepared(sa.select(_a.c.seq, _a.c.hash).order_by(_a.c.seq.desc()).limit(1))
_INSERT = Prepared(_a.insert())


def _head(connection: sa.Connection) -> tuple[int, str]:
    rows = _HEAD.rows(Database.driver_of(connection), connection.dialect)
    return (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS_HASH)


class AuditLog:
    """Appender and verifier of the audit chain; ``read_only`` refuses appends (checks)."""

    def __init__(self, database: Database, read_only: bool = False) -> None:
        self.database = database
        self.read_only = read_only

    @classmethod
    def open_for_checking(cls, url_or_path: str | Path) -> AuditLog:
        """The audit log of a database opened read-only, as found (no upgrade): for
        ``openami audit``. Raises StorageError when there is none or it cannot be read."""
        shown = database_url(url_or_path).render_as_string(hide_password=True)
        try:
            database = open_database(url_or_path, read_only=True)
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            raise StorageError(f"cannot open {shown}: {_reason(exc)}") from None
        try:
            with database.read() as connection:
                present = sa.inspect(connection).has_table(t.audit_log.name)
        except sa.exc.SQLAlchemyError as exc:
            database.close()
            raise StorageError(f"cannot open {shown}: {_reason(exc)}") from None
        if not present:
            database.close()
            raise StorageError(f"no audit log in {shown}")
        return cls(database, read_only=True)

    def close(self) -> None:
        """Close the database of a log from :meth:`open_for_checking`."""
        self.database.close()

    @property
    def head(self) -> tuple[int, str]:
        """(sequence number, hash) of the newest entry; (0, genesis) when empty."""
        with self.database.read() as connection:
            return _head(connection)

    def append(self, record: AuditRecord) -> int:
        return self.append_many([record])

    def append_many(self, records: Sequence[AuditRecord]) -> int:
        """Append records in one transaction; returns the sequence number of the last one."""
        if not records:
            return self.head[0]
        if self.read_only:
            raise PermissionError("this audit log was opened read-only")
        with self.database.write() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('audit_log'))"))
            entries = _chained(records, *_head(connection))
            _INSERT.run_many(
                Database.driver_of(connection), connection.dialect, [vars(e) for e in entries]
            )
        return entries[-1].seq

    def entries(self, after_seq: int = 0, limit: int | None = None) -> Iterator[AuditEntry]:
        statement = sa.select(*_ENTRY_COLUMNS).where(_a.c.seq > after_seq).order_by(_a.c.seq)
        with self.database.read() as connection:
            rows = connection.execute(statement.limit(limit)).all()
        for row in rows:
            yield AuditEntry(*row)

    def verify(self, expect_head: tuple[int, str] | None = None) -> VerifyResult:
        """Walk the whole chain; list every problem found (first 20)."""
        problems: list[str] = []
        prev, expected_seq, count = GENESIS_HASH, 1, 0
        anchored_hash: str | None = None
        with self.database.read() as connection:
            triggers = _triggers(connection)
            result = connection.execution_options(yield_per=5000).execute(
                sa.select(*_ENTRY_COLUMNS).order_by(_a.c.seq)
            )
            for row in result:
                e = AuditEntry(*row)
                count += 1
                problems += _entry_problems(e, expected_seq, prev)
                prev, expected_seq = e.hash, e.seq + 1
                if expect_head is not None and e.seq == expect_head[0]:
                    anchored_hash = e.hash
        for name in TRIGGERS[self.database.dialect]:
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


def _reason(exc: Exception) -> str:
    """The driver's first line of an error (no SQLAlchemy background link)."""
    cause = getattr(exc, "orig", None) or exc
    return str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__


def _entry_problems(e: AuditEntry, expected_seq: int, prev: str) -> list[str]:
    problems = []
    if e.seq != expected_seq:
        problems.append(f"entry {e.seq}: expected sequence number {expected_seq}")
    if e.prev_hash != prev:
        problems.append(f"entry {e.seq}: does not link to the entry before it")
    fields = (e.seq, e.at, e.kind, e.actor, e.action, e.subject, e.purpose, e.detail)
    if entry_hash(e.prev_hash, *fields) != e.hash:
        problems.append(f"entry {e.seq}: content does not match its hash")
    return problems


def _triggers(connection: sa.Connection) -> set[str]:
    """Names of the triggers on ``audit_log``."""
    if connection.dialect.name == "postgresql":
        sql = (
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass "
            "AND NOT tgisinternal"
        )
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
    return {str(r[0]) for r in connection.execute(sa.text(sql))}
