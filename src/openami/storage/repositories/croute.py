"""Read-only queries of the dashboard's C-route page: retailer requests, consents and
webhook deliveries (counts and one page of rows each).

Nothing here reads a secret: subscription secrets, callback URLs, notification bodies,
customer IDs and password hashes are never selected.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from openami.storage.sql import tables as t
from openami.storage.sql.database import Database

REQUEST_SORT_KEYS = ("received_at", "updated_at", "effective_date", "kind", "status")


# -- retailer requests -------------------------------------------------------------------------
@dataclass(frozen=True)
class RequestListRow:
    request_id: str
    retailer_id: str
    kind: str
    supply_point_id: str
    effective_date: str
    status: str
    error_code: str | None
    received_at: float
    updated_at: float


_r = t.retailer_requests


def request_counts(database: Database) -> list[tuple[str, str, int]]:
    """(kind, status, number of requests), every pair that occurs, sorted."""
    with database.read() as connection:
        rows = connection.execute(
            sa.select(_r.c.kind, _r.c.status, sa.func.count())
            .group_by(_r.c.kind, _r.c.status)
            .order_by(_r.c.kind, _r.c.status)
        ).all()
    return [(str(k), str(s), int(n)) for k, s, n in rows]


def latest_requests(
    database: Database, sort: str, descending: bool, offset: int, limit: int
) -> tuple[int, list[RequestListRow]]:
    """(total, one page of requests) ordered by ``sort`` (one of ``REQUEST_SORT_KEYS``)."""
    if sort not in REQUEST_SORT_KEYS:
        raise ValueError(f"sort must be one of {REQUEST_SORT_KEYS}")
    order = [_r.c[sort], _r.c.request_id]
    columns = [_r.c[name] for name in RequestListRow.__dataclass_fields__]
    with database.read() as connection:
        total = connection.execute(sa.select(sa.func.count()).select_from(_r)).scalar_one()
        rows = connection.execute(
            sa.select(*columns)
            .order_by(*(c.desc() if descending else c.asc() for c in order))
            .limit(limit)
            .offset(offset)
        ).all()
    return int(total), [
        RequestListRow(str(a), str(b), str(c), str(d), str(e), str(f), g, float(h), float(i))
        for a, b, c, d, e, f, g, h, i in rows
    ]


# -- consents ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConsentListRow:
    consent_id: str
    recipient: str  # the API client the data goes to
    status: str  # effective: requested/active past their expiry are "expired"
    data_kinds: str
    supply_points: int
    created_at: float
    expires_at: float


_c = t.consents


def _effective_status(now_s: float) -> sa.ColumnElement[str]:
    return sa.case(
        (
            sa.and_(_c.c.status.in_(("requested", "active")), _c.c.expires_at <= now_s),
            sa.literal("expired"),
        ),
        else_=_c.c.status,
    )


def consent_counts(database: Database, now_s: float) -> dict[str, int]:
    """Number of consents per effective status at ``now_s``."""
    status = _effective_status(now_s).label("effective_status")
    with database.read() as connection:
        rows = connection.execute(
            sa.select(status, sa.func.count()).group_by(status).order_by(status)
        ).all()
    return {str(s): int(n) for s, n in rows}


def latest_consents(
    database: Database, now_s: float, offset: int, limit: int
) -> tuple[int, list[ConsentListRow]]:
    """(total, one page of consents, newest first)."""
    granted = t.consent_supply_points
    points = (
        sa.select(sa.func.count()).where(granted.c.consent_id == _c.c.consent_id).scalar_subquery()
    )
    with database.read() as connection:
        total = connection.execute(sa.select(sa.func.count()).select_from(_c)).scalar_one()
        rows = connection.execute(
            sa.select(
                _c.c.consent_id,
                _c.c.client_id,
                _effective_status(now_s),
                _c.c.data_kinds,
                points,
                _c.c.created_at,
                _c.c.expires_at,
            )
            .order_by(_c.c.created_at.desc(), _c.c.consent_id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
    return int(total), [
        ConsentListRow(str(a), str(b), str(c), str(d), int(e), float(f), float(g))
        for a, b, c, d, e, f, g in rows
    ]


# -- webhook deliveries ------------------------------------------------------------------------
@dataclass(frozen=True)
class DeliveryListRow:
    delivery_id: int
    subscription_id: str
    client_id: str | None
    status: str
    attempts: int
    created_at: float
    delivered_at: float | None
    next_try_at: float
    last_status: int | None
    last_error: str | None


_d, _s = t.webhook_deliveries, t.webhook_subscriptions


def delivery_counts(database: Database) -> dict[str, int]:
    """Number of webhook deliveries per state (pending, delivered, failed)."""
    with database.read() as connection:
        rows = connection.execute(
            sa.select(_d.c.status, sa.func.count()).group_by(_d.c.status).order_by(_d.c.status)
        ).all()
    return {str(s): int(n) for s, n in rows}


def subscription_count(database: Database) -> int:
    """Active webhook subscriptions."""
    with database.read() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count()).select_from(_s).where(_s.c.active.is_(True))
            ).scalar_one()
        )


def latest_deliveries(
    database: Database, offset: int, limit: int
) -> tuple[int, list[DeliveryListRow]]:
    """(total, one page of deliveries, newest first) with the subscribing client; never the
    body, the callback URL or the secret."""
    with database.read() as connection:
        total = connection.execute(sa.select(sa.func.count()).select_from(_d)).scalar_one()
        rows = connection.execute(
            sa.select(
                _d.c.delivery_id,
                _d.c.subscription_id,
                _s.c.client_id,
                _d.c.status,
                _d.c.attempts,
                _d.c.created_at,
                _d.c.delivered_at,
                _d.c.next_try_at,
                _d.c.last_status,
                _d.c.last_error,
            )
            .join_from(_d, _s, _s.c.subscription_id == _d.c.subscription_id, isouter=True)
            .order_by(_d.c.delivery_id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
    return int(total), [
        DeliveryListRow(
            int(a),
            str(b),
            None if c is None else str(c),
            str(d),
            int(e),
            float(f),
            None if g is None else float(g),
            float(h),
            None if i is None else int(i),
            None if j is None else str(j),
        )
        for a, b, c, d, e, f, g, h, i, j in rows
    ]
