"""OAuth 2.0 grants of third parties: authorization code with PKCE, refresh, revocation.

Built on authlib's RFC building blocks: PKCE S256 comparison and the verifier/challenge
grammar (:mod:`authlib.oauth2.rfc7636`), token generation
(:func:`authlib.common.security.generate_token`) and the RFC 6749 error classes (which
decide the error code, status and headers of each refusal). openami keeps the state:
codes and tokens live as SHA-256 hashes in ``storage/repositories/oauth.py``, the consent each
token stands for in ``storage/repositories/consents.py``.

Rules:
- only clients with role ``third_party`` may use these grants (retailers use client
  credentials);
- a code is single use (taking it deletes it, whatever happens next), lives
  :data:`CODE_LIFETIME_S`, is bound to the client, the redirect URI and an S256 challenge;
- access tokens are short-lived (``HubContext.third_party_token_lifetime_s``), refresh
  tokens rotate on every use; reusing a rotated-out refresh token revokes the whole family;
- no token outlives its consent, and a refresh needs the consent to be live.
"""

from __future__ import annotations

from typing import Any

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc7636.challenge import (
    CODE_CHALLENGE_PATTERN,
    CODE_VERIFIER_PATTERN,
    compare_s256_code_challenge,
)
from fastapi.responses import JSONResponse

from openami.hub.context import HubContext
from openami.hub.guesses import authenticate_client
from openami.hub.token_cache import token_cache
from openami.storage.repositories.audit import AuditRecord
from openami.storage.repositories.clients import ApiClient
from openami.storage.repositories.consents import Consent, ConsentStore
from openami.storage.repositories.oauth import AuthorizationCode, OAuthStore, TokenGrant

CODE_LIFETIME_S = 60.0
TOKEN_CHARS = 48  # ~285 bits from authlib's generate_token alphabet
THIRD_PARTY = "third_party"


def consent_store(context: HubContext) -> ConsentStore:
    if context.consents is None:
        context.consents = ConsentStore(context.clients.database)
    return context.consents


def oauth_store(context: HubContext) -> OAuthStore:
    if context.oauth is None:
        context.oauth = OAuthStore(context.clients.database)
    return context.oauth


def record_consent(context: HubContext, actor: str, action: str, consent: Consent) -> None:
    """Audit-log a consent event (requested, approved, denied, revoked): who, what, when,
    and the consent's terms; ``subject`` is the consent id."""
    if context.audit is None:
        return
    context.audit.append(
        AuditRecord(
            at=context.clock.timestamp(),
            kind="consent",
            actor=actor,
            action=f"consent {action}",
            subject=consent.consent_id,
            purpose=consent.purpose,
            detail={
                "recipient": consent.client_id,
                "data_kinds": list(consent.data_kinds),
                "period": f"{consent.period_from}..{consent.period_to}",
                "supply_points": len(consent.supply_point_ids),
                "expires_at": consent.expires_at,
            },
        )
    )


def error_response(err: OAuth2Error) -> JSONResponse:
    """An RFC 6749 §5.2 error body with the status and headers authlib gives the error."""
    headers = dict(err.get_headers())
    headers.pop("Content-Type", None)
    return JSONResponse(dict(err.get_body()), status_code=err.status_code, headers=headers)


def valid_challenge(challenge: str | None, method: str | None) -> str | None:
    """Why a PKCE challenge is refused, or None when it is a well-formed S256 challenge."""
    if not challenge:
        return "code_challenge is required (PKCE, RFC 7636)"
    if method != "S256":
        return "code_challenge_method must be S256"
    if not CODE_CHALLENGE_PATTERN.match(challenge):
        return "code_challenge is malformed"
    return None


def new_code(
    context: HubContext,
    client_id: str,
    redirect_uri: str,
    code_challenge: str,
    consent_id: str,
    customer_id: str,
) -> str:
    code = generate_token(TOKEN_CHARS)
    now_s = context.clock.timestamp()
    oauth_store(context).save_code(
        code,
        AuthorizationCode(
            client_id,
            redirect_uri,
            code_challenge,
            consent_id,
            customer_id,
            now_s + CODE_LIFETIME_S,
        ),
        now_s,
    )
    return code


