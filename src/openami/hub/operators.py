"""Operator accounts of the dashboard, their roles, passwords and login sessions (issue #15 §3).

Roles and what they may do (:data:`PERMISSIONS`):

- ``viewer``: the fleet pages (aggregates: overview, network, rollout, C route);
- ``operator``: also supply point pages (personal data) and operator actions;
- ``approver``: as operator, and approves what another operator requested (four eyes);
- ``admin``: everything, including operator accounts.

Passwords are hashed with argon2id (:mod:`argon2`, its default cost: memory-hard, so a
stolen database is slow to guess from); a login with an unknown name does the same work as
one with a wrong password. Repeated failures lock the name (:class:`openami.hub.lockout.
Lockout`), whatever address they come from. A login opens a :class:`Session`: a random
token (only its SHA-256 is kept), a CSRF token for the forms, an idle timeout and an
absolute lifetime. :class:`Sessions` keeps them in the process's memory (``openami serve``:
they do not survive a restart); hub replicas keep them in the database or Redis
(:mod:`openami.hub.sessions`), where a login at one replica holds at every other.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass, field
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from openami.hub.lockout import Lockout
from openami.storage.repositories import AlreadyExists
from openami.storage.repositories.operators import OperatorAccount, OperatorStore

ROLES = ("viewer", "operator", "approver", "admin")
VIEW = "view"  # aggregate pages
VIEW_PERSONAL = "view-personal"  # supply point pages
ACT = "act"  # operator actions
APPROVE = "approve"  # second pair of eyes
MANAGE_OPERATORS = "manage-operators"
PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({VIEW}),
    "operator": frozenset({VIEW, VIEW_PERSONAL, ACT}),
    "approver": frozenset({VIEW, VIEW_PERSONAL, ACT, APPROVE}),
    "admin": frozenset({VIEW, VIEW_PERSONAL, ACT, APPROVE, MANAGE_OPERATORS}),
}
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # argon2 takes any length; this only bounds the work per attempt
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
SESSION_IDLE_S = 30 * 60.0
SESSION_MAX_S = 12 * 3600.0
MAX_SESSIONS = 10_000

_hasher = PasswordHasher()


class OperatorError(ValueError):
    """A refused account change (bad name, role or password; a name taken)."""


class LockedOut(Exception):
    """Too many failed logins for this name: retry after ``wait_s``."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"locked for {wait_s:.0f} s")
        self.wait_s = wait_s


@dataclass(frozen=True)
class Operator:
    name: str
    role: str

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise OperatorError(
            f"an operator password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )


def hash_password(password: str) -> str:
    _check_password(password)
    return _hasher.hash(password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))  # unknown names cost the same work


class OperatorAccounts:
    """Creating, checking and changing operator accounts (over :class:`OperatorStore`)."""

    def __init__(self, store: OperatorStore, lockout: Lockout | None = None) -> None:
        self.store = store
        self.lockout = lockout if lockout is not None else Lockout()

    def add(self, name: str, role: str, password: str, now_s: float) -> Operator:
        if not NAME.fullmatch(name):
            raise OperatorError(
                "an operator name has 1 to 64 characters: letters, digits, '.', '_', '@', '-'"
            )
        if role not in ROLES:
            raise OperatorError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
        try:
            self.store.add(name, role, hash_password(password), now_s)
        except AlreadyExists:
            raise OperatorError(f"operator {name!r} exists already") from None
        return Operator(name, role)

    def ensure_admin(self, name: str, password: str, now_s: float) -> Operator:
        """The bootstrap account: ``name`` is an admin with ``password`` afterwards."""
        account = self.store.get(name)
        if account is None:
            return self.add(name, "admin", password, now_s)
        if not _verify(account.password_hash, password):
            self.store.update(name, password_hash=hash_password(password))
        if account.role != "admin" or account.disabled:
            self.store.update(name, role="admin", disabled=False)
        return Operator(name, "admin")

    def authenticate(self, name: str, password: str, now_s: float) -> Operator | None:
        """The operator if the password is right; raises :class:`LockedOut` while locked."""
        key = f"operator:{name[:64]}"
        wait_s = self.lockout.wait_s(key, now_s)
        if wait_s > 0:
            raise LockedOut(wait_s)
        account: OperatorAccount | None = None
        if NAME.fullmatch(name) and len(password) <= MAX_PASSWORD_CHARS:
            account = self.store.get(name)
        ok = _verify(
            account.password_hash if account else _DUMMY_HASH, password[:MAX_PASSWORD_CHARS]
        )
        if account is None or account.disabled or not ok:
            self.lockout.failed(key, now_s)
            return None
        self.lockout.succeeded(key)
        if _hasher.check_needs_rehash(account.password_hash):
            self.store.update(name, password_hash=_hasher.hash(password))
        return Operator(account.name, account.role)


@dataclass
class Session:
    operator: Operator
    csrf_token: str
    created_s: float
    last_seen_s: float


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_key(token: str) -> str:
    """What a session store keeps of a session token: its SHA-256 (hex)."""
    return _token_key(token)


class SessionStore(Protocol):
    """Where login sessions live: :class:`Sessions` (one process's memory) or
    :class:`openami.hub.sessions.SharedSessions` (the database or Redis: every replica)."""

    idle_s: float
    max_s: float

    def open(self, operator: Operator, now_s: float) -> tuple[str, Session]: ...
    def get(self, token: str, now_s: float) -> Session | None: ...
    def close(self, token: str) -> Session | None: ...


@dataclass
class Sessions:
    """Login sessions in memory, by the SHA-256 of their token."""

    idle_s: float = SESSION_IDLE_S
    max_s: float = SESSION_MAX_S
    _by_key: dict[str, Session] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def open(self, operator: Operator, now_s: float) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(operator, secrets.token_urlsafe(32), now_s, now_s)
        with self._lock:
            if len(self._by_key) >= MAX_SESSIONS:
                self._prune(now_s)
            if len(self._by_key) >= MAX_SESSIONS:  # still full: the oldest goes
                del self._by_key[next(iter(self._by_key))]
            self._by_key[_token_key(token)] = session
        return token, session

    def get(self, token: str, now_s: float) -> Session | None:
        key = _token_key(token)
        with self._lock:
            session = self._by_key.get(key)
            if session is None:
                return None
            if not self._alive(session, now_s):
                del self._by_key[key]
                return None
            session.last_seen_s = now_s
            return session

    def close(self, token: str) -> Session | None:
        with self._lock:
            return self._by_key.pop(_token_key(token), None)

    def _alive(self, session: Session, now_s: float) -> bool:
        return now_s - session.last_seen_s < self.idle_s and now_s - session.created_s < self.max_s

    def _prune(self, now_s: float) -> None:
        self._by_key = {k: s for k, s in self._by_key.items() if self._alive(s, now_s)}
