"""Append-only, keyed hash-chained audit log (table ``audit_log`` of the transactional store).

Each entry stores who (``actor``), what (``action``, ``subject``), when (``at``, epoch s
of the one clock), why (``purpose``) and a JSON ``detail``. ``hash`` = HMAC-SHA-256, under
the audit key kept outside the database (:mod:`openami.storage.secrets`), over the previous
entry's hash and the canonical JSON of the entry's fields: changing, removing, reordering
or forging any entry, or re-hashing the chain after doing so, needs the key. Triggers
refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL); :meth:`AuditLog.verify` reports a
missing trigger.

Cutting off the newest entries leaves a shorter chain that is still valid in itself: signed
checkpoints (:mod:`.audit_checkpoints`, Ed25519, kept outside the database) catch a cut
back past the newest checkpoint; one is written with the first append of a log, every
``checkpoint_every`` entries, at shutdown and on demand (``openami audit checkpoint``).
A cut after the newest checkpoint is caught only by an anchored head kept elsewhere
(``expect_head``).

Chains written before the chain was keyed (unkeyed SHA-256, :func:`entry_hash`) still
verify as a *legacy segment*, but only as the chain's first entries: once a keyed entry
has been seen, an unkeyed one is tampering.

Appends from any number of threads or processes form one chain: each append reads the head
and inserts after it inside one write transaction that holds the chain's lock (SQLite's
write lock; a transaction-scoped advisory lock on PostgreSQL).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from openami.log import get_logger
from openami.storage.repositories import audit_checkpoints as checkpoints
from openami.storage.repositories.audit_checkpoints import Checkpoint
from openami.storage.secrets import KeyRing, SecretKeyError, key_id, keys_for
from openami.storage.sql import tables as t
from openami.storage.sql.database import Database
from openami.storage.sql.engine import database_url
from openami.storage.sql.errors import StorageError
from openami.storage.sql.migrate import open_database
from openami.storage.sql.prepared import Prepared

GENESIS_HASH = "0" * 64
#: a checkpoint every this many entries (also at the first append, shutdown and on demand)
CHECKPOINT_EVERY = 1000
_MAC_DOMAIN = b"openami-audit/2\n"
log = get_logger(__name__)
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
    legacy_entries: int = 0  # unkeyed SHA-256 entries at the start (written before keying)
    checkpoints: int = 0  # signed checkpoints checked against the chain
    last_checkpoint_seq: int = 0  # the newest entry a checkpoint names (0: none)


_a = t.audit_log
_ENTRY_COLUMNS = tuple(_a.c[name] for name in AuditEntry.__dataclass_fields__)


def _body(
    seq: int,
    at: float,
    kind: str,
    actor: str,
    action: str,
    subject: str | None,
    purpose: str,
    detail: str,
) -> bytes:
    return json.dumps(
        [seq, repr(float(at)), kind, actor, action, subject, purpose, detail],
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


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
    """The unkeyed SHA-256 of chains written before keying (the legacy segment)."""
    body = _body(seq, at, kind, actor, action, subject, purpose, detail)
    return hashlib.sha256(bytes.fromhex(prev_hash) + body).hexdigest()


def entry_mac(
    key: bytes,
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
    """The keyed hash of an entry: HMAC-SHA-256 under the audit key."""
    body = _body(seq, at, kind, actor, action, subject, purpose, detail)
    message = _MAC_DOMAIN + bytes.fromhex(prev_hash) + body
    return hmac.digest(key, message, "sha256").hex()


def _chained(key: bytes, records: Sequence[AuditRecord], seq: int, prev: str) -> list[AuditEntry]:
    entries = []
    for r in records:
        seq += 1
        detail = json.dumps(r.detail, sort_keys=True, separators=(",", ":"), default=str)
        fields = (seq, r.at, r.kind, r.actor, r.action, r.subject, r.purpose, detail)
        digest = entry_mac(key, prev, *fields)
        entries.append(AuditEntry(*fields, prev, digest))
        prev = digest
    return entries


_HEAD = Prepared(sa.select(_a.c.seq, _a.c.hash).order_by(_a.c.seq.desc()).limit(1))
_INSERT = Prepared(_a.insert())


def _head(connection: sa.Connection) -> tuple[int, str]:
    rows = _HEAD.rows(Database.driver_of(connection), connection.dialect)
    return (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS_HASH)


class AuditLog:
    """Appender and verifier of the audit chain; ``read_only`` refuses appends (checks).

    ``keys``: where the audit key and the signing key are (default: :func:`keys_for` the
    database; a read-only log never creates keys)."""

    def __init__(
        self,
        database: Database,
        read_only: bool = False,
        keys: KeyRing | None = None,
        checkpoint_every: int = CHECKPOINT_EVERY,
    ) -> None:
        self.database = database
        self.read_only = read_only
        self.keys = keys if keys is not None else keys_for(database, create=not read_only)
        self.checkpoint_every = max(1, int(checkpoint_every))
        self._anchored = False  # a checkpoint exists (checked at the first append)
        self._lock = threading.Lock()

    @classmethod
    def open_for_checking(cls, url_or_path: str | Path, key_dir: Path | None = None) -> AuditLog:
        """The audit log of a database opened read-only, as found (no upgrade): for
        ``openami audit``. Its keys come from ``key_dir`` (else the SQLite file's
        directory) or the environment. Raises StorageError when there is none or it
        cannot be read."""
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
        keys = KeyRing(key_dir, create=False) if key_dir is not None else None
        return cls(database, read_only=True, keys=keys)

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
        """Append records in one transaction; returns the sequence number of the last one.
        Writes a checkpoint after the first append of a log without one and whenever the
        chain passes a multiple of ``checkpoint_every``."""
        if not records:
            return self.head[0]
        if self.read_only:
            raise PermissionError("this audit log was opened read-only")
        key = self._audit_key()
        with self.database.write() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('audit_log'))"))
            before, prev = _head(connection)
            entries = _chained(key, records, before, prev)
            _INSERT.run_many(
                Database.driver_of(connection), connection.dialect, [vars(e) for e in entries]
            )
        last = entries[-1].seq
        crossed = last // self.checkpoint_every > before // self.checkpoint_every
        if crossed or not self._anchored:
            self._anchored = True
            try:  # the entries are in: a failed checkpoint is told, not raised
                if crossed or checkpoints.count(self.keys.checkpoint_file) == 0:
                    self.checkpoint()
            except (OSError, StorageError) as exc:
                log.error("audit.checkpoint_failed", error=str(exc), seq=last)
        return last

    def record(
        self,
        actor: str,
        action: str,
        at: float,
        purpose: str,
        subject: str | None = None,
        detail: dict[str, Any] | None = None,
        kind: str = "operation",
    ) -> int:
        """Append one entry for an action by a person or a job (an MDMS edit, an
        operator's command): the port other services are handed."""
        return self.append(AuditRecord(at, kind, actor, action, purpose, subject, detail or {}))

    def checkpoint(self) -> Checkpoint | None:
        """Sign the head and append it to the checkpoint file (None: the log is empty or
        its keys have no directory to keep checkpoints in)."""
        path = self.keys.checkpoint_file
        if path is None:
            return None
        with self._lock:
            seq, digest = self.head
            if seq == 0:
                return None
            try:
                private = self.keys.require_signing_key()
                audit_key = self.keys.require_audit_key()
            except SecretKeyError as exc:
                raise StorageError(f"cannot sign an audit checkpoint: {exc}") from None
            signed = checkpoints.sign(private, seq, digest, time.time(), key_id(audit_key))
            checkpoints.append(path, signed)
        return signed

    def entries(self, after_seq: int = 0, limit: int | None = None) -> Iterator[AuditEntry]:
        statement = sa.select(*_ENTRY_COLUMNS).where(_a.c.seq > after_seq).order_by(_a.c.seq)
        with self.database.read() as connection:
            rows = connection.execute(statement.limit(limit)).all()
        for row in rows:
            yield AuditEntry(*row)

    def _audit_key(self) -> bytes:
        """The audit key, and the signing key checked too (both before anything is
        written, so a missing key refuses the append rather than a later checkpoint)."""
        try:
            if self.keys.checkpoint_file is not None:
                self.keys.require_signing_key()
            return self.keys.require_audit_key()
        except SecretKeyError as exc:
            raise StorageError(f"cannot append to the audit log: {exc}") from None

    def verify(self, expect_head: tuple[int, str] | None = None) -> VerifyResult:
        """Walk the whole chain and check it against the signed checkpoints; list every
        problem found (first 20)."""
        problems: list[str] = []
        try:
            key = self.keys.audit_key
            public = self.keys.public_key
        except SecretKeyError as exc:
            key, public = None, None
            problems.append(str(exc))
        path = self.keys.checkpoint_file
        signed, checkpoint_problems = checkpoints.read(path, public)
        problems += checkpoint_problems
        if self.keys.signed_before and checkpoints.count(path) == 0:
            problems.append(
                f"the signed checkpoints are missing ({path}): checkpoints were signed with "
                "the key next to it, so the file was removed or emptied"
            )
        expected = {c.seq: c for c in signed}
        walk = _Walk(key, expected, expect_head)
        with self.database.read() as connection:
            triggers = _triggers(connection)
            result = connection.execution_options(yield_per=5000).execute(
                sa.select(*_ENTRY_COLUMNS).order_by(_a.c.seq)
            )
            for row in result:
                walk.step(AuditEntry(*row))
        problems += walk.finish()
        for name in TRIGGERS[self.database.dialect]:
            if name not in triggers:
                problems.append(f"trigger {name} is missing: UPDATE/DELETE were made possible")
        if key is not None:
            for c in signed:
                if c.key_id != key_id(key):
                    problems.append(f"checkpoint at entry {c.seq}: made with another audit key")
        if expect_head is not None:
            seq, digest = expect_head
            if seq > walk.head_seq:
                problems.append(f"anchored entry {seq} is gone: the log ends at {walk.head_seq}")
            elif walk.anchored_hash != digest:
                problems.append(f"entry {seq}: hash differs from the anchored head")
        return VerifyResult(
            not problems,
            walk.count,
            walk.head_seq,
            walk.prev,
            tuple(problems[:20]),
            walk.legacy,
            len(signed),
            max(expected, default=0),
        )


class _Walk:
    """The state of one pass over the chain."""

    def __init__(
        self,
        key: bytes | None,
        expected: dict[int, Checkpoint],
        expect_head: tuple[int, str] | None,
    ) -> None:
        self.key = key
        self.expected = expected
        self.anchor_seq = expect_head[0] if expect_head is not None else None
        self.anchored_hash: str | None = None
        self.prev, self.next_seq, self.count = GENESIS_HASH, 1, 0
        self.legacy = 0
        self.keyed_seen = False
        self.unkeyed_without_key = 0
        self.problems: list[str] = []

    @property
    def head_seq(self) -> int:
        return self.next_seq - 1

    def step(self, e: AuditEntry) -> None:
        self.count += 1
        if e.seq != self.next_seq:
            self.problems.append(f"entry {e.seq}: expected sequence number {self.next_seq}")
        if e.prev_hash != self.prev:
            self.problems.append(f"entry {e.seq}: does not link to the entry before it")
        fields = (e.seq, e.at, e.kind, e.actor, e.action, e.subject, e.purpose, e.detail)
        if self.key is not None and hmac.compare_digest(
            entry_mac(self.key, e.prev_hash, *fields), e.hash
        ):
            self.keyed_seen = True
        elif entry_hash(e.prev_hash, *fields) == e.hash:
            if self.keyed_seen:
                self.problems.append(
                    f"entry {e.seq}: unkeyed entry after keyed ones (forged or re-hashed)"
                )
            else:
                self.legacy += 1
        elif self.key is None:
            self.unkeyed_without_key += 1
        else:
            self.problems.append(f"entry {e.seq}: content does not match its hash")
        checkpoint = self.expected.get(e.seq)
        if checkpoint is not None and checkpoint.hash != e.hash:
            self.problems.append(
                f"entry {e.seq}: hash differs from the signed checkpoint (re-hashed)"
            )
        if e.seq == self.anchor_seq:
            self.anchored_hash = e.hash
        self.prev, self.next_seq = e.hash, e.seq + 1

    def finish(self) -> list[str]:
        problems = list(self.problems)
        if self.unkeyed_without_key:
            problems.append(
                f"{self.unkeyed_without_key} entries are keyed (or altered) and no audit key "
                "is available to check them: give the key directory or OPENAMI_AUDIT_KEY"
            )
        cut = [s for s in self.expected if s > self.head_seq]
        if cut:
            problems.append(
                f"checkpoint at entry {max(cut)}: the log ends at {self.head_seq}; "
                "entries were cut off"
            )
        return problems


def _reason(exc: Exception) -> str:
    """The driver's first line of an error (no SQLAlchemy background link)."""
    cause = getattr(exc, "orig", None) or exc
    return str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__


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
