"""API clients and their access tokens, in the registry's SQLite file.

Client secrets are stored as scrypt hashes and access tokens as SHA-256 hashes, so the
database never holds a usable secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from openami.storage.sqlite_registry import SqliteRegistryStore

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


@dataclass(frozen=True)
class ApiClient:
    client_id: str
    role: str  # "retailer" (client credentials) or "third_party" (authorization code)
    party_id: str  # e.g. the retailer_id


def _hash_secret(secret: str, salt: bytes) -> str:
    digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def _check_secret(secret: str, stored: str) -> bool:
    try:
        _, salt_hex, _ = stored.split("$")
    except ValueError:
        return False
    return hmac.compare_digest(_hash_secret(secret, bytes.fromhex(salt_hex)), stored)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ClientStore:
    def __init__(self, store: SqliteRegistryStore) -> None:
        self.store = store

    def register(self, client: ApiClient, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("client secrets must have at least 16 characters")
        self.store.insert_many(
            "api_clients",
            ("client_id", "secret_hash", "role", "party_id"),
            [
                (
                    client.client_id,
                    _hash_secret(secret, secrets.token_bytes(16)),
                    client.role,
                    client.party_id,
                )
            ],
        )

    def authenticate(self, client_id: str, secret: str) -> ApiClient | None:
        rows = self.store.execute(
            "SELECT client_id, secret_hash, role, party_id FROM api_clients WHERE client_id = ?",
            (client_id,),
        )
        if not rows:
            _hash_secret(secret, b"0" * 16)  # same work either way: no timing oracle
            return None
        cid, stored, role, party = rows[0]
        return ApiClient(cid, role, party) if _check_secret(secret, stored) else None

    def get(self, client_id: str) -> ApiClient | None:
        rows = self.store.execute(
            "SELECT client_id, role, party_id FROM api_clients WHERE client_id = ?", (client_id,)
        )
        return ApiClient(*rows[0]) if rows else None

    def issue_token(self, client: ApiClient, now_s: float, lifetime_s: float) -> str:
        token = secrets.token_urlsafe(32)
        self.store.execute(
            "INSERT INTO access_tokens (token_hash, client_id, expires_at) VALUES (?, ?, ?)",
            (_token_hash(token), client.client_id, now_s + lifetime_s),
        )
        self.store.execute("DELETE FROM access_tokens WHERE expires_at < ?", (now_s - 86400,))
        return token

    def client_for_token(self, token: str, now_s: float) -> ApiClient | None:
        rows = self.store.execute(
            "SELECT c.client_id, c.role, c.party_id FROM access_tokens t "
            "JOIN api_clients c ON c.client_id = t.client_id "
            "WHERE t.token_hash = ? AND t.expires_at > ?",
            (_token_hash(token), now_s),
        )
        return ApiClient(*rows[0]) if rows else None

    def revoke_token(self, token: str, client_id: str) -> bool:
        """RFC 7009: forget an access token of ``client_id``; False if there was none."""
        rows = self.store.execute(
            "DELETE FROM access_tokens WHERE token_hash = ? AND client_id = ? RETURNING client_id",
            (_token_hash(token), client_id),
        )
        return bool(rows)
