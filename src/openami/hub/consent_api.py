"""Consent as data on the C route.

Third parties (bearer token, role ``third_party``; a client-credentials token is enough):

- ``POST /v1/consents`` requests a consent: supply points (optional; none = all the
  customer holds), data kinds, period of data, purpose, expiry. It starts ``requested``;
  the answer carries the ``/oauth/authorize`` path to send the customer to.
- ``GET /v1/consents`` and ``GET /v1/consents/{consent_id}``: status of its own consents
  (``requested``, ``active``, ``denied``, ``revoked``, ``expired``).

Customers (HTTP Basic with their customer id and password):

- ``GET /v1/customer/consents``: every consent they decided;
- ``POST /v1/customer/consents/{consent_id}/revoke``: withdraw an active consent. Data
  endpoints check the consent on every request, so the revocation applies to the next one.
  CSRF-protected (:func:`openami.hub.csrf.customer_action`): send ``X-Requested-With``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from openami.clock import DAY_SECONDS, JST
from openami.hub.api import ApiError, ctx
from openami.hub.audit import AuditedRoute, set_actor
from openami.hub.client_address import client_address
from openami.hub.context import HubContext
from openami.hub.csrf import customer_action
from openami.hub.errors import api_error as _error
from openami.hub.guesses import authenticate_customer
from openami.hub.oauth import Party, _basic, current_party
from openami.hub.oauth_grants import THIRD_PARTY, consent_store, record_consent
from openami.hub.ratelimit import enforce_anonymous, enforce_token_requests, unauthenticated
from openami.registry import InvalidSupplyPointId
from openami.registry.ids import validate_supply_point_id
from openami.storage.repositories.consents import Consent

router = APIRouter(route_class=AuditedRoute, tags=["consent"])

MAX_PERIOD_DAYS = 400  # about 13 months of data, as OCCTO's 使用量情報照会
MAX_VALIDITY_DAYS = 366
DEFAULT_VALIDITY_DAYS = 90
CUSTOMER_REALM = 'Basic realm="openami customers"'
DataKind = Literal["half_hour", "register_reads", "daily", "monthly"]
_ERRORS: dict[int | str, dict[str, object]] = {
    s: {"model": ApiError} for s in (400, 401, 403, 404, 409, 422, 429)
}


class ConsentRequest(BaseModel):
    supply_point_ids: list[str] = Field(
        default_factory=list, max_length=100, description="22-digit IDs; empty: all held"
    )
    data_kinds: list[DataKind] = Field(min_length=1, max_length=4)
    period_from: date = Field(description="first JST day of data")
    period_to: date = Field(description="last JST day of data (inclusive)")
    purpose: str = Field(min_length=1, max_length=500)
    expires_at: datetime | None = Field(
        default=None, description=f"end of access (default +{DEFAULT_VALIDITY_DAYS} days)"
    )


class ConsentOut(BaseModel):
    consent_id: str
    client_id: str
    customer_id: str | None
    status: str = Field(description="requested, active, denied, revoked or expired")
    purpose: str
    data_kinds: list[str]
    period_from: str
    period_to: str
    supply_point_ids: list[str]
    created_at: str
    decided_at: str | None
    expires_at: str
    revoked_at: str | None
    authorize_path: str | None = Field(
        description="where to send the customer (add client_id, redirect_uri, state and "
        "the PKCE code_challenge); only while requested"
    )


class ConsentList(BaseModel):
    items: list[ConsentOut]
    next_offset: int | None


def _iso(epoch_s: float | None) -> str | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, JST).isoformat()


def consent_out(consent: Consent, now_s: float) -> ConsentOut:
    status = consent.effective_status(now_s)
    return ConsentOut(
        consent_id=consent.consent_id,
        client_id=consent.client_id,
        customer_id=consent.customer_id,
        status=status,
        purpose=consent.purpose,
        data_kinds=list(consent.data_kinds),
        period_from=consent.period_from.isoformat(),
        period_to=consent.period_to.isoformat(),
        supply_point_ids=list(consent.supply_point_ids),
        created_at=str(_iso(consent.created_at)),
        decided_at=_iso(consent.decided_at),
        expires_at=str(_iso(consent.expires_at)),
        revoked_at=_iso(consent.revoked_at),
        authorize_path=(
            f"/oauth/authorize?response_type=code&consent_id={consent.consent_id}"
            if status == "requested"
            else None
        ),
    )


def _third_party(party: Party) -> str:
    if party.client.role != THIRD_PARTY:
        raise _error(403, "third_parties_only", "consents are requested by third parties")
    return party.client.client_id


@router.post("/v1/consents", status_code=201, response_model=ConsentOut, responses=_ERRORS)
def request_consent(
    context: Annotated[HubContext, Depends(ctx)],
    party: Annotated[Party, Depends(current_party)],
    body: ConsentRequest,
) -> JSONResponse:
    """Request a consent (status ``requested``); the customer decides on the consent screen."""
    client_id = _third_party(party)
    now_s = context.clock.timestamp()
    if body.period_to < body.period_from:
        raise _error(422, "invalid_period", "period_to comes before period_from")
    if (body.period_to - body.period_from).days >= MAX_PERIOD_DAYS:
        raise _error(422, "period_too_long", f"at most {MAX_PERIOD_DAYS} days of data")
    expires = body.expires_at or datetime.fromtimestamp(now_s, JST) + timedelta(
        days=DEFAULT_VALIDITY_DAYS
    )
    if expires.tzinfo is None:
        raise _error(422, "invalid_expiry", "expires_at needs a time zone")
    expires_s = expires.timestamp()
    if not now_s < expires_s <= now_s + MAX_VALIDITY_DAYS * DAY_SECONDS:
        raise _error(
            422, "invalid_expiry", f"expires_at must lie within {MAX_VALIDITY_DAYS} days from now"
        )
    try:
        for sp in body.supply_point_ids:
            validate_supply_point_id(sp)
    except InvalidSupplyPointId as exc:
        raise _error(422, "invalid_supply_point_id", str(exc)) from None
    consent = consent_store(context).request(
        client_id,
        body.purpose,
        body.data_kinds,
        body.period_from,
        body.period_to,
        expires_s,
        body.supply_point_ids,
        now_s,
    )
    record_consent(context, client_id, "requested", consent)
    out = consent_out(consent, now_s)
    return JSONResponse(
        out.model_dump(), status_code=201, headers={"Location": f"/v1/consents/{out.consent_id}"}
    )


@router.get("/v1/consents", response_model=ConsentList, responses=_ERRORS)
def list_consents(
    context: Annotated[HubContext, Depends(ctx)],
    party: Annotated[Party, Depends(current_party)],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ConsentList:
    """The calling third party's consents, oldest first."""
    client_id = _third_party(party)
    now_s = context.clock.timestamp()
    rows = consent_store(context).of_client(client_id, limit + 1, offset)
    return ConsentList(
        items=[consent_out(c, now_s) for c in rows[:limit]],
        next_offset=offset + limit if len(rows) > limit else None,
    )


