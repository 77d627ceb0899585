"""Consents and customers of the C route.

A **consent** names a recipient (an API client), a purpose, the data kinds, the period of
data (JST days, inclusive), the supply points and an expiry. Its stored status is one of
``requested`` (asked for by the third party, not yet decided), ``active`` (approved by the
customer), ``denied`` or ``revoked``; :meth:`Consent.effective_status` adds ``expired`` once
the expiry has passed. Nothing is deleted: a decision or a revocation updates the row and
stamps the time.

A **customer** is a holder of supply points with a login (password stored as scrypt hash,
as client secrets are).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from openami.storage.repositories.clients import check_secret, hash_secret, new_secret_hash
from openami.storage.sql import tables as t
from openami.storage.sql.database import Database
from openami.storage.sql.errors import refusals_as

DATA_KINDS = ("half_hour", "register_reads", "daily", "monthly")
STATUSES = ("requested", "active", "denied", "revoked", "expired")


@dataclass(frozen=True)
class Consent:
    consent_id: str
    client_id: str
    customer_id: str | None
    purpose: str
    data_kinds: tuple[str, ...]
    period_from: date
    period_to: date  # inclusive
    status: str  # stored status; see effective_status
    created_at: float
    decided_at: float | None
    expires_at: float
    revoked_at: float | None
    supply_point_ids: tuple[str, ...]  # granted ones once approved, else those requested

    def effective_status(self, now_s: float) -> str:
        if self.status in ("requested", "active") and now_s >= self.expires_at:
            return "expired"
        return self.status

    def is_live(self, now_s: float) -> bool:
        return self.effective_status(now_s) == "active"


_c = t.consents
_CONSENT_COLUMNS = (
    _c.c.consent_id,
    _c.c.client_id,
    _c.c.customer_id,
    _c.c.purpose,
    _c.c.data_kinds,
    _c.c.period_from,
    _c.c.period_to,
    _c.c.status,
    _c.c.created_at,
    _c.c.decided_at,
    _c.c.expires_at,
    _c.c.revoked_at,
    _c.c.requested_points,
)


class ConsentStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # -- customers ------------------------------------------------------------------------
    def add_customer(
        self, customer_id: str, password: str, supply_point_keys: Sequence[int]
    ) -> None:
        """Register a customer holding the given supply points (one transaction)."""
        if len(password) < 12:
            raise ValueError("customer passwords must have at least 12 characters")
        with self.database.write() as connection, refusals_as(f"customer {customer_id}"):
            connection.execute(
                t.customers.insert().values(
                    customer_id=customer_id, password_hash=new_secret_hash(password)
                )
            )
            if supply_point_keys:
                connection.execute(
                    t.customer_supply_points.insert(),
                    [
                        {"customer_id": customer_id, "supply_point_key": int(key)}
                        for key in supply_point_keys
                    ],
                )

    def authenticate_customer(self, customer_id: str, password: str) -> bool:
        c = t.customers
        with self.database.read() as connection:
            stored = connection.execute(
                sa.select(c.c.password_hash).where(c.c.customer_id == customer_id)
            ).scalar()
        if stored is None:
            hash_secret(password, b"0" * 16)  # same work either way: no timing oracle
            return False
        return check_secret(password, str(stored))

    def customer_points(self, customer_id: str) -> dict[int, str]:
        """supply_point_key -> supply point ID of the points the customer holds."""
        held, p = t.customer_supply_points, t.supply_points
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(held.c.supply_point_key, p.c.supply_point_id)
                .join_from(held, p, p.c.supply_point_key == held.c.supply_point_key)
                .where(held.c.customer_id == customer_id)
                .order_by(held.c.supply_point_key)
            ).all()
        return {int(k): str(sp) for k, sp in rows}

    # -- consents -------------------------------------------------------------------------
    def request(
        self,
        client_id: str,
        purpose: str,
        data_kinds: Sequence[str],
        period_from: date,
        period_to: date,
        expires_at: float,
        supply_point_ids: Sequence[str],
        now_s: float,
    ) -> Consent:
        """A new consent in status ``requested`` (the customer decides later). The supply
        point IDs are kept as requested, unchecked: whether they exist shows only to the
        customer who holds them, never to the requesting third party."""
        bad = set(data_kinds) - set(DATA_KINDS)
        if bad or not data_kinds:
            raise ValueError(f"data kinds must be a non-empty subset of {DATA_KINDS}")
        if period_to < period_from:
            raise ValueError("period_to comes before period_from")
        consent_id = secrets.token_urlsafe(16)
        with self.database.write() as connection, refusals_as("a consent request"):
            connection.execute(
                t.consents.insert().values(
                    consent_id=consent_id,
                    client_id=client_id,
                    customer_id=None,
                    purpose=purpose,
                    data_kinds=" ".join(k for k in DATA_KINDS if k in data_kinds),
                    period_from=period_from,
                    period_to=period_to,
                    status="requested",
                    created_at=now_s,
                    decided_at=None,
                    expires_at=expires_at,
                    revoked_at=None,
                    requested_points=" ".join(dict.fromkeys(supply_point_ids)),
                )
            )
            return _consent_of(connection, consent_id)

    def get(self, consent_id: str) -> Consent | None:
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(*_CONSENT_COLUMNS).where(_c.c.consent_id == consent_id)
            ).first()
            return None if row is None else _consent(connection, row)

    def supply_point_keys(self, consent_id: str) -> dict[int, str]:
        with self.database.read() as connection:
            return _granted(connection, consent_id)

    def of_client(self, client_id: str, limit: int, offset: int) -> list[Consent]:
        statement = (
            sa.select(*_CONSENT_COLUMNS)
            .where(_c.c.client_id == client_id)
            .order_by(_c.c.created_at, _c.c.consent_id)
            .limit(limit)
            .offset(offset)
        )
        with self.database.read() as connection:
            return [_consent(connection, row) for row in connection.execute(statement).all()]

    def of_customer(self, customer_id: str) -> list[Consent]:
        statement = (
            sa.select(*_CONSENT_COLUMNS)
            .where(_c.c.customer_id == customer_id)
            .order_by(_c.c.created_at, _c.c.consent_id)
        )
        with self.database.read() as connection:
            return [_consent(connection, row) for row in connection.execute(statement).all()]

    def decide(
        self,
        consent_id: str,
        customer_id: str,
        approve: bool,
        supply_point_keys: Sequence[int],
        now_s: float,
    ) -> bool:
        """Record the customer's decision on a requested consent; False if it was no longer
        open (decided already or expired). On approval the consent's supply points become
        ``supply_point_keys`` (one transaction)."""
        granted = t.consent_supply_points
        with self.database.write() as connection, refusals_as(f"consent {consent_id}"):
            hit = connection.execute(
                t.consents.update()
                .where(
                    _c.c.consent_id == consent_id,
                    _c.c.status == "requested",
                    _c.c.expires_at > now_s,
                )
                .values(
                    status="active" if approve else "denied",
                    customer_id=customer_id,
                    decided_at=now_s,
                )
            ).rowcount
            if hit and approve:
                connection.execute(granted.delete().where(granted.c.consent_id == consent_id))
                keys = list(dict.fromkeys(int(k) for k in supply_point_keys))
                if keys:
                    connection.execute(
                        granted.insert(),
                        [{"consent_id": consent_id, "supply_point_key": k} for k in keys],
                    )
        return bool(hit)

    def revoke(self, consent_id: str, customer_id: str, now_s: float) -> bool:
        """The customer withdraws an active consent; False if it is not theirs or not
        active."""
        with self.database.write() as connection:
            hit = connection.execute(
                t.consents.update()
                .where(
                    _c.c.consent_id == consent_id,
                    _c.c.customer_id == customer_id,
                    _c.c.status == "active",
                )
                .values(status="revoked", revoked_at=now_s)
            ).rowcount
        return bool(hit)


def _granted(connection: sa.Connection, consent_id: str) -> dict[int, str]:
    granted, p = t.consent_supply_points, t.supply_points
    rows = connection.execute(
        sa.select(granted.c.supply_point_key, p.c.supply_point_id)
        .join_from(granted, p, p.c.supply_point_key == granted.c.supply_point_key)
        .where(granted.c.consent_id == consent_id)
        .order_by(granted.c.supply_point_key)
    ).all()
    return {int(k): str(sp) for k, sp in rows}


def _consent_of(connection: sa.Connection, consent_id: str) -> Consent:
    row = connection.execute(
        sa.select(*_CONSENT_COLUMNS).where(_c.c.consent_id == consent_id)
    ).one()
    return _consent(connection, row)


def _consent(connection: sa.Connection, row: Any) -> Consent:
    granted = tuple(_granted(connection, str(row.consent_id)).values())
    requested = tuple(str(row.requested_points).split())
    return Consent(
        consent_id=str(row.consent_id),
        client_id=str(row.client_id),
        customer_id=None if row.customer_id is None else str(row.customer_id),
        purpose=str(row.purpose),
        data_kinds=tuple(str(row.data_kinds).split()),
        period_from=row.period_from,
        period_to=row.period_to,
        status=str(row.status),
        created_at=float(row.created_at),
        decided_at=None if row.decided_at is None else float(row.decided_at),
        expires_at=float(row.expires_at),
        revoked_at=None if row.revoked_at is None else float(row.revoked_at),
        supply_point_ids=granted if row.status == "active" or granted else requested,
    )
