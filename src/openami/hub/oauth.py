"""OAuth 2.0 endpoints for third parties: the consent screen and token revocation.

- ``GET /oauth/authorize`` (RFC 6749 §4.1.1 + RFC 7636): checks the client, its registered
  redirect URI, the S256 code challenge and the consent the third party requested through
  ``POST /v1/consents`` (``consent_id``), then shows the consent screen: who asks, for
  what purpose, which data kinds, which period, which supply points, until when.
- ``POST /oauth/authorize``: the customer logs in (customer id + password) and approves
  or denies in the same form. Approval makes the consent ``active`` and redirects
  (303) with a single-use ``code``; denial marks it ``denied`` and redirects with
  ``error=access_denied``. An unknown client or redirect URI is never redirected to.
- ``POST /oauth/revoke`` (RFC 7009): a client revokes one of its access or refresh tokens.

:func:`current_party` is the bearer-token dependency of the consent and data APIs: it
accepts client-credentials tokens (retailers, third parties asking for consent) and the
access tokens of the authorization code grant (a third party acting under a consent).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from authlib.common.urls import add_params_to_uri
from fastapi import APIRouter, Depends, Form, Header, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from openami.clock import JST
from openami.hub.api import ApiError, ctx
from openami.hub.audit import AuditedRoute, set_actor
from openami.hub.client_address import client_address
from openami.hub.context import HubContext
from openami.hub.guesses import authenticate_client, authenticate_customer
from openami.hub.lanes import in_quick_lane
from openami.hub.oauth_grants import (
    THIRD_PARTY,
    consent_store,
    new_code,
    oauth_store,
    record_consent,
    revoke,
    valid_challenge,
)
from openami.hub.ratelimit import enforce as enforce_rate_limit
from openami.hub.ratelimit import enforce_anonymous, enforce_token_requests, unauthenticated
from openami.hub.token_cache import answered_in_memory, token_cache
from openami.storage.repositories.clients import ApiClient
from openami.storage.repositories.consents import Consent

router = APIRouter(route_class=AuditedRoute, tags=["auth"])
templates = Jinja2Templates(directory=str(Path(__file__).parent.parent / "web" / "templates"))

_SCREEN_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


def register_third_party(
    context: HubContext, client_id: str, secret: str, party_id: str, redirect_uris: list[str]
) -> ApiClient:
    """Register a third-party client with its exact redirect URIs (https, or http on
    loopback for development)."""
    if not redirect_uris:
        raise ValueError("a third party needs at least one redirect URI")
    for uri in redirect_uris:
        parts = urlsplit(uri)
        loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
        if not (parts.scheme == "https" or loopback) or parts.fragment or not parts.hostname:
            raise ValueError(f"redirect URI {uri!r} must be https (or http on loopback)")
    client = ApiClient(client_id, THIRD_PARTY, party_id)
    context.clients.register(client, secret)
    oauth_store(context).add_redirect_uris(client_id, redirect_uris)
    return client


# -- the consent screen ----------------------------------------------------------------------
@dataclass
class _AuthRequest:
    response_type: str | None
    client_id: str | None
    redirect_uri: str | None
    state: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    consent_id: str | None

    def hidden(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class _Refusal(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _page(request: Request, name: str, values: dict[str, Any], status: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, values, status_code=status)
    response.headers.update(_SCREEN_HEADERS)
    return response


def _error_page(request: Request, status: int, message: str) -> _Refusal:
    return _Refusal(_page(request, "oauth_error.html", {"message": message}, status))


def _redirect(uri: str, params: list[tuple[str, str]], state: str | None) -> RedirectResponse:
    if state is not None:
        params = [*params, ("state", state)]
    return RedirectResponse(add_params_to_uri(uri, params), status_code=303)


def _check(context: HubContext, request: Request, auth: _AuthRequest) -> Consent:
    """The requested consent if the authorization request is acceptable, else a refusal:
    an error page when the client or redirect URI is wrong, a redirect otherwise."""
    if not auth.client_id or not auth.redirect_uri:
        raise _error_page(request, 400, "client_id and redirect_uri are required.")
    if auth.redirect_uri not in oauth_store(context).redirect_uris(auth.client_id):
        raise _error_page(request, 400, "Unknown client or unregistered redirect URI.")

    def refuse(error: str, description: str) -> _Refusal:
        assert auth.redirect_uri is not None
        params = [("error", error), ("error_description", description)]
        return _Refusal(_redirect(auth.redirect_uri, params, auth.state))

    if auth.response_type != "code":
        raise refuse("unsupported_response_type", "only response_type=code is supported")
    problem = valid_challenge(auth.code_challenge, auth.code_challenge_method)
    if problem is not None:
        raise refuse("invalid_request", problem)
    consent = consent_store(context).get(auth.consent_id) if auth.consent_id else None
    if consent is None or consent.client_id != auth.client_id:
        raise refuse("invalid_request", "consent_id must name a consent this client requested")
    if consent.effective_status(context.clock.timestamp()) != "requested":
        raise refuse("invalid_request", "the consent is no longer open for a decision")
    return consent


def _screen_values(context: HubContext, consent: Consent, auth: _AuthRequest) -> dict[str, Any]:
    client = context.clients.get(consent.client_id)
    return {
        "consent": consent,
        "recipient": client.party_id if client else consent.client_id,
        "expires": datetime.fromtimestamp(consent.expires_at, JST).strftime("%Y-%m-%d %H:%M"),
        "hidden": auth.hidden(),
        "error": None,
    }


@router.get("/oauth/authorize", response_class=HTMLResponse)
def authorize_screen(
    context: Annotated[HubContext, Depends(ctx)],
    request: Request,
    response_type: Annotated[str | None, Query()] = None,
    client_id: Annotated[str | None, Query()] = None,
    redirect_uri: Annotated[str | None, Query()] = None,
    state: Annotated[str | None, Query()] = None,
    code_challenge: Annotated[str | None, Query()] = None,
    code_challenge_method: Annotated[str | None, Query()] = None,
    consent_id: Annotated[str | None, Query()] = None,
    scope: Annotated[str | None, Query(description="ignored: the consent is the scope")] = None,
) -> Response:
    """Consent screen (authorization code grant with PKCE S256; needs a requested consent)."""
    auth = _AuthRequest(
        response_type, client_id, redirect_uri, state, code_challenge, code_challenge_method,
        consent_id,
    )  # fmt: skip
    try:
        consent = _check(context, request, auth)
    except _Refusal as refusal:
        return refusal.response
    return _page(request, "oauth_consent.html", _screen_values(context, consent, auth))


@router.post("/oauth/authorize", response_class=HTMLResponse)
def authorize_decision(
    context: Annotated[HubContext, Depends(ctx)],
    request: Request,
    customer_id: Annotated[str, Form()],
    password: Annotated[str, Form()],
    decision: Annotated[str, Form(description="approve or deny")],
    response_type: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    redirect_uri: Annotated[str | None, Form()] = None,
    state: Annotated[str | None, Form()] = None,
    code_challenge: Annotated[str | None, Form()] = None,
    code_challenge_method: Annotated[str | None, Form()] = None,
    consent_id: Annotated[str | None, Form()] = None,
) -> Response:
    """The customer logs in and approves or denies the consent."""
    auth = _AuthRequest(
        response_type, client_id, redirect_uri, state, code_challenge, code_challenge_method,
        consent_id,
    )  # fmt: skip
    try:
        consent = _check(context, request, auth)
    except _Refusal as refusal:
        return refusal.response
    assert auth.redirect_uri is not None and auth.client_id is not None
    if decision not in ("approve", "deny"):
        return _error_page(request, 400, "decision must be approve or deny.").response
    now_s = context.clock.timestamp()
    enforce_token_requests(context.rate_limits, client_address(request), now_s)
    consents = consent_store(context)
    if not authenticate_customer(context, customer_id, password):
        values = _screen_values(context, consent, auth)
        values["error"] = "Wrong customer id or password."
        return _page(request, "oauth_consent.html", values, status=401)
    set_actor(request, f"customer:{customer_id}")
    held = consents.customer_points(customer_id)
    wanted = set(consent.supply_point_ids)
    if not held or not wanted <= set(held.values()):
        return _error_page(
            request, 403, "This request names supply points you do not hold."
        ).response
    approve = decision == "approve"
    keys = [k for k, sp in held.items() if not wanted or sp in wanted]
    if not consents.decide(consent.consent_id, customer_id, approve, keys, now_s):
        return _error_page(request, 409, "The consent was decided already or expired.").response
    decided = consents.get(consent.consent_id)
    assert decided is not None
    record_consent(context, f"customer:{customer_id}", "approved" if approve else "denied", decided)
    if not approve:
        return _redirect(
            auth.redirect_uri,
            [("error", "access_denied"), ("error_description", "the customer declined")],
            auth.state,
        )
    assert auth.code_challenge is not None
    code = new_code(
        context, auth.client_id, auth.redirect_uri, auth.code_challenge, consent.consent_id,
        customer_id,
    )  # fmt: skip
    return _redirect(auth.redirect_uri, [("code", code)], auth.state)


# -- revocation ------------------------------------------------------------------------------
def _basic(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        raw = base64.b64decode(authorization[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    cid, _, secret = raw.partition(":")
    return cid, secret


@router.post("/oauth/revoke", responses={400: {"model": ApiError}, 401: {"model": ApiError}})
def revoke_token(
    context: Annotated[HubContext, Depends(ctx)],
    request: Request,
    token: Annotated[str, Form()],
    token_type_hint: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """Token revocation (RFC 7009): 200 whether or not the token was known."""
    enforce_token_requests(context.rate_limits, client_address(request), context.clock.timestamp())
    basic = _basic(authorization)
    if basic is not None:
        client_id, client_secret = basic
    client = (
        authenticate_client(context, client_id, client_secret)
        if client_id and client_secret
        else None
    )
    if client is None:
        raise HTTPException(
            status_code=401,
            detail={"code": "invalid_client", "message": "client authentication failed"},
            headers={"WWW-Authenticate": 'Basic realm="openami"'},
        )
    set_actor(request, client.client_id)
    revoke(context, client, token)
    return Response(status_code=200, headers={"Cache-Control": "no-store"})


# -- bearer tokens of the consent and data APIs ----------------------------------------------
@dataclass(frozen=True)
class Party:
    """Who calls: the client, and for a third party's code-grant token the consent."""

    client: ApiClient
    consent_id: str | None = None


