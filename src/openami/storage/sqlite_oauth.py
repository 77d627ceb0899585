"""OAuth 2.0 state of the C route (authorization code grant), in the registry's SQLite file.

- ``oauth_redirect_uris``: the redirect URIs registered for a third-party client;
- ``oauth_codes``: authorization codes, single use (taking one deletes it), with the PKCE
  challenge, the redirect URI, the consent and the customer they were issued for;
- ``oauth_tokens``: access + refresh token pairs issued to third parties. A refresh
  rotates the pair: the old row is marked revoked and a new one, of the same ``family``,
  is added. Presenting a rotated-out refresh token again revokes the whole family (a
  stolen refresh token can be used at most once).

Codes and tokens are stored as SHA-256 hashes only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from openami.storage.sqlite_registry import SqliteRegistryStore

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS oauth_redirect_uris (
        client_id TEXT NOT NULL REFERENCES api_clients(client_id),
        redirect_uri TEXT NOT NULL,
        PRIMARY KEY (client_id, redirect_uri)
    )""",
    """CREATE TABLE IF NOT EXISTS oauth_codes (
        code_hash TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        code_challenge TEXT NOT NULL,
        consent_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        expires_at REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS oauth_tokens (
        access_hash TEXT PRIMARY KEY,
        refresh_hash TEXT NOT NULL UNIQUE,
        family TEXT NOT NULL,
        client_id TEXT NOT NULL,
        consent_id TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        access_expires_at REAL NOT NULL,
        refresh_expires_at REAL NOT NULL,
        revoked_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS oauth_tokens_family ON oauth_tokens(family)",
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    code_challenge: str
    consent_id: str
    customer_id: str
    expires_at: float


@dataclass(frozen=True)
class TokenGrant:
    """What an access or refresh token of a third party stands for."""

    client_id: str
    consent_id: str
    customer_id: str
    family: str


class OAuthStore:
    def __init__(self, store: SqliteRegistryStore) -> None:
        self.store = store
        for statement in SCHEMA:
            store.execute(statement)

    # -- clients --------------------------------------------------------------------------
    def add_redirect_uris(self, client_id: str, redirect_uris: Sequence[str]) -> None:
        self.store.insert_many(
            "oauth_redirect_uris",
            ("client_id", "redirect_uri"),
            [(client_id, uri) for uri in redirect_uris],
        )

    def redirect_uris(self, client_id: str) -> list[str]:
        rows = self.store.execute(
            "SELECT redirect_uri FROM oauth_redirect_uris WHERE client_id = ? "
            "ORDER BY redirect_uri",
            (client_id,),
        )
        return [str(r[0]) for r in rows]

    # -- authorization codes --------------------------------------------------------------
    def save_code(self, code: str, grant: AuthorizationCode, now_s: float) -> None:
        self.store.execute("DELETE FROM oauth_codes WHERE expires_at < ?", (now_s,))
        self.store.execute(
            "INSERT INTO oauth_codes VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                token_hash(code),
                grant.client_id,
                grant.redirect_uri,
                grant.code_challenge,
                grant.consent_id,
                grant.customer_id,
                grant.expires_at,
            ),
        )

    def take_code(self, code: str) -> AuthorizationCode | None:
        """The code's grant, deleting it in the same statement: a code works once."""
        rows = self.store.execute(
            "DELETE FROM oauth_codes WHERE code_hash = ? RETURNING client_id, redirect_uri, "
            "code_challenge, consent_id, customer_id, expires_at",
            (token_hash(code),),
        )
        if not rows:
            return None
        c, r, ch, con, cu, exp = rows[0]
        return AuthorizationCode(str(c), str(r), str(ch), str(con), str(cu), float(exp))

    # -- tokens ---------------------------------------------------------------------------
    def save_tokens(
        self,
        access_token: str,
        refresh_token: str,
        grant: TokenGrant,
        access_expires_at: float,
        refresh_expires_at: float,
        now_s: float,
    ) -> None:
        # pairs whose refresh token expired a day ago can no longer be used or replayed
        self.store.execute(
            "DELETE FROM oauth_tokens WHERE refresh_expires_at < ?", (now_s - 86400.0,)
        )
        self.store.execute(
            "INSERT INTO oauth_tokens VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
            (
                token_hash(access_token),
                token_hash(refresh_token),
                grant.family,
                grant.client_id,
                grant.consent_id,
                grant.customer_id,
                access_expires_at,
                refresh_expires_at,
            ),
        )

    def grant_for_access_token(self, token: str, now_s: float) -> TokenGrant | None:
        rows = self.store.execute(
            "SELECT client_id, consent_id, customer_id, family FROM oauth_tokens "
            "WHERE access_hash = ? AND revoked_at IS NULL AND access_expires_at > ?",
            (token_hash(token), now_s),
        )
        return TokenGrant(*(str(v) for v in rows[0])) if rows else None

    def rotate_refresh_token(
        self, refresh_token: str, client_id: str, now_s: float
    ) -> TokenGrant | None:
        """Retire a live refresh token of ``client_id`` and return its grant; None if it
        is unknown, expired, another client's or already used (a reused one revokes the
        whole family)."""
        with self.store._lock:
            rows = self.store.execute(
                "UPDATE oauth_tokens SET revoked_at = ? WHERE refresh_hash = ? "
                "AND client_id = ? AND revoked_at IS NULL AND refresh_expires_at > ? "
                "RETURNING client_id, consent_id, customer_id, family",
                (now_s, token_hash(refresh_token), client_id, now_s),
            )
            if rows:
                return TokenGrant(*(str(v) for v in rows[0]))
            reused = self.store.execute(
                "SELECT family FROM oauth_tokens WHERE refresh_hash = ? AND client_id = ? "
                "AND revoked_at IS NOT NULL",
                (token_hash(refresh_token), client_id),
            )
            if reused:
                self.revoke_family(str(reused[0][0]), now_s)
            return None

    def revoke(self, token: str, client_id: str, now_s: float) -> bool:
        """RFC 7009: revoke the pair holding this access or refresh token of ``client_id``."""
        digest = token_hash(token)
        rows = self.store.execute(
            "UPDATE oauth_tokens SET revoked_at = ? WHERE (access_hash = ? OR refresh_hash = ?) "
            "AND client_id = ? AND revoked_at IS NULL RETURNING family",
            (now_s, digest, digest, client_id),
        )
        return bool(rows)

    def revoke_family(self, family: str, now_s: float) -> None:
        self.store.execute(
            "UPDATE oauth_tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL",
            (now_s, family),
        )
