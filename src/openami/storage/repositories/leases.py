"""Partition leases with heartbeats and expiry, on SQLite and PostgreSQL.

Every instant is taken from the database's clock (``clock_timestamp()`` on PostgreSQL,
``julianday('now')`` on SQLite), never the worker's, so workers on machines whose clocks
disagree still agree on who holds what. Each statement is one transaction; a lease is taken
with one ``INSERT … ON CONFLICT DO UPDATE … WHERE`` (free, expired or already the caller's),
so two workers can never both get it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from openami.storage.sql.database import Database
from openami.storage.sql.lease_tables import lease_members, partition_leases
from openami.storage.sql.upsert import insert_statement

_l = partition_leases
_m = lease_members
#: the Unix epoch as a Julian day (SQLite's clock)
UNIX_EPOCH_JULIAN_DAY = 2440587.5


@dataclass(frozen=True)
class Lease:
    partition: int
    owner: str
    epoch: int  # grows by one each time the lease changes hands (fencing token)
    expires_at: float


def _now_expression(dialect: str) -> sa.ColumnElement[float]:
    if dialect == "postgresql":
        return sa.cast(sa.func.extract("epoch", sa.func.clock_timestamp()), sa.Double)
    return sa.cast((sa.func.julianday("now") - UNIX_EPOCH_JULIAN_DAY) * 86400.0, sa.Double)


#: one expression per dialect: SQL expressions are immutable, and building this one anew for
#: every claim cost ~0.8 ms (the hub's worker rounds build it several times a round)
_NOW = {name: _now_expression(name) for name in ("postgresql", "sqlite")}


def db_now_s(connection: sa.Connection) -> sa.ColumnElement[float]:
    """The database's wall clock in Unix seconds, as an SQL expression."""
    name = connection.dialect.name
    return _NOW["postgresql" if name == "postgresql" else "sqlite"]


class PartitionLeases:
    """The leases of one group of workers (e.g. ``mdms``), each valid ``ttl_s`` after its
    last renewal."""

    def __init__(self, database: Database, group: str, ttl_s: float) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.database = database
        self.group = group
        self.ttl_s = ttl_s

    def now_s(self) -> float:
        with self.database.read() as connection:
            return float(connection.execute(sa.select(db_now_s(connection))).scalar_one())

    # -- members ----------------------------------------------------------------------------
    def heartbeat(self, owner: str) -> None:
        """Say that ``owner`` is alive for another ``ttl_s``."""
        with self.database.write() as connection:
            statement = insert_statement(connection, _m).values(
                lease_group=self.group,
                owner=owner,
                expires_at=db_now_s(connection) + self.ttl_s,
            )
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=["lease_group", "owner"],
                    set_={"expires_at": statement.excluded.expires_at},
                )
            )

    def members(self) -> list[str]:
        """The live members, sorted by name."""
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(_m.c.owner)
                .where(_m.c.lease_group == self.group, _m.c.expires_at >= db_now_s(connection))
                .order_by(_m.c.owner)
            )
            return [str(r.owner) for r in rows]

    def leave(self, owner: str) -> None:
        """``owner`` stops: its leases are released and it is no longer a member."""
        with self.database.write() as connection:
            connection.execute(
                _l.update()
                .where(_l.c.lease_group == self.group, _l.c.owner == owner)
                .values(expires_at=db_now_s(connection) - 1.0)
            )
            connection.execute(
                _m.delete().where(_m.c.lease_group == self.group, _m.c.owner == owner)
            )

    # -- leases -----------------------------------------------------------------------------
    def acquire(self, owner: str, partition: int) -> Lease | None:
        """Take (or keep) ``partition`` for ``owner`` when it is free, expired or already
        ``owner``'s; None when another owner holds it."""
        with self.database.write() as connection:
            now = db_now_s(connection)
            statement = insert_statement(connection, _l).values(
                lease_group=self.group,
                partition=partition,
                owner=owner,
                epoch=1,
                expires_at=now + self.ttl_s,
                acquired_at=now,
            )
            mine = _l.c.owner == statement.excluded.owner
            statement = statement.on_conflict_do_update(
                index_elements=["lease_group", "partition"],
                set_={
                    "owner": statement.excluded.owner,
                    "epoch": sa.case((mine, _l.c.epoch), else_=_l.c.epoch + 1),
                    "expires_at": statement.excluded.expires_at,
                    "acquired_at": sa.case(
                        (mine, _l.c.acquired_at), else_=statement.excluded.acquired_at
                    ),
                },
                where=sa.or_(mine, _l.c.expires_at < statement.excluded.acquired_at),
            ).returning(_l.c.epoch, _l.c.expires_at)
            row = connection.execute(statement).first()
        return None if row is None else Lease(partition, owner, int(row.epoch), row.expires_at)

    def renew(self, lease: Lease) -> Lease | None:
        """``lease`` for another ``ttl_s``; None when it was lost (taken by another owner
        after it expired): its holder must stop writing the partition at once."""
        with self.database.write() as connection:
            row = connection.execute(
                _l.update()
                .where(
                    _l.c.lease_group == self.group,
                    _l.c.partition == lease.partition,
                    _l.c.owner == lease.owner,
                    _l.c.epoch == lease.epoch,
                )
                .values(expires_at=db_now_s(connection) + self.ttl_s)
                .returning(_l.c.expires_at)
            ).first()
        return None if row is None else Lease(lease.partition, lease.owner, lease.epoch, row[0])

    def release(self, lease: Lease) -> bool:
        """Give ``lease`` up (it expires now); False when it was no longer held."""
        with self.database.write() as connection:
            result = connection.execute(
                _l.update()
                .where(
                    _l.c.lease_group == self.group,
                    _l.c.partition == lease.partition,
                    _l.c.owner == lease.owner,
                    _l.c.epoch == lease.epoch,
                )
                .values(expires_at=db_now_s(connection) - 1.0)
            )
        return bool(result.rowcount)

    def held(self) -> dict[int, Lease]:
        """The leases not expired, by partition."""
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(_l.c.partition, _l.c.owner, _l.c.epoch, _l.c.expires_at).where(
                    _l.c.lease_group == self.group, _l.c.expires_at >= db_now_s(connection)
                )
            )
            return {
                int(r.partition): Lease(int(r.partition), str(r.owner), int(r.epoch), r.expires_at)
                for r in rows
            }
