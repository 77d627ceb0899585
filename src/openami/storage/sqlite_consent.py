"""Consents and customers of the C route, in the registry's SQLite file.

A **consent** names a recipient (an API client), a purpose, the data kinds, the period of
data (JST days, inclusive), the supply points and an expiry. Its stored status is one of
``requested`` (asked for by the third party, not yet decided), ``active`` (approved by the
customer), ``denied`` or ``revoked``; :func:`effective_status` adds ``expired`` once the
expiry has passed. Nothing is deleted: a decision or a revocation updates the row and
stamps the time.

A **customer** is a holder of supply points with a login (password stored as scrypt hash,
as client secrets are).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from openami.storage.sqlite_clients import _check_secret, _hash_secret
from openami.storage.sqlite_registry import SqliteRegistryStore

DATA_KINDS = ("half_hour", "register_reads", "daily", "monthly")
STATUSES = ("requested", "active", "denied", "revoked", "expired")

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS customers (
        customer_id TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS customer_supply_points (
        customer_id TEXT NOT NULL REFERENCES customers(customer_id),
        supply_point_key INTEGER NOT NULL REFERENCES supply_points(supply_point_key),
        PRIMARY KEY (customer_id, supply_point_key)
    )""",
    """CREATE TABLE IF NOT EXISTS consents (
        consent_id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES api_clients(client_id),
        customer_id TEXT REFERENCES customers(customer_id),
        purpose TEXT NOT NULL,
        data_kinds TEXT NOT NULL,
        period_from TEXT NOT NULL,
        period_to TEXT NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('requested', 'active', 'denied', 'revoked')),
        created_at REAL NOT NULL,
        decided_at REAL,
        expires_at REAL NOT NULL,
        revoked_at REAL,
        requested_points TEXT NOT NULL DEFAULT '',
        CHECK (period_to >= period_from)
    )""",
    "CREATE INDEX IF NOT EXISTS consents_client ON consents(client_id)",
    "CREATE INDEX IF NOT EXISTS consents_customer ON consents(customer_id)",
    """CREATE TABLE IF NOT EXISTS consent_supply_points (
        consent_id TEXT NOT NULL REFERENCES consents(consent_id),
        supply_point_key INTEGER NOT NULL REFERENCES supply_points(supply_point_key),
        PRIMARY KEY (consent_id, supply_point_key)
    )""",
)


def ensure_schema(store: SqliteRegistryStore) -> None:
    for statement in SCHEMA:
        store.execute(statement)


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


_COLUMNS = (
    "consent_id, client_id, customer_id, purpose, data_kinds, period_from, period_to, status, "
    "created_at, decided_at, expires_at, revoked_at, requested_points"
)


