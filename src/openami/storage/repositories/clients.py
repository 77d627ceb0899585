"""API clients of the C route and their access tokens (client credentials grant).

Client secrets are stored as scrypt hashes and access tokens as SHA-256 hashes, so the
database never holds a usable secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from openami.storage.sql import tables as t
from openami.storage.sql.database import Database
from openami.storage.sql.errors import refusals_as
from openami.storage.sql.prepared import Prepared

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
EXPIRED_TOKENS_KEPT_S = 86400.0  # expired tokens are deleted a day after their expiry


@dataclass(frozen=True)
class ApiClient:
    client_id: str
    role: str  # "retailer" (client credentials) or "third_party" (authorization code)
    party_id: str  # e.g. the retailer_id


def hash_secret(secret: str, salt: bytes) -> str:
    """``scrypt$salt$digest`` of a secret (client secrets, customer passwords)."""
    digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def new_secret_hash(secret: str) -> str:
    return hash_secret(secret, secrets.token_bytes(16))


def check_secret(secret: str, stored: str) -> bool:
    try:
        _, salt_hex, _ = stored.split("$")
    except ValueError:
        return False
    return hmac.compare_digest(hash_secret(secret, bytes.fromhex(salt_hex)), stored)


def token_hash(token: str) -> str:
    """SHA-256 (hex) of a token: what the store keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


# hot statements (every API request), built once: values are bound per call
_a, _c = t.access_tokens, t.api_clients
_CLIENT_FOR_TOKEN = Prepared(
    sa.select(_c.c.client_id, _c.c.role, _c.c.party_id)
    .join_from(_a, _c, _c.c.client_id == _a.c.client_id)
    .where(_a.c.token_hash == sa.bindparam("token_hash"), _a.c.expires_at > sa.bindparam("now_s"))
)
_CLIENT_AND_EXPIRY = Prepared(
    sa.select(_c.c.client_id, _c.c.role, _c.c.party_id, _a.c.expires_at)
    .join_from(_a, _c, _c.c.client_id == _a.c.client_id)
    .where(_a.c.token_hash == sa.bindparam("token_hash"), _a.c.expires_at > sa.bindparam("now_s"))
)
_CLIENT = Prepared(
    sa.select(_c.c.client_id, _c.c.role, _c.c.party_id).where(
        _c.c.client_id == sa.bindparam("client_id")
    )
)


class ClientStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def register(self, client: ApiClient, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("client secrets must have at least 16 characters")
        with self.database.write() as connection, refusals_as(f"client {client.client_id}"):
            connection.execute(
                t.api_clients.insert().values(
                    client_id=client.client_id,
                    secret_hash=new_secret_hash(secret),
                    role=client.role,
                    party_id=client.party_id,
                )
            )

    def authenticate(self, client_id: str, secret: str) -> ApiClient | None:
        c = t.api_clients
        with self.database.read() as connection:
            row = connection.execute(
                sa.select(c.c.client_id, c.c.secret_hash, c.c.role, c.c.party_id).where(
                    c.c.client_id == client_id
                )
            ).first()
        if row is None:
            hash_secret(secret, b"0" * 16)  # same work either way: no timing oracle
            return None
        found, stored, role, party = row
        return ApiClient(found, role, party) if check_secret(secret, stored) else None

    def get(self, client_id: str) -> ApiClient | None:
        with self.database.driver_read() as connection:
            rows = _CLIENT.rows(connection, self.database.engine.dialect, client_id=client_id)
        return ApiClient(*rows[0]) if rows else None

    def issue_token(self, client: ApiClient, now_s: float, lifetime_s: float) -> str:
        token = secrets.token_urlsafe(32)
        a = t.access_tokens
        with self.database.write() as connection, refusals_as("issuing a token"):
            connection.execute(
                a.insert().values(
                    token_hash=token_hash(token),
                    client_id=client.client_id,
                    expires_at=now_s + lifetime_s,
                )
            )
            connection.execute(a.delete().where(a.c.expires_at < now_s - EXPIRED_TOKENS_KEPT_S))
        return token

    def client_for_token(self, token: str, now_s: float) -> ApiClient | None:
        with self.database.driver_read() as connection:
            rows = _CLIENT_FOR_TOKEN.rows(
                connection, self.database.engine.dialect, token_hash=token_hash(token), now_s=now_s
            )
        return ApiClient(*rows[0]) if rows else None

    def client_and_expiry(self, token: str, now_s: float) -> tuple[ApiClient, float] | None:
        """:meth:`client_for_token` and when the token expires [epoch s]."""
        with self.database.driver_read() as connection:
            rows = _CLIENT_AND_EXPIRY.rows(
                connection, self.database.engine.dialect, token_hash=token_hash(token), now_s=now_s
            )
        return (ApiClient(*rows[0][:3]), float(rows[0][3])) if rows else None

    def revoke_token(self, token: str, client_id: str) -> bool:
        """RFC 7009: forget an access token of ``client_id``; False if there was none."""
        a = t.access_tokens
        with self.database.write() as connection:
            deleted = connection.execute(
                a.delete().where(a.c.token_hash == token_hash(token), a.c.client_id == client_id)
            )
        return deleted.rowcount > 0

    def secret_hashes(self) -> list[str]:
        """Every stored client secret hash (checks that no secret is stored in clear)."""
        with self.database.read() as connection:
            return [
                str(h) for h in connection.execute(sa.select(t.api_clients.c.secret_hash)).scalars()
            ]
