"""Read-only SQL for the dashboard's C-route page: retailer requests, consents and webhook
deliveries in the registry's SQLite file.

Every function answers "nothing" (zero counts, no rows) when its table does not exist yet:
the stores create their tables on first use, and a hub that never took a request, consent
or subscription has none. Nothing here reads a secret: subscription secrets, callback URLs,
notification bodies, customer IDs and password hashes are never selected.
"""

from __future__ import annotations

from dataclasses import dataclass

from openami.storage.sqlite_registry import SqliteRegistryStore

REQUEST_SORT_KEYS = ("received_at", "updated_at", "effective_date", "kind", "status")


def has_table(store: SqliteRegistryStore, name: str) -> bool:
    rows = store.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return bool(rows)


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


def request_counts(store: SqliteRegistryStore) -> list[tuple[str, str, int]]:
    """(kind, status, number of requests), every pair that occurs, sorted."""
    if not has_table(store, "retailer_requests"):
        return []
    rows = store.execute(
        "SELECT kind, status, COUNT(*) FROM retailer_requests GROUP BY kind, status "
        "ORDER BY kind, status"
    )
    return [(str(k), str(s), int(n)) for k, s, n in rows]


def latest_requests(
    store: SqliteRegistryStore, sort: str, descending: bool, offset: int, limit: int
) -> tuple[int, list[RequestListRow]]:
    """(total, one page of requests) ordered by ``sort`` (one of ``REQUEST_SORT_KEYS``)."""
    if sort not in REQUEST_SORT_KEYS:
        raise ValueError(f"sort must be one of {REQUEST_SORT_KEYS}")
    if not has_table(store, "retailer_requests"):
        return 0, []
    total = int(store.execute("SELECT COUNT(*) FROM retailer_requests")[0][0])
    direction = "DESC" if descending else "ASC"
    rows = store.execute(
        "SELECT request_id, retailer_id, kind, supply_point_id, effective_date, status, "
        "error_code, received_at, updated_at FROM retailer_requests "
        f"ORDER BY {sort} {direction}, request_id {direction} LIMIT ? OFFSET ?",
        (limit, offset),
    )
    return total, [
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


_EFFECTIVE_STATUS = (
    "CASE WHEN status IN ('requested', 'active') AND expires_at <= ? THEN 'expired' ELSE status END"
)


def consent_counts(store: SqliteRegistryStore, now_s: float) -> dict[str, int]:
    """Number of consents per effective status at ``now_s``."""
    if not has_table(store, "consents"):
        return {}
    rows = store.execute(
        f"SELECT {_EFFECTIVE_STATUS} AS s, COUNT(*) FROM consents GROUP BY s ORDER BY s",
        (now_s,),
    )
    return {str(s): int(n) for s, n in rows}


def latest_consents(
    store: SqliteRegistryStore, now_s: float, offset: int, limit: int
) -> tuple[int, list[ConsentListRow]]:
    """(total, one page of consents, newest first)."""
    if not has_table(store, "consents"):
        return 0, []
    total = int(store.execute("SELECT COUNT(*) FROM consents")[0][0])
    points = (
        "(SELECT COUNT(*) FROM consent_supply_points p WHERE p.consent_id = c.consent_id)"
        if has_table(store, "consent_supply_points")
        else "0"
    )
    rows = store.execute(
        f"SELECT consent_id, client_id, {_EFFECTIVE_STATUS}, data_kinds, {points}, "
        "created_at, expires_at FROM consents c "
        "ORDER BY created_at DESC, consent_id DESC LIMIT ? OFFSET ?",
        (now_s, limit, offset),
    )
    return total, [
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


def delivery_counts(store: SqliteRegistryStore) -> dict[str, int]:
    """Number of webhook deliveries per state (pending, delivered, failed)."""
    if not has_table(store, "webhook_deliveries"):
        return {}
    rows = store.execute(
        "SELECT status, COUNT(*) FROM webhook_deliveries GROUP BY status ORDER BY status"
    )
    return {str(s): int(n) for s, n in rows}


def subscription_count(store: SqliteRegistryStore) -> int:
    """Active webhook subscriptions."""
    if not has_table(store, "webhook_subscriptions"):
        return 0
    return int(store.execute("SELECT COUNT(*) FROM webhook_subscriptions WHERE active = 1")[0][0])


def latest_deliveries(
    store: SqliteRegistryStore, offset: int, limit: int
) -> tuple[int, list[DeliveryListRow]]:
    """(total, one page of deliveries, newest first) with the subscribing client; never the
    body, the callback URL or the secret."""
    if not has_table(store, "webhook_deliveries"):
        return 0, []
    total = int(store.execute("SELECT COUNT(*) FROM webhook_deliveries")[0][0])
    rows = store.execute(
        "SELECT d.delivery_id, d.subscription_id, s.client_id, d.status, d.attempts, "
        "d.created_at, d.delivered_at, d.next_try_at, d.last_status, d.last_error "
        "FROM webhook_deliveries d "
        "LEFT JOIN webhook_subscriptions s ON s.subscription_id = d.subscription_id "
        "ORDER BY d.delivery_id DESC LIMIT ? OFFSET ?",
        (limit, offset),
    )
    return total, [
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
