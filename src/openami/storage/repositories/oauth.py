"""OAuth 2.0 state of the C route's authorization code grant.

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

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from openami.storage.repositories.clients import token_hash
from openami.storage.sql import tables as t
from openami.storage.sql.database import Database
from openami.storage.sql.errors import refusals_as
from openami.storage.sql.prepared import Prepared

EXPIRED_PAIRS_KEPT_S = 86400.0  # pairs whose refresh token expired a day ago are deleted


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


_GRANT_COLUMNS = (
    t.oauth_tokens.c.client_id,
    t.oauth_tokens.c.consent_id,
    t.oauth_tokens.c.customer_id,
    t.oauth_tokens.c.family,
)


_GRANT_FOR_ACCESS_TOKEN = Prepared(
    sa.select(*_GRANT_COLUMNS).where(
        t.oauth_tokens.c.access_hash == sa.bindparam("access_hash"),
        t.oauth_tokens.c.revoked_at.is_(None),
        t.oauth_tokens.c.access_expires_at > sa.bindparam("now_s"),
    )
)


def _grant(row: Sequence[object]) -> TokenGrant:
    return TokenGrant(*(str(v) for v in row))


class OAuthStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    # -- clients --------------------------------------------------------------------------
    def add_redirect_uris(self, client_id: str, redirect_uris: Sequence[str]) -> None:
        with self.database.write() as connection, refusals_as("redirect URIs"):
            connection.execute(
                t.oauth_redirect_uris.insert(),
                [{"client_id": client_id, "redirect_uri": uri} for uri in redirect_uris],
            )

    def redirect_uris(self, client_id: str) -> list[str]:
        r = t.oauth_redirect_uris
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(r.c.redirect_uri)
                .where(r.c.client_id == client_id)
                .order_by(r.c.redirect_uri)
            ).all()
        return [str(row[0]) for row in rows]

    # -- authorization codes --------------------------------------------------------------
    def save_code(self, code: str, grant: AuthorizationCode, now_s: float) -> None:
        codes = t.oauth_codes
        with self.database.write() as connection, refusals_as("an authorization code"):
            connection.execute(codes.delete().where(codes.c.expires_at < now_s))
            connection.execute(
                codes.insert().values(
                    code_hash=token_hash(code),
                    client_id=grant.client_id,
                    redirect_uri=grant.redirect_uri,
                    code_challenge=grant.code_challenge,
                    consent_id=grant.consent_id,
                    customer_id=grant.customer_id,
                    expires_at=grant.expires_at,
                )
            )

    def take_code(self, code: str) -> AuthorizationCode | None:
        """The code's grant, deleting it in the same statement: a code works once."""
        codes = t.oauth_codes
        with self.database.write() as connection:
            row = connection.execute(
                codes.delete()
                .where(codes.c.code_hash == token_hash(code))
                .returning(
                    codes.c.client_id,
                    codes.c.redirect_uri,
                    codes.c.code_challenge,
                    codes.c.consent_id,
                    codes.c.customer_id,
                    codes.c.expires_at,
                )
            ).first()
        if row is None:
            return None
        client, redirect, challenge, consent, customer, expires_at = row
        return AuthorizationCode(
            str(client),
            str(redirect),
            str(challenge),
            str(consent),
            str(customer),
            float(expires_at),
        )

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
        tokens = t.oauth_tokens
        with self.database.write() as connection, refusals_as("a token pair"):
            # pairs whose refresh token expired a day ago can no longer be used or replayed
            connection.execute(
                tokens.delete().where(tokens.c.refresh_expires_at < now_s - EXPIRED_PAIRS_KEPT_S)
            )
            connection.execute(
                tokens.insert().values(
                    access_hash=token_hash(access_token),
                    refresh_hash=token_hash(refresh_token),
                    family=grant.family,
                    client_id=grant.client_id,
                    consent_id=grant.consent_id,
                    customer_id=grant.customer_id,
                    access_expires_at=access_expires_at,
                    refresh_expires_at=refresh_expires_at,
                    revoked_at=None,
                )
            )

    def grant_for_access_token(self, token: str, now_s: float) -> TokenGrant | None:
        with self.database.driver_read() as connection:
            rows = _GRANT_FOR_ACCESS_TOKEN.rows(
                connection,
                self.database.engine.dialect,
                access_hash=token_hash(token),
                now_s=now_s,
            )
        return _grant(rows[0]) if rows else None

    def rotate_refresh_token(
        self, refresh_token: str, client_id: str, now_s: float
    ) -> TokenGrant | None:
        """Retire a live refresh token of ``client_id`` and return its grant; None if it
        is unknown, expired, another client's or already used (a reused one revokes the
        whole family, in the same transaction)."""
        tokens = t.oauth_tokens
        mine = (tokens.c.refresh_hash == token_hash(refresh_token), tokens.c.client_id == client_id)
        with self.database.write() as connection:
            row = connection.execute(
                tokens.update()
                .where(*mine, tokens.c.revoked_at.is_(None), tokens.c.refresh_expires_at > now_s)
                .values(revoked_at=now_s)
                .returning(*_GRANT_COLUMNS)
            ).first()
            if row is not None:
                return _grant(row)
            reused = connection.execute(
                sa.select(tokens.c.family).where(*mine, tokens.c.revoked_at.is_not(None))
            ).scalar()
            if reused is not None:
                _revoke_family(connection, str(reused), now_s)
            return None

    def revoke(self, token: str, client_id: str, now_s: float) -> bool:
        """RFC 7009: revoke the pair holding this access or refresh token of ``client_id``."""
        tokens = t.oauth_tokens
        digest = token_hash(token)
        with self.database.write() as connection:
            revoked = connection.execute(
                tokens.update()
                .where(
                    sa.or_(tokens.c.access_hash == digest, tokens.c.refresh_hash == digest),
                    tokens.c.client_id == client_id,
                    tokens.c.revoked_at.is_(None),
                )
                .values(revoked_at=now_s)
            )
        return revoked.rowcount > 0

    def revoke_family(self, family: str, now_s: float) -> None:
        with self.database.write() as connection:
            _revoke_family(connection, family, now_s)


def _revoke_family(connection: sa.Connection, family: str, now_s: float) -> None:
    tokens = t.oauth_tokens
    connection.execute(
        tokens.update()
        .where(tokens.c.family == family, tokens.c.revoked_at.is_(None))
        .values(revoked_at=now_s)
    )
