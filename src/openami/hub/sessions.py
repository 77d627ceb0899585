"""Login sessions every hub replica sees: in the database, or in Redis with ``--redis``.

:class:`openami.hub.operators.Sessions` keeps the dashboard's and the portal's sessions in
one process's memory: behind a load balancer, a login at one hub replica would be unknown
at the next one. :class:`SharedSessions` keeps the same sessions, with the same rules, in
a store every replica shares:

- only the SHA-256 of the session token is stored (the token is only in the cookie);
- each session has the idle limit (30 min) and the absolute limit (12 h) of the in-memory
  store, kept as one expiry instant; a session past it is never returned;
- a session's last use is written back at most every :data:`TOUCH_EVERY_S` seconds (not
  on every page), so its idle limit may end up to that much early.

Backends: :class:`openami.storage.repositories.web_sessions.WebSessionStore` (the
``web_sessions`` table) and :class:`openami.hub.sessions_redis.RedisSessionBackend`.
"""

from __future__ import annotations

import secrets
from typing import Protocol

from openami.hub.operators import (
    SESSION_IDLE_S,
    SESSION_MAX_S,
    Operator,
    Session,
    token_key,
)
from openami.storage.repositories.web_sessions import SessionRecord

TOUCH_EVERY_S = 60.0
OPERATOR_REALM, CUSTOMER_REALM = "operator", "customer"


class SessionBackend(Protocol):
    def add(self, token_hash: str, record: SessionRecord) -> None: ...
    def get(self, token_hash: str, now_s: float) -> SessionRecord | None: ...
    def touch(self, token_hash: str, last_seen_s: float, expires_s: float) -> None: ...
    def remove(self, token_hash: str) -> bool: ...


class SharedSessions:
    """Login sessions of one realm in ``backend`` (see the module)."""

    def __init__(
        self, backend: SessionBackend, idle_s: float = SESSION_IDLE_S, max_s: float = SESSION_MAX_S
    ) -> None:
        self.backend = backend
        self.idle_s = idle_s
        self.max_s = max_s

    def _expires_s(self, created_s: float, seen_s: float) -> float:
        return min(seen_s + self.idle_s, created_s + self.max_s)

    def open(self, operator: Operator, now_s: float) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(operator, secrets.token_urlsafe(32), now_s, now_s)
        record = SessionRecord(
            operator.name,
            operator.role,
            session.csrf_token,
            now_s,
            now_s,
            self._expires_s(now_s, now_s),
        )
        self.backend.add(token_key(token), record)
        return token, session

    def get(self, token: str, now_s: float) -> Session | None:
        key = token_key(token)
        record = self.backend.get(key, now_s)
        if record is None:
            return None
        if now_s - record.last_seen_s >= TOUCH_EVERY_S:
            self.backend.touch(key, now_s, self._expires_s(record.created_s, now_s))
        return Session(
            Operator(record.subject, record.role), record.csrf_token, record.created_s, now_s
        )

    def close(self, token: str) -> Session | None:
        key = token_key(token)
        record = self.backend.get(key, -float("inf"))
        if record is None or not self.backend.remove(key):
            return None
        return Session(
            Operator(record.subject, record.role),
            record.csrf_token,
            record.created_s,
            record.last_seen_s,
        )
