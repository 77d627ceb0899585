"""Login sessions of the dashboard and the portal, in the database every hub replica shares.

Rows are keyed by the SHA-256 of the session token (the caller hashes; the token is never
stored) and by realm (``operator``, ``customer``). A row carries its expiry (the earlier of
the idle and the absolute limit, hub clock): a session past it is never returned, and
expired rows are deleted as new sessions are opened.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from openami.storage.sql.database import Database
from openami.storage.sql.web_session_tables import web_sessions

_w = web_sessions
PRUNE_EVERY = 64  # sessions opened between two deletions of expired rows


@dataclass(frozen=True)
class SessionRecord:
    subject: str  # the operator's name or the customer's ID
    role: str
    csrf_token: str
    created_s: float
    last_seen_s: float
    expires_s: float


class WebSessionStore:
    """The sessions of one realm."""

    def __init__(self, database: Database, realm: str) -> None:
        self.database = database
        self.realm = realm
        self._opened = 0

    def add(self, token_hash: str, record: SessionRecord) -> None:
        if self._opened % PRUNE_EVERY == 0:
            self.prune(record.created_s)
        self._opened += 1
        with self.database.write() as connection:
            connection.execute(
                _w.insert().values(
                    token_hash=token_hash,
                    realm=self.realm,
                    subject=record.subject,
                    role=record.role,
                    csrf_token=record.csrf_token,
                    created_at=record.created_s,
                    last_seen_at=record.last_seen_s,
                    expires_at=record.expires_s,
                )
            )

    def get(self, token_hash: str, now_s: float) -> SessionRecord | None:
        """The live session of ``token_hash`` in this realm, or None."""
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(
                    _w.c.subject,
                    _w.c.role,
                    _w.c.csrf_token,
                    _w.c.created_at,
                    _w.c.last_seen_at,
                    _w.c.expires_at,
                ).where(
                    _w.c.token_hash == token_hash,
                    _w.c.realm == self.realm,
                    _w.c.expires_at > now_s,
                )
            ).first()
        if row is None:
            return None
        return SessionRecord(
            str(row.subject),
            str(row.role),
            str(row.csrf_token),
            float(row.created_at),
            float(row.last_seen_at),
            float(row.expires_at),
        )

    def touch(self, token_hash: str, last_seen_s: float, expires_s: float) -> None:
        """The session was used at ``last_seen_s``: it now expires at ``expires_s``."""
        with self.database.write() as connection:
            connection.execute(
                _w.update()
                .where(_w.c.token_hash == token_hash, _w.c.realm == self.realm)
                .values(last_seen_at=last_seen_s, expires_at=expires_s)
            )

    def remove(self, token_hash: str) -> bool:
        """End the session; False when there was none."""
        with self.database.write() as connection:
            result = connection.execute(
                _w.delete().where(_w.c.token_hash == token_hash, _w.c.realm == self.realm)
            )
        return bool(result.rowcount)

    def prune(self, now_s: float) -> int:
        """Delete the expired sessions (of every realm); how many."""
        with self.database.write() as connection:
            result = connection.execute(_w.delete().where(_w.c.expires_at <= now_s))
        return int(result.rowcount or 0)