class ConsentStore:
    def __init__(self, store: SqliteRegistryStore) -> None:
        self.store = store
        ensure_schema(store)

    # -- customers ------------------------------------------------------------------------
    def add_customer(
        self, customer_id: str, password: str, supply_point_keys: Sequence[int]
    ) -> None:
        """Register a customer holding the given supply points (one transaction)."""
        if len(password) < 12:
            raise ValueError("customer passwords must have at least 12 characters")
        with self.store._lock:
            self.store.execute("BEGIN")
            try:
                self.store.execute(
                    "INSERT INTO customers (customer_id, password_hash) VALUES (?, ?)",
                    (customer_id, _hash_secret(password, secrets.token_bytes(16))),
                )
                for key in supply_point_keys:
                    self.store.execute(
                        "INSERT INTO customer_supply_points VALUES (?, ?)", (customer_id, key)
                    )
            except BaseException:
                self.store.execute("ROLLBACK")
                raise
            self.store.execute("COMMIT")

    def authenticate_customer(self, customer_id: str, password: str) -> bool:
        rows = self.store.execute(
            "SELECT password_hash FROM customers WHERE customer_id = ?", (customer_id,)
        )
        if not rows:
            _hash_secret(password, b"0" * 16)  # same work either way: no timing oracle
            return False
        return _check_secret(password, str(rows[0][0]))

    def customer_points(self, customer_id: str) -> dict[int, str]:
        """supply_point_key -> supply point ID of the points the customer holds."""
        rows = self.store.execute(
            "SELECT c.supply_point_key, p.supply_point_id FROM customer_supply_points c "
            "JOIN supply_points p ON p.supply_point_key = c.supply_point_key "
            "WHERE c.customer_id = ? ORDER BY c.supply_point_key",
            (customer_id,),
        )
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
        kinds = " ".join(k for k in DATA_KINDS if k in data_kinds)
        self.store.execute(
            f"INSERT INTO consents ({_COLUMNS}) "
            "VALUES (?, ?, NULL, ?, ?, ?, ?, 'requested', ?, NULL, ?, NULL, ?)",
            (
                consent_id,
                client_id,
                purpose,
                kinds,
                period_from.isoformat(),
                period_to.isoformat(),
                now_s,
                expires_at,
                " ".join(dict.fromkeys(supply_point_ids)),
            ),
        )
        consent = self.get(consent_id)
        assert consent is not None
        return consent

    def get(self, consent_id: str) -> Consent | None:
        rows = self.store.execute(
            f"SELECT {_COLUMNS} FROM consents WHERE consent_id = ?", (consent_id,)
        )
        return self._consent(rows[0]) if rows else None

    def supply_point_keys(self, consent_id: str) -> dict[int, str]:
        rows = self.store.execute(
            "SELECT c.supply_point_key, p.supply_point_id FROM consent_supply_points c "
            "JOIN supply_points p ON p.supply_point_key = c.supply_point_key "
            "WHERE c.consent_id = ? ORDER BY c.supply_point_key",
            (consent_id,),
        )
        return {int(k): str(sp) for k, sp in rows}

    def of_client(self, client_id: str, limit: int, offset: int) -> list[Consent]:
        rows = self.store.execute(
            f"SELECT {_COLUMNS} FROM consents WHERE client_id = ? "
            "ORDER BY created_at, consent_id LIMIT ? OFFSET ?",
            (client_id, limit, offset),
        )
        return [self._consent(r) for r in rows]

    def of_customer(self, customer_id: str) -> list[Consent]:
        rows = self.store.execute(
            f"SELECT {_COLUMNS} FROM consents WHERE customer_id = ? "
            "ORDER BY created_at, consent_id",
            (customer_id,),
        )
        return [self._consent(r) for r in rows]

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
        ``supply_point_keys``."""
        with self.store._lock:
            self.store.execute("BEGIN IMMEDIATE")
            try:
                hit = self.store.execute(
                    "UPDATE consents SET status = ?, customer_id = ?, decided_at = ? "
                    "WHERE consent_id = ? AND status = 'requested' AND expires_at > ? "
                    "RETURNING consent_id",
                    ("active" if approve else "denied", customer_id, now_s, consent_id, now_s),
                )
                if hit and approve:
                    self.store.execute(
                        "DELETE FROM consent_supply_points WHERE consent_id = ?", (consent_id,)
                    )
                    for key in dict.fromkeys(supply_point_keys):
                        self.store.execute(
                            "INSERT INTO consent_supply_points VALUES (?, ?)", (consent_id, key)
                        )
            except BaseException:
                self.store.execute("ROLLBACK")
                raise
            self.store.execute("COMMIT")
        return bool(hit)

    def revoke(self, consent_id: str, customer_id: str, now_s: float) -> bool:
        """The customer withdraws an active consent; False if it is not theirs or not
        active."""
        hit = self.store.execute(
            "UPDATE consents SET status = 'revoked', revoked_at = ? WHERE consent_id = ? "
            "AND customer_id = ? AND status = 'active' RETURNING consent_id",
            (now_s, consent_id, customer_id),
        )
        return bool(hit)

    def _consent(self, row: tuple[object, ...]) -> Consent:
        (
            cid,
            client,
            customer,
            purpose,
            kinds,
            p_from,
            p_to,
            status,
            created,
            decided,
            exp,
            rev,
        ) = row[:12]
        granted = tuple(self.supply_point_keys(str(cid)).values())
        return Consent(
            consent_id=str(cid),
            client_id=str(client),
            customer_id=None if customer is None else str(customer),
            purpose=str(purpose),
            data_kinds=tuple(str(kinds).split()),
            period_from=date.fromisoformat(str(p_from)),
            period_to=date.fromisoformat(str(p_to)),
            status=str(status),
            created_at=float(created),  # type: ignore[arg-type]
            decided_at=None if decided is None else float(decided),  # type: ignore[arg-type]
            expires_at=float(exp),  # type: ignore[arg-type]
            revoked_at=None if rev is None else float(rev),  # type: ignore[arg-type]
            supply_point_ids=granted
            if status == "active" or granted
            else tuple(str(row[12]).split()),
        )
