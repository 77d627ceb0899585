"""Claims with leases on the rows of a work queue, for several hub processes over one store.

A queue table (``webhook_deliveries``, ``data_jobs``) has two columns for this:
``claimed_by`` (the process working on the row) and ``lease_until`` (epoch seconds on the
**database's** clock after which the claim is void). :meth:`Claims.claim` takes rows that
match a condition and that nobody holds (never claimed, lease expired, or already the
caller's) in one write transaction: on PostgreSQL the candidates are read with
``SELECT … FOR UPDATE SKIP LOCKED`` (two processes claiming at once skip each other's rows
instead of waiting for them, and never both get one), on SQLite the transaction holds the
write lock from its start. A process killed mid-work simply stops renewing; once the
lease has run out another process claims the row and carries on from what was committed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from openami.storage.repositories.leases import db_now_s
from openami.storage.sql.database import Database


class Claims:
    """Claims on the rows of ``table`` (key column ``key``), each valid ``ttl_s`` after it
    was taken or last renewed."""

    def __init__(self, database: Database, table: sa.Table, key: str, ttl_s: float) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.database = database
        self.table = table
        self.key = table.c[key]
        self.ttl_s = ttl_s

    def _free_or_mine(self, owner: str, now: sa.ColumnElement[float]) -> sa.ColumnElement[bool]:
        c = self.table.c
        return sa.or_(c.lease_until.is_(None), c.lease_until < now, c.claimed_by == owner)

    def claim(
        self,
        owner: str,
        where: sa.ColumnElement[bool],
        order_by: Sequence[sa.ColumnElement[object]],
        limit: int,
    ) -> list[object]:
        """Claim up to ``limit`` rows matching ``where`` that nobody else holds, in
        ``order_by`` order; returns their keys (in that order). A plain read looks first, so
        an idle queue costs no write transaction (a row that turns up just after it is
        claimed on the next call)."""
        with self.database.read() as connection:
            now = db_now_s(connection)
            probe = sa.select(self.key).where(where, self._free_or_mine(owner, now)).limit(1)
            if connection.execute(probe).first() is None:
                return []
        with self.database.write() as connection:
            now = db_now_s(connection)
            candidates = (
                sa.select(self.key)
                .where(where, self._free_or_mine(owner, now))
                .order_by(*order_by)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            keys = list(connection.execute(candidates).scalars())
            if keys:
                connection.execute(
                    self.table.update()
                    .where(self.key.in_(keys))
                    .values(claimed_by=owner, lease_until=now + self.ttl_s)
                )
        return keys

    def renew(self, owner: str, key: object) -> bool:
        """Extend ``owner``'s claim on ``key`` by ``ttl_s``; False when it is no longer held
        (expired and taken by another process)."""
        c = self.table.c
        with self.database.write() as connection:
            now = db_now_s(connection)
            held = sa.or_(c.claimed_by == owner, c.lease_until.is_(None), c.lease_until < now)
            done = connection.execute(
                self.table.update()
                .where(self.key == key, held)
                .values(claimed_by=owner, lease_until=now + self.ttl_s)
            ).rowcount
        return bool(done)

    def release(self, owner: str, key: object) -> None:
        """Give ``owner``'s claim on ``key`` up at once (nothing when another holds it)."""
        c = self.table.c
        with self.database.write() as connection:
            connection.execute(
                self.table.update()
                .where(self.key == key, c.claimed_by == owner)
                .values(claimed_by=None, lease_until=None)
            )

    def holders(self, keys: Sequence[object]) -> dict[object, str | None]:
        """Who holds each of ``keys`` now (None: nobody, or the lease ran out)."""
        c = self.table.c
        with self.database.read() as connection:
            now = db_now_s(connection)
            rows = connection.execute(
                sa.select(
                    self.key, sa.case((c.lease_until >= now, c.claimed_by), else_=None)
                ).where(self.key.in_(list(keys)))
            ).all()
        return {row[0]: row[1] for row in rows}