async def current_party(
    context: Annotated[HubContext, Depends(ctx)],
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> Party:
    """The caller of a consent or data API request (401 without a live token, 429 over its
    budget): checked on the event loop when that needs no I/O (``answered_in_memory``),
    else in the quick lane (``hub.lanes``)."""
    if answered_in_memory(context, authorization):
        return party_of(context, request, authorization)
    return await in_quick_lane(context, party_of, context, request, authorization)


def party_of(context: HubContext, request: Request, authorization: str | None) -> Party:
    """:func:`current_party`'s check itself (may ask the stores)."""
    address, now_s = client_address(request), context.clock.timestamp()
    enforce_anonymous(context.rate_limits, address, now_s)  # before any lookup
    if not authorization or not authorization.lower().startswith("bearer "):
        raise unauthenticated(
            context.rate_limits,
            address,
            now_s,
            {"code": "unauthenticated", "message": "a Bearer access token is required"},
            "Bearer",
        )
    token = authorization[7:].strip()
    client = token_cache(context).client(token, now_s)
    party = Party(client) if client is not None else None
    if party is None:
        grant = oauth_store(context).grant_for_access_token(token, now_s)
        owner = context.clients.get(grant.client_id) if grant is not None else None
        if grant is not None and owner is not None:
            party = Party(owner, grant.consent_id)
    if party is None:
        raise unauthenticated(
            context.rate_limits,
            address,
            now_s,
            {"code": "invalid_token", "message": "the access token is unknown or expired"},
            'Bearer error="invalid_token"',
        )
    set_actor(request, party.client.client_id)
    enforce_rate_limit(context.rate_limits, party.client.client_id, now_s)
    return party
