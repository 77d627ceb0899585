"""Webhook subscriptions and their delivery queue, in the registry's SQLite file.

- ``webhook_subscriptions``: per client, a callback URL and the shared secret that signs
  the notifications (kept so the hub can sign; never returned by the API or logged);
- ``webhook_deliveries``: one row per notification and subscription: the exact body sent,
  status (pending, delivered, failed), attempts and the next try (epoch s on the one clock);
- ``webhook_state``: the watermark of half-hour value versions already notified.
"""

from __future__ import annotations

from dataclasses import dataclass

from openami.storage.sqlite_registry import SqliteRegistryStore

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS webhook_subscriptions (
        subscription_id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        callback_url TEXT NOT NULL,
        secret TEXT NOT NULL,
        created_at REAL NOT NULL,
        active INTEGER NOT NULL DEFAULT 1,
        format TEXT NOT NULL DEFAULT 'json')""",
    "CREATE INDEX IF NOT EXISTS webhook_subscriptions_client ON webhook_subscriptions(client_id)",
    """CREATE TABLE IF NOT EXISTS webhook_deliveries (
        delivery_id INTEGER PRIMARY KEY AUTOINCREMENT,
        subscription_id TEXT NOT NULL,
        body BLOB NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try_at REAL NOT NULL,
        created_at REAL NOT NULL,
        delivered_at REAL,
        last_status INTEGER,
        last_error TEXT)""",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries(status, next_try_at)",
    "CREATE TABLE IF NOT EXISTS webhook_state (name TEXT PRIMARY KEY, value REAL NOT NULL)",
)


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


_DEL_COLS = (
    "delivery_id, subscription_id, body, status, attempts, next_try_at, created_at, "
    "delivered_at, last_status, last_error"
)


class WebhookStore:
    def __init__(self, store: SqliteRegistryStore) -> None:
        self.store = store
        for statement in SCHEMA:
            store.execute(statement)

    # -- subscriptions ------------------------------------------------------------------------
    def add_subscription(self, sub: Subscription) -> None:
        self.store.execute(
            "INSERT INTO webhook_subscriptions (subscription_id, client_id, callback_url, "
            "secret, created_at, active, format) VALUES (?, ?, ?, ?, ?, 1, ?)",
            (
                sub.subscription_id,
                sub.client_id,
                sub.callback_url,
                sub.secret,
                sub.created_at,
                sub.format,
            ),
        )

    def subscriptions(self, client_id: str | None = None) -> list[Subscription]:
        sql = (
            "SELECT subscription_id, client_id, callback_url, secret, created_at, format "
            "FROM webhook_subscriptions WHERE active = 1"
        )
        params: tuple[str, ...] = ()
        if client_id is not None:
            sql += " AND client_id = ?"
            params = (client_id,)
        return [Subscription(*r) for r in self.store.execute(sql + " ORDER BY created_at", params)]

    def subscription(self, subscription_id: str) -> Subscription | None:
        rows = self.store.execute(
            "SELECT subscription_id, client_id, callback_url, secret, created_at, format "
            "FROM webhook_subscriptions WHERE active = 1 AND subscription_id = ?",
            (subscription_id,),
        )
        return Subscription(*rows[0]) if rows else None

    def deactivate(self, subscription_id: str) -> None:
        self.store.execute(
            "UPDATE webhook_subscriptions SET active = 0 WHERE subscription_id = ?",
            (subscription_id,),
        )

    def subscribed_retailers(self) -> dict[str, list[Subscription]]:
        """Active subscriptions by the retailer (party) of their client."""
        out: dict[str, list[Subscription]] = {}
        for row in self.store.execute(
            "SELECT s.subscription_id, s.client_id, s.callback_url, s.secret, s.created_at, "
            "s.format, c.party_id FROM webhook_subscriptions s JOIN api_clients c "
            "ON c.client_id = s.client_id WHERE s.active = 1 AND c.role = 'retailer'"
        ):
            out.setdefault(str(row[6]), []).append(Subscription(*row[:6]))
        return out

    # -- watermark ----------------------------------------------------------------------------
    def watermark(self, name: str) -> float | None:
        rows = self.store.execute("SELECT value FROM webhook_state WHERE name = ?", (name,))
        return float(rows[0][0]) if rows else None

    def set_watermark(self, name: str, value: float) -> None:
        self.store.execute(
            "INSERT INTO webhook_state (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    # -- deliveries ---------------------------------------------------------------------------
    def enqueue(self, rows: list[tuple[str, bytes]], now_s: float) -> None:
        self.store.insert_many(
            "webhook_deliveries",
            ("subscription_id", "body", "status", "attempts", "next_try_at", "created_at"),
            [(sub, body, "pending", 0, now_s, now_s) for sub, body in rows],
        )

    def due(self, now_s: float, limit: int) -> list[Delivery]:
        rows = self.store.execute(
            f"SELECT {_DEL_COLS} FROM webhook_deliveries WHERE status = 'pending' "
            "AND next_try_at <= ? ORDER BY next_try_at, delivery_id LIMIT ?",
            (now_s, limit),
        )
        return [Delivery(*r) for r in rows]

    def deliveries(self, subscription_id: str, limit: int = 100) -> list[Delivery]:
        rows = self.store.execute(
            f"SELECT {_DEL_COLS} FROM webhook_deliveries WHERE subscription_id = ? "
            "ORDER BY delivery_id DESC LIMIT ?",
            (subscription_id, limit),
        )
        return [Delivery(*r) for r in rows]

    def record_attempt(
        self,
        delivery_id: int,
        status: str,
        attempts: int,
        next_try_at: float,
        at: float,
        http_status: int | None,
        error: str | None,
    ) -> None:
        self.store.execute(
            "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_try_at = ?, "
            "delivered_at = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_at END, "
            "last_status = ?, last_error = ? WHERE delivery_id = ?",
            (status, attempts, next_try_at, status, at, http_status, error, delivery_id),
        )