@router.get("/v1/consents/{consent_id}", response_model=ConsentOut, responses=_ERRORS)
def consent_status(
    context: Annotated[HubContext, Depends(ctx)],
    party: Annotated[Party, Depends(current_party)],
    consent_id: Annotated[str, Path(max_length=64)],
) -> ConsentOut:
    """Status of one of the calling third party's consents."""
    client_id = _third_party(party)
    consent = consent_store(context).get(consent_id)
    if consent is None or consent.client_id != client_id:
        raise _error(404, "unknown_consent", "no such consent of this client")
    return consent_out(consent, context.clock.timestamp())


# -- customers -------------------------------------------------------------------------------
def current_customer(
    context: Annotated[HubContext, Depends(ctx)],
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> str:
    address, now_s = client_address(request), context.clock.timestamp()
    enforce_anonymous(context.rate_limits, address, now_s)  # before any lookup
    basic = _basic(authorization)
    if basic is None:
        raise unauthenticated(
            context.rate_limits,
            address,
            now_s,
            {"code": "unauthenticated", "message": "customer login (HTTP Basic) required"},
            CUSTOMER_REALM,
        )
    enforce_token_requests(context.rate_limits, address, now_s)
    if not authenticate_customer(context, *basic):
        raise unauthenticated(
            context.rate_limits,
            address,
            now_s,
            {"code": "unauthenticated", "message": "wrong customer id or password"},
            CUSTOMER_REALM,
        )
    set_actor(request, f"customer:{basic[0]}")
    return basic[0]


@router.get("/v1/customer/consents", response_model=list[ConsentOut], responses=_ERRORS)
def customer_consents(
    context: Annotated[HubContext, Depends(ctx)],
    customer_id: Annotated[str, Depends(current_customer)],
) -> list[ConsentOut]:
    """Every consent the logged-in customer approved or denied."""
    now_s = context.clock.timestamp()
    return [consent_out(c, now_s) for c in consent_store(context).of_customer(customer_id)]


@router.post(
    "/v1/customer/consents/{consent_id}/revoke", response_model=ConsentOut, responses=_ERRORS
)
def revoke_consent(
    context: Annotated[HubContext, Depends(ctx)],
    _: Annotated[None, Depends(customer_action)],
    customer_id: Annotated[str, Depends(current_customer)],
    consent_id: Annotated[str, Path(max_length=64)],
) -> ConsentOut:
    """Withdraw an active consent: the recipient's next request is refused. Needs the header
    ``X-Requested-With`` (any value) and refuses cross-site browser requests (CSRF)."""
    store = consent_store(context)
    now_s = context.clock.timestamp()
    consent = store.get(consent_id)
    if consent is None or consent.customer_id != customer_id:
        raise _error(404, "unknown_consent", "no such consent of this customer")
    if not store.revoke(consent_id, customer_id, now_s):
        raise _error(409, "not_active", f"the consent is {consent.effective_status(now_s)}")
    revoked = store.get(consent_id)
    assert revoked is not None
    record_consent(context, f"customer:{customer_id}", "revoked", revoked)
    return consent_out(revoked, now_s)
