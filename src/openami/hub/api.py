"""C-route HTTP API: the OAuth 2.0 token endpoint, bearer authentication of retailer
clients, and the error shape every endpoint shares (half-hour values: :mod:`.data_api`).

Errors carry a machine-readable ``code`` and a ``message`` for people.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from openami.hub.audit import AuditedRoute, set_actor
from openami.hub.client_address import client_address
from openami.hub.context import HubContext
from openami.hub.guesses import authenticate_client
from openami.hub.lanes import in_quick_lane
from openami.hub.oauth_grants import token_grant
from openami.hub.ratelimit import enforce as enforce_rate_limit
from openami.hub.ratelimit import enforce_anonymous, enforce_token_requests, unauthenticated
from openami.hub.token_cache import answered_in_memory, token_cache
from openami.storage.repositories.clients import ApiClient

router = APIRouter(route_class=AuditedRoute)  # every request is audit-logged

_STATUS_CODES = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
}


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int


class ApiError(BaseModel):
    code: str
    message: str


async def ctx(request: Request) -> HubContext:
    """The hub's context (async: a dependency of every route, answered without a thread)."""
    context: HubContext = request.app.state.hub
    return context


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    tags=["auth"],
    responses={400: {"model": ApiError}, 401: {"model": ApiError}},
)
def token(
    context: Annotated[HubContext, Depends(ctx)],
    request: Request,
    grant_type: Annotated[str, Form()],
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    authorization: Annotated[str | None, Header()] = None,
    code: Annotated[str | None, Form()] = None,
    redirect_uri: Annotated[str | None, Form()] = None,
    code_verifier: Annotated[str | None, Form()] = None,
    refresh_token: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """OAuth 2.0 token endpoint: client credentials (RFC 6749 §4.4, retailers), and for
    third parties authorization code with PKCE (§4.1, RFC 7636) and refresh (§6).

    Client authentication by HTTP Basic or by ``client_id``/``client_secret`` form fields.
    """
    enforce_token_requests(context.rate_limits, client_address(request), context.clock.timestamp())
    if authorization and authorization.lower().startswith("basic "):
        try:
            raw = base64.b64decode(authorization[6:], validate=True).decode()
            client_id, _, client_secret = raw.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _oauth_error(401, "invalid_client", "malformed Basic credentials")
    if grant_type in ("authorization_code", "refresh_token"):
        granted = token_grant(
            context,
            grant_type,
            client_id,
            client_secret,
            code,
            redirect_uri,
            code_verifier,
            refresh_token,
        )
        if granted.status_code == 200 and client_id:
            set_actor(request, client_id)
        return granted
    if grant_type != "client_credentials":
        return _oauth_error(
            400,
            "unsupported_grant_type",
            "supported: client_credentials, authorization_code, refresh_token",
        )
    if not client_id or not client_secret:
        return _oauth_error(401, "invalid_client", "client authentication is required")
    client = authenticate_client(context, client_id, client_secret)
    if client is None:
        return _oauth_error(401, "invalid_client", "unknown client or wrong secret")
    set_actor(request, client.client_id)
    access = context.clients.issue_token(
        client, context.clock.timestamp(), context.token_lifetime_s
    )
    return JSONResponse(
        {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(context.token_lifetime_s),
        },
        headers={"Cache-Control": "no-store"},
    )


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="openami"'} if status == 401 else {}
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


async def current_client(
    context: Annotated[HubContext, Depends(ctx)],
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> ApiClient:
    """The retailer client of a request (401 without a live token, 429 over its budget):
    on the event loop when that needs no I/O (``answered_in_memory``), else in the quick lane."""
    if answered_in_memory(context, authorization):
        return client_of(context, request, authorization)
    return await in_quick_lane(context, client_of, context, request, authorization)


def client_of(context: HubContext, request: Request, authorization: str | None) -> ApiClient:
    """:func:`current_client`'s check itself (may ask the stores)."""
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
    client = token_cache(context).client(authorization[7:].strip(), now_s)
    if client is None:
        raise unauthenticated(
            context.rate_limits,
            address,
            now_s,
            {"code": "invalid_token", "message": "the access token is unknown or expired"},
            'Bearer error="invalid_token"',
        )
    set_actor(request, client.client_id)
    enforce_rate_limit(context.rate_limits, client.client_id, context.clock.timestamp())
    return client


def install_error_handlers(app: FastAPI) -> None:
    """Give every error the {code, message} shape; 422 keeps the validation details."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = (
            exc.detail
            if isinstance(exc.detail, dict)
            else {"code": _STATUS_CODES.get(exc.status_code, "error"), "message": str(exc.detail)}
        )
        return JSONResponse(detail, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return JSONResponse({"code": "invalid_request", "message": problems}, status_code=422)