def _third_party(context: HubContext, client_id: str | None, secret: str | None) -> ApiClient:
    if not client_id or not secret:
        raise InvalidClientError("client authentication is required", status_code=401)
    client = authenticate_client(context, client_id, secret)
    if client is None:
        raise InvalidClientError("unknown client or wrong secret", status_code=401)
    if client.role != THIRD_PARTY:
        raise UnauthorizedClientError("only third-party clients use this grant")
    return client


def token_grant(
    context: HubContext,
    grant_type: str,
    client_id: str | None,
    client_secret: str | None,
    code: str | None,
    redirect_uri: str | None,
    code_verifier: str | None,
    refresh_token: str | None,
) -> JSONResponse:
    """``/oauth/token`` for ``authorization_code`` and ``refresh_token`` grants."""
    try:
        client = _third_party(context, client_id, client_secret)
        if grant_type == "authorization_code":
            body = _exchange_code(context, client, code, redirect_uri, code_verifier)
        else:
            body = _refresh(context, client, refresh_token)
    except OAuth2Error as err:
        return error_response(err)
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _live_consent(context: HubContext, consent_id: str, client_id: str) -> Consent:
    consent = consent_store(context).get(consent_id)
    if (
        consent is None
        or consent.client_id != client_id
        or not consent.is_live(context.clock.timestamp())
    ):
        raise InvalidGrantError("the consent behind this grant is not live")
    return consent


def _exchange_code(
    context: HubContext,
    client: ApiClient,
    code: str | None,
    redirect_uri: str | None,
    code_verifier: str | None,
) -> dict[str, Any]:
    if not code or not redirect_uri or not code_verifier:
        raise InvalidRequestError("code, redirect_uri and code_verifier are required")
    grant = oauth_store(context).take_code(code)  # single use from here on
    now_s = context.clock.timestamp()
    if grant is None or grant.client_id != client.client_id or grant.expires_at <= now_s:
        raise InvalidGrantError("the code is unknown, used, expired or another client's")
    if grant.redirect_uri != redirect_uri:
        raise InvalidGrantError("redirect_uri differs from the authorization request")
    if not CODE_VERIFIER_PATTERN.match(code_verifier):
        raise InvalidRequestError("code_verifier is malformed (RFC 7636 §4.1)")
    if not compare_s256_code_challenge(code_verifier, grant.code_challenge):
        raise InvalidGrantError("code_verifier does not match the code_challenge")
    consent = _live_consent(context, grant.consent_id, client.client_id)
    family = generate_token(TOKEN_CHARS)
    return _issue(
        context,
        TokenGrant(client.client_id, consent.consent_id, grant.customer_id, family),
        consent,
    )


def _refresh(context: HubContext, client: ApiClient, refresh_token: str | None) -> dict[str, Any]:
    if not refresh_token:
        raise InvalidRequestError("refresh_token is required")
    now_s = context.clock.timestamp()
    store = oauth_store(context)
    grant = store.rotate_refresh_token(refresh_token, client.client_id, now_s)
    if grant is None:
        raise InvalidGrantError("the refresh token is unknown, used, expired or revoked")
    try:
        consent = _live_consent(context, grant.consent_id, client.client_id)
    except InvalidGrantError:
        store.revoke_family(grant.family, now_s)
        raise
    return _issue(context, grant, consent)


def _issue(context: HubContext, grant: TokenGrant, consent: Consent) -> dict[str, Any]:
    now_s = context.clock.timestamp()
    access_expires = min(now_s + context.third_party_token_lifetime_s, consent.expires_at)
    refresh_expires = min(now_s + context.refresh_token_lifetime_s, consent.expires_at)
    access, refresh = generate_token(TOKEN_CHARS), generate_token(TOKEN_CHARS)
    oauth_store(context).save_tokens(access, refresh, grant, access_expires, refresh_expires, now_s)
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": max(1, int(access_expires - now_s)),
        "refresh_token": refresh,
        "scope": " ".join(consent.data_kinds),
        "consent_id": consent.consent_id,
        "consent_uri": f"/v1/consents/{consent.consent_id}",
    }


def revoke(context: HubContext, client: ApiClient, token: str) -> None:
    """RFC 7009: revoke an access or refresh token of ``client`` (unknown tokens: no-op)."""
    if not oauth_store(context).revoke(token, client.client_id, context.clock.timestamp()):
        context.clients.revoke_token(token, client.client_id)
        token_cache(context).forget(token)
