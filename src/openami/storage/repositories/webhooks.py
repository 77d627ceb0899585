"""Webhook subscriptions and their delivery queue.

- ``webhook_subscriptions``: per client, a callback URL and the shared secret that signs
  the notifications (kept so the hub can sign; never returned by the API or logged),
  sealed at rest under the master key (:mod:`openami.storage.secrets`; the subscription id
  bound as additional data). Secrets stored in clear by earlier versions are sealed when a
  store is first opened on the database;
- ``webhook_deliveries``: one row per notification and subscription: the exact body sent,
  status (pending, delivered, failed), attempts and the next try (epoch s on the one clock);
- ``webhook_state``: the watermark of half-hour value versions already notified.

Several hub processes share the queue: each delivery is claimed with a lease
(:mod:`.claims`) before it is sent, and only the claim's holder records the attempt, so a
delivery is sent by one process at a time; one that dies mid-send leaves its claim to
expire and another process sends it again (the same ``delivery_id``: receivers dedupe on
``X-OpenAMI-Delivery``). The watermark moves by compare-and-set, together with the
deliveries it queues: two processes polling at once queue a notification once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from openami.storage.repositories.claims import Claims
from openami.storage.secrets import SEALED_PREFIX, SecretBox, secret_box
from openami.storage.sql import tables as t
from openami.storage.sql.database import Database
from openami.storage.sql.errors import refusals_as
from openami.storage.sql.upsert import insert_or_update, insert_statement


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    client_id: str
    callback_url: str
    secret: str
    created_at: float
    format: str = "json"  # json, or espi (an ESPI BatchList of resource URLs)


@dataclass(frozen=True)
class Delivery:
    delivery_id: int
    subscription_id: str
    body: bytes
    status: str
    attempts: int
    next_try_at: float
    created_at: float
    delivered_at: float | None
    last_status: int | None
    last_error: str | None


_s = t.webhook_subscriptions
_d = t.webhook_deliveries
_SUBSCRIPTION_COLUMNS = tuple(_s.c[name] for name in Subscription.__dataclass_fields__)
_DELIVERY_COLUMNS = tuple(_d.c[name] for name in Delivery.__dataclass_fields__)


def _what(subscription_id: str) -> str:
    return f"webhook-secret/{subscription_id}"


def _delivery(row: Any) -> Delivery:
    values = list(row)
    values[2] = bytes(values[2])  # memoryview on PostgreSQL
    return Delivery(*values)


class WebhookStore:
    def __init__(self, database: Database, claim_ttl_s: float = 120.0) -> None:
        self.database = database
        self.claims = Claims(database, _d, "delivery_id", claim_ttl_s)
        self._box: SecretBox | None = None
        self._seal_clear_secrets()

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            self._box = secret_box(self.database)
        return self._box

    def _subscription(self, row: Any) -> Subscription:
        values = list(row)
        values[3] = self.box.open(str(values[3]), _what(str(values[0])))
        return Subscription(*values)

    def _seal_clear_secrets(self) -> None:
        """Seal the secrets an earlier version stored in clear (once; idempotent)."""
        clear = _s.c.secret.not_like(f"{SEALED_PREFIX}%")
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(_s.c.subscription_id, _s.c.secret).where(clear)
            ).all()
        if not rows:
            return
        with self.database.write() as connection:
            for subscription_id, secret in rows:
                connection.execute(
                    _s.update()
                    .where(_s.c.subscription_id == subscription_id, _s.c.secret == secret)
                    .values(secret=self.box.seal(str(secret), _what(str(subscription_id))))
                )

    # -- subscriptions ------------------------------------------------------------------------
    def add_subscription(self, sub: Subscription) -> None:
        with self.database.write() as connection, refusals_as("a subscription"):
            connection.execute(
                _s.insert().values(
                    subscription_id=sub.subscription_id,
                    client_id=sub.client_id,
                    callback_url=sub.callback_url,
                    secret=self.box.seal(sub.secret, _what(sub.subscription_id)),
                    created_at=sub.created_at,
                    active=True,
                    format=sub.format,
                )
            )

    def subscriptions(self, client_id: str | None = None) -> list[Subscription]:
        statement = sa.select(*_SUBSCRIPTION_COLUMNS).where(_s.c.active.is_(True))
        if client_id is not None:
            statement = statement.where(_s.c.client_id == client_id)
        with self.database.read() as connection:
            rows = connection.execute(statement.order_by(_s.c.created_at)).all()
        return [self._subscription(row) for row in rows]

    def subscription(self, subscription_id: str) -> Subscription | None:
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(*_SUBSCRIPTION_COLUMNS).where(
                    _s.c.active.is_(True), _s.c.subscription_id == subscription_id
                )
            ).first()
        return None if row is None else self._subscription(row)

    def deactivate(self, subscription_id: str) -> None:
        with self.database.write() as connection:
            connection.execute(
                _s.update().where(_s.c.subscription_id == subscription_id).values(active=False)
            )

    def subscribed_retailers(self) -> dict[str, list[Subscription]]:
        """Active subscriptions by the retailer (party) of their client."""
        c = t.api_clients
        out: dict[str, list[Subscription]] = {}
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(*_SUBSCRIPTION_COLUMNS, c.c.party_id)
                .join_from(_s, c, c.c.client_id == _s.c.client_id)
                .where(_s.c.active.is_(True), c.c.role == "retailer")
            ).all()
        for row in rows:
            out.setdefault(str(row[-1]), []).append(self._subscription(row[:-1]))
        return out

    # -- watermark ----------------------------------------------------------------------------
    def watermark(self, name: str) -> float | None:
        w = t.webhook_state
        with self.database.read() as connection:
            value = connection.execute(sa.select(w.c.value).where(w.c.name == name)).scalar()
        return None if value is None else float(value)

    def set_watermark(self, name: str, value: float) -> None:
        with self.database.write() as connection:
            insert_or_update(connection, t.webhook_state, {"name": name, "value": value}, ("name",))

    def advance_watermark(
        self, name: str, expected: float | None, value: float, rows: list[tuple[str, bytes]]
    ) -> bool:
        """Move watermark ``name`` from ``expected`` to ``value`` and queue ``rows`` (as
        :meth:`enqueue`), in one transaction; False, with nothing changed, when another
        process moved it first."""
        w = t.webhook_state
        with self.database.write() as connection:
            if expected is None:
                first = insert_statement(connection, w).values(name=name, value=value)
                moved = (
                    connection.execute(
                        first.on_conflict_do_nothing(index_elements=["name"]).returning(w.c.name)
                    ).first()
                    is not None
                )
            else:
                moved = bool(
                    connection.execute(
                        w.update()
                        .where(w.c.name == name, w.c.value == expected)
                        .values(value=value)
                    ).rowcount
                )
            if not moved:
                return False
            self._insert(connection, rows, value)
        return True

    # -- deliveries ---------------------------------------------------------------------------
    def enqueue(self, rows: list[tuple[str, bytes]], now_s: float) -> None:
        """One pending delivery per (subscription_id, body), all in one transaction."""
        if not rows:
            return
        with self.database.write() as connection:
            self._insert(connection, rows, now_s)

    @staticmethod
    def _insert(connection: sa.Connection, rows: list[tuple[str, bytes]], now_s: float) -> None:
        if not rows:
            return
        with refusals_as("webhook deliveries"):
            connection.execute(
                _d.insert(),
                [
                    {
                        "subscription_id": sub,
                        "body": body,
                        "status": "pending",
                        "attempts": 0,
                        "next_try_at": now_s,
                        "created_at": now_s,
                    }
                    for sub, body in rows
                ],
            )

    def due(self, now_s: float, limit: int) -> list[Delivery]:
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(*_DELIVERY_COLUMNS)
                .where(_d.c.status == "pending", _d.c.next_try_at <= now_s)
                .order_by(_d.c.next_try_at, _d.c.delivery_id)
                .limit(limit)
            ).all()
        return [_delivery(row) for row in rows]

    def claim_due(self, owner: str, now_s: float, limit: int) -> list[Delivery]:
        """Claim up to ``limit`` pending deliveries due by ``now_s`` that no other process
        holds (oldest due first) and return them."""
        due = sa.and_(_d.c.status == "pending", _d.c.next_try_at <= now_s)
        keys = self.claims.claim(owner, due, (_d.c.next_try_at, _d.c.delivery_id), limit)
        if not keys:
            return []
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(*_DELIVERY_COLUMNS)
                .where(_d.c.delivery_id.in_(keys))
                .order_by(_d.c.next_try_at, _d.c.delivery_id)
            ).all()
        return [_delivery(row) for row in rows]

    def deliveries(self, subscription_id: str, limit: int = 100) -> list[Delivery]:
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(*_DELIVERY_COLUMNS)
                .where(_d.c.subscription_id == subscription_id)
                .order_by(_d.c.delivery_id.desc())
                .limit(limit)
            ).all()
        return [_delivery(row) for row in rows]

    def record_attempt(
        self,
        delivery_id: int,
        status: str,
        attempts: int,
        next_try_at: float,
        at: float,
        http_status: int | None,
        error: str | None,
        owner: str | None = None,
    ) -> bool:
        """Record one attempt; with ``owner``, only while that process holds the delivery's
        claim (which the attempt gives up). False when nothing was recorded."""
        where = _d.c.delivery_id == delivery_id
        if owner is not None:
            where = sa.and_(where, _d.c.claimed_by == owner)
        with self.database.write() as connection:
            return bool(
                connection.execute(
                    _d.update()
                    .where(where)
                    .values(
                        claimed_by=None,
                        lease_until=None,
                        status=status,
                        attempts=attempts,
                        next_try_at=next_try_at,
                        delivered_at=at if status == "delivered" else _d.c.delivered_at,
                        last_status=http_status,
                        last_error=error,
                    )
                ).rowcount
            )
