"""HTTP API of the B-route service (電力メーター情報発信サービス) applications.

Retailers (bearer token, role ``retailer``) for the points they supply today, and customers
(HTTP Basic with their customer id and password, as for consents) for the points they hold,
call the same paths; the ``Authorization`` scheme says which:

- ``POST /v1/broute-applications`` ``{"supply_point_id": …}``: apply (201, status
  ``issued``: the ID and password are issued at once and provisioned to the meter by the
  HES; then ``provisioned`` and ``notified``);
- ``GET /v1/broute-applications`` and ``GET /v1/broute-applications/{id}``: status;
- ``POST /v1/broute-applications/{id}/revoke`` and ``…/rotate``;
- ``POST /v1/broute-applications/{id}/credentials``: customers only, once per issued
  pair, after provisioning: the B-route ID and the password (``Cache-Control: no-store``).

Customers' state-changing calls need ``X-Requested-With`` and refuse cross-site requests
(:func:`openami.hub.csrf.customer_action`). Writes have a budget of their own per applicant
(:data:`WRITE_RATE_PER_S`, :data:`WRITE_BURST`). Error codes: docs/broute-service.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from openami.clock import JST
from openami.hub.api import ApiError, client_of, ctx
from openami.hub.audit import AuditedRoute
from openami.hub.broute_applications import Applicant, BrouteRefused, broute_service
from openami.hub.consent_api import current_customer
from openami.hub.context import HubContext
from openami.hub.csrf import customer_action
from openami.hub.errors import api_error
from openami.hub.ratelimit import RateLimiter, enforce
from openami.storage.repositories.broute_apps import BrouteApplication

router = APIRouter(route_class=AuditedRoute, tags=["broute"])
Ctx = Annotated[HubContext, Depends(ctx)]
AppId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]
WRITE_RATE_PER_S = 10 / 3600.0  # ten writes an hour per applicant …
WRITE_BURST = 5.0  # … after five at once
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ApiError} for s in (401, 403, 404, 409, 422, 429)
}


class ApplicationIn(BaseModel):
    supply_point_id: str = Field(min_length=22, max_length=22, pattern=r"^[0-9]{22}$")


class ApplicationOut(BaseModel):
    application_id: str
    supply_point_id: str
    status: str = Field(description="applied, issued, provisioned, notified, failed, revoked")
    reason: str | None
    applicant: str
    credential_version: int
    broute_id: str | None = Field(description="the B-route ID; shown to the customer only")
    created_at: str
    issued_at: str | None
    provisioned_at: str | None
    notified_at: str | None
    revoked_at: str | None
    password_shown: bool


class CredentialsOut(BaseModel):
    application_id: str
    broute_id: str
    password: str
    credential_version: int
    note: str = "shown once: keep it in the HEMS; rotate the application for a new one"


def _iso(epoch_s: float | None) -> str | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, JST).isoformat()


def application_out(context: HubContext, app: BrouteApplication, customer: bool) -> ApplicationOut:
    sp = context.registry.supply_point_ids([app.supply_point_key])[0]
    return ApplicationOut(
        application_id=app.application_id,
        supply_point_id=sp,
        status=app.status,
        reason=app.reason,
        applicant=app.applicant.partition(":")[0],
        credential_version=app.credential_version,
        broute_id=app.rbid if customer else None,
        created_at=str(_iso(app.created_at)),
        issued_at=_iso(app.issued_at),
        provisioned_at=_iso(app.provisioned_at),
        notified_at=_iso(app.notified_at),
        revoked_at=_iso(app.revoked_at),
        password_shown=app.shown_at is not None,
    )


def applicant(
    context: Ctx,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> Applicant:
    """A retailer (Bearer) or a customer (Basic; CSRF-checked on writes)."""
    if authorization is not None and authorization.lower().startswith("basic "):
        customer_id = current_customer(context, request, authorization)
        if request.method != "GET":
            customer_action(request)
        return Applicant(customer_id=customer_id)
    client = client_of(context, request, authorization)
    if client.role != "retailer":
        raise api_error(403, "E_NOT_RETAILER", "retailers or customers apply for the B route")
    return Applicant(retailer_id=client.party_id)


Who = Annotated[Applicant, Depends(applicant)]


def write_budget(context: HubContext, who: Applicant) -> None:
    if context.rate_limits is None:
        return
    limiter = context.services.get("broute-writes")
    if not isinstance(limiter, RateLimiter):
        limiter = RateLimiter(rate_per_s=WRITE_RATE_PER_S, burst=WRITE_BURST)
        context.services["broute-writes"] = limiter
    enforce(limiter, who.label, context.clock.timestamp())


def _refused(exc: BrouteRefused) -> HTTPException:
    return api_error(exc.status, exc.code, str(exc))


def _apply(context: HubContext, who: Applicant, body: ApplicationIn) -> JSONResponse:
    write_budget(context, who)
    try:
        app = broute_service(context).apply(who, body.supply_point_id)
    except BrouteRefused as exc:
        raise _refused(exc) from None
    out = application_out(context, app, who.customer_id is not None)
    return JSONResponse(
        out.model_dump(),
        status_code=201,
        headers={"Location": f"/v1/broute-applications/{app.application_id}"},
    )


@router.post(
    "/v1/broute-applications", status_code=201, response_model=ApplicationOut, responses=_ERRORS
)
async def apply_for_broute(context: Ctx, who: Who, body: ApplicationIn) -> JSONResponse:
    """Apply for a supply point's B-route service. Error codes: E_UNKNOWN_SUPPLY_POINT (404:
    not a point you supply or hold), E_BROUTE_NOT_OPEN (409: before the area's service start),
    E_ALREADY_APPLIED, E_NO_METER, E_NOT_SMART_METER (409), E_NOT_RETAILER (403)."""
    return await run_in_threadpool(_apply, context, who, body)


def _list(context: HubContext, who: Applicant) -> list[ApplicationOut]:
    apps = broute_service(context).applications(who)
    return [application_out(context, a, who.customer_id is not None) for a in apps]


@router.get("/v1/broute-applications", response_model=list[ApplicationOut], responses=_ERRORS)
async def list_broute_applications(context: Ctx, who: Who) -> list[ApplicationOut]:
    """Your applications, oldest first."""
    return await run_in_threadpool(_list, context, who)


def _one(context: HubContext, who: Applicant, app_id: str, action: str) -> ApplicationOut:
    service = broute_service(context)
    if action != "status":
        write_budget(context, who)
    try:
        if action == "revoke":
            app = service.revoke(who, app_id)
        elif action == "rotate":
            app = service.rotate(who, app_id)
        else:
            app = service.status(who, app_id)
    except BrouteRefused as exc:
        raise _refused(exc) from None
    return application_out(context, app, who.customer_id is not None)


@router.get(
    "/v1/broute-applications/{application_id}", response_model=ApplicationOut, responses=_ERRORS
)
async def broute_application(context: Ctx, who: Who, application_id: AppId) -> ApplicationOut:
    """One of your applications (404 E_UNKNOWN_APPLICATION for anyone else's)."""
    return await run_in_threadpool(_one, context, who, application_id, "status")


@router.post(
    "/v1/broute-applications/{application_id}/revoke",
    response_model=ApplicationOut,
    responses=_ERRORS,
)
async def revoke_broute(context: Ctx, who: Who, application_id: AppId) -> ApplicationOut:
    """Stop the service: the password stops working once the meter has cleared it.
    Error codes: E_UNKNOWN_APPLICATION (404), E_NOT_LIVE (409)."""
    return await run_in_threadpool(_one, context, who, application_id, "revoke")


@router.post(
    "/v1/broute-applications/{application_id}/rotate",
    response_model=ApplicationOut,
    responses=_ERRORS,
)
async def rotate_broute(context: Ctx, who: Who, application_id: AppId) -> ApplicationOut:
    """Issue a new ID and password and provision them (the old pair works until then)."""
    return await run_in_threadpool(_one, context, who, application_id, "rotate")


def _credentials(context: HubContext, who: Applicant, app_id: str) -> JSONResponse:
    if who.customer_id is None:
        raise api_error(403, "E_CUSTOMERS_ONLY", "only the customer sees the password")
    write_budget(context, who)
    try:
        app, password = broute_service(context).take_password(who.customer_id, app_id)
    except BrouteRefused as exc:
        raise _refused(exc) from None
    out = CredentialsOut(
        application_id=app.application_id,
        broute_id=str(app.rbid),
        password=password,
        credential_version=app.credential_version,
    )
    return JSONResponse(out.model_dump(), headers={"Cache-Control": "no-store"})


@router.post(
    "/v1/broute-applications/{application_id}/credentials",
    response_model=CredentialsOut,
    responses=_ERRORS,
)
async def broute_credentials(context: Ctx, who: Who, application_id: AppId) -> JSONResponse:
    """The customer's one view of the B-route ID and password, after provisioning.
    Error codes: E_CUSTOMERS_ONLY (403), E_NOT_PROVISIONED, E_ALREADY_SHOWN (409)."""
    return await run_in_threadpool(_credentials, context, who, application_id)
