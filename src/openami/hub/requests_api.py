"""HTTP API of retailer requests: ``/v1/retailer-requests`` (see :mod:`openami.hub.requests`).

A rejected request answers with its HTTP status and ``{code, message, request_id}``; the
record stays, so ``GET /v1/retailer-requests/{id}`` shows it as ``rejected`` too.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field

from openami.bus.messages import SUPPLY_PLANS
from openami.clock import JST
from openami.hub.api import ApiError, ctx, current_client
from openami.hub.audit import AuditedRoute
from openami.hub.consent_api import current_customer
from openami.hub.context import HubContext
from openami.hub.csrf import customer_action
from openami.hub.requests import KINDS, Rejected, request_service
from openami.hub.switching import switching_control
from openami.storage.repositories.clients import ApiClient
from openami.storage.repositories.requests import RequestRow

router = APIRouter(route_class=AuditedRoute, tags=["retailer requests"])

Ctx = Annotated[HubContext, Depends(ctx)]
Client = Annotated[ApiClient, Depends(current_client)]
_ERRORS: dict[int | str, dict[str, object]] = {
    s: {"model": ApiError} for s in (401, 403, 404, 409, 422, 429)
}


class RetailerRequestIn(BaseModel):
    kind: str = Field(
        max_length=40,
        description=f"one of {', '.join(KINDS)} (switching start, 再点, 廃止, アンペア変更, "
        "供給停止, 停止解除, 随時検針, 入居, 退去, 契約変更)",
    )
    supply_point_id: str = Field(max_length=40, description="22-digit supply point ID")
    effective_date: date = Field(description="JST day the change takes effect (today or later)")
    amperage_a: int | None = Field(
        default=None,
        ge=0,
        le=10_000,
        description="new contract amperage [A] (ampere_change, contract_change)",
    )
    contract_kw: float | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="contract_change of a high-voltage point: contract demand [kW], "
        "a whole number from 50 to below 2000",
    )
    supply_plan: str | None = Field(
        default=None,
        max_length=40,
        description=f"contract_change: the supply plan whose time-of-use bands the meter "
        f"keeps, one of {', '.join(SUPPLY_PLANS)}",
    )
    authorisation_id: str | None = Field(
        default=None,
        max_length=64,
        description="the id of the customer's authorisation: switch_start, a reconnect or "
        "move_in that starts a contract, a move_out without notice",
    )


class ObjectionIn(BaseModel):
    reason: str = Field(min_length=1, max_length=300)


class SwitchAuthorisationIn(BaseModel):
    retailer_id: str = Field(max_length=40, description="the retailer that takes over")
    supply_point_id: str = Field(max_length=40, description="22-digit supply point ID")
    effective_date: date = Field(description="JST day the switch takes effect")


class SwitchAuthorisationOut(BaseModel):
    authorisation_id: str
    retailer_id: str
    supply_point_id: str
    effective_date: str
    expires_at: str
    used_by: str | None = None
    revoked_at: str | None = None


class StatusChange(BaseModel):
    status: str
    at: str = Field(description="ISO 8601, JST")
    error_code: str | None


class RetailerRequestOut(BaseModel):
    request_id: str
    kind: str
    supply_point_id: str
    effective_date: str
    amperage_a: int | None
    status: str = Field(
        description="received, accepted, held, scheduled, completed, failed, rejected, cancelled"
    )
    error_code: str | None
    error_message: str | None
    command_id: int | None = Field(description="HES correlation ID once scheduled")
    contract_kw: float | None = Field(default=None, description="contract_change: [kW]")
    supply_plan: str | None = Field(default=None, description="contract_change: the plan")
    result: dict[str, object] | None = Field(
        default=None,
        description="once completed: the registers read (import_register_wh, "
        "export_register_wh, read_at, meter_time), or the contract kW stored",
    )
    received_at: str
    updated_at: str
    history: list[StatusChange]


class RetailerRequestList(BaseModel):
    requests: list[RetailerRequestOut]


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, JST).isoformat()


def _out(context: HubContext, row: RequestRow, with_history: bool = True) -> RetailerRequestOut:
    history = request_service(context).store.history(row.request_id) if with_history else []
    detail = json.loads(row.detail) if row.detail else {}
    return RetailerRequestOut(
        request_id=row.request_id,
        kind=row.kind,
        supply_point_id=row.supply_point_id,
        effective_date=row.effective_date,
        amperage_a=row.amperage_a,
        status=row.status,
        error_code=row.error_code,
        error_message=row.error_message,
        command_id=row.correlation_id,
        contract_kw=detail.get("contract_kw"),
        supply_plan=detail.get("supply_plan"),
        result=json.loads(row.result) if row.result else None,
        received_at=_iso(row.received_at),
        updated_at=_iso(row.updated_at),
        history=[StatusChange(status=s, at=_iso(a), error_code=c) for s, a, c in history],
    )


@router.post(
    "/v1/retailer-requests",
    status_code=201,
    response_model=RetailerRequestOut,
    responses=_ERRORS,
)
def create_request(context: Ctx, client: Client, body: RetailerRequestIn) -> RetailerRequestOut:
    """File a switching start, reconnect, disconnect, ampere change, suspend, resume,
    on-demand read, move-in, move-out or contract change request.

    Error codes: E_NOT_RETAILER, E_NOT_SUPPLIER, E_UNKNOWN_SUPPLY_POINT,
    E_INVALID_SUPPLY_POINT, E_UNKNOWN_KIND, E_DATE_IN_PAST, E_DATE_TOO_FAR,
    E_AMPERAGE_REQUIRED, E_UNSUPPORTED_AMPERAGE, E_CONFLICTING_REQUEST,
    E_CONFLICTING_CONTRACT, E_ALREADY_SUPPLIER, E_SUPPLIED_BY_OTHER, E_NOT_CONNECTED,
    E_ALREADY_CONNECTED, E_ALREADY_DISCONNECTED, E_AMPERAGE_UNCHANGED, E_NO_METER,
    E_NO_AUTHORISATION (a switch_start without the customer's authorisation),
    E_EFFECTIVE_TOO_SOON (a switch inside the objection window), E_NOTICE_TOO_SHORT (a
    disconnect or suspend inside the notice period), E_ALREADY_SUSPENDED, E_NOT_SUSPENDED,
    E_CHANGE_REQUIRED, E_ONE_CHANGE_PER_REQUEST, E_INVALID_CONTRACT_KW,
    E_UNKNOWN_SUPPLY_PLAN. A request that fails later: E_METER_UNREACHABLE,
    E_METER_TIMEOUT, E_READBACK_MISMATCH, E_NO_METER, E_COMMAND_REFUSED.
    """
    service = request_service(context)
    try:
        row = service.submit(
            client,
            body.kind,
            body.supply_point_id,
            body.effective_date,
            body.amperage_a,
            body.authorisation_id,
            {
                k: v
                for k, v in (("contract_kw", body.contract_kw), ("supply_plan", body.supply_plan))
                if v is not None
            },
        )
    except Rejected as exc:
        raise HTTPException(
            status_code=exc.http_status,
            detail={
                "code": exc.code,
                "message": exc.message,
                "request_id": exc.request_id,
            },
        ) from None
    return _out(context, row)


@router.post(
    "/v1/retailer-requests/{request_id}/cancel",
    response_model=RetailerRequestOut,
    responses=_ERRORS,
)
def cancel_request(
    context: Ctx, client: Client, request_id: Annotated[str, Path(max_length=64)]
) -> RetailerRequestOut:
    """Withdraw an accepted request before its effective date (取消); its registry change
    is taken back. Error codes: E_UNKNOWN_REQUEST (404), E_NOT_CANCELLABLE (409: already
    scheduled, completed, failed, rejected or cancelled)."""
    try:
        row = request_service(context).cancel(client, request_id)
    except Rejected as exc:
        raise HTTPException(
            status_code=404 if exc.code == "E_UNKNOWN_REQUEST" else 409,
            detail={"code": exc.code, "message": exc.message},
        ) from None
    return _out(context, row)


@router.get("/v1/retailer-requests", response_model=RetailerRequestList, responses=_ERRORS)
def list_requests(
    context: Ctx,
    client: Client,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> RetailerRequestList:
    """This client's requests, oldest first (without their histories)."""
    rows = request_service(context).store.requests_of(client.client_id, limit, offset)
    return RetailerRequestList(requests=[_out(context, r, with_history=False) for r in rows])


@router.get(
    "/v1/retailer-requests/{request_id}", response_model=RetailerRequestOut, responses=_ERRORS
)
def get_request(
    context: Ctx, client: Client, request_id: Annotated[str, Path(max_length=64)]
) -> RetailerRequestOut:
    """One request with its status history."""
    row = request_service(context).store.request(request_id)
    if row is not None and row.client_id != client.client_id:
        controls = switching_control(context).store.controls(request_id)
        losing = controls.losing_retailer_id if controls is not None else None
        if client.role != "retailer" or losing != client.party_id:
            row = None  # the losing retailer of a switch sees it too
    if row is None:
        raise HTTPException(
            status_code=404,
            detail={"code": "E_UNKNOWN_REQUEST", "message": f"no request {request_id}"},
        )
    return _out(context, row)


@router.post(
    "/v1/retailer-requests/{request_id}/object",
    response_model=RetailerRequestOut,
    responses=_ERRORS,
)
def object_to_switch(
    context: Ctx,
    client: Client,
    request_id: Annotated[str, Path(max_length=64)],
    body: ObjectionIn,
) -> RetailerRequestOut:
    """The losing retailer objects to a switch within its objection window (notified by the
    webhook event ``switch.pending``): the switch is rejected with E_OBJECTED. Error codes:
    E_UNKNOWN_REQUEST (404), E_OBJECTION_CLOSED (409)."""
    try:
        row = request_service(context).object(client, request_id, body.reason)
    except Rejected as exc:
        raise HTTPException(
            status_code=exc.http_status, detail={"code": exc.code, "message": exc.message}
        ) from None
    return _out(context, row)


@router.post(
    "/v1/customer/switch-authorisations",
    status_code=201,
    response_model=SwitchAuthorisationOut,
    responses=_ERRORS,
)
def authorise_switch(
    context: Ctx,
    _: Annotated[None, Depends(customer_action)],
    customer_id: Annotated[str, Depends(current_customer)],
    body: SwitchAuthorisationIn,
) -> SwitchAuthorisationOut:
    """The logged-in customer authorises a retailer to take over one of their supply points
    from a JST day; the retailer quotes the id in its ``switch_start``. Needs the header
    ``X-Requested-With`` and refuses cross-site browser requests (CSRF). Error codes:
    E_NOT_CUSTOMERS_POINT (403), E_UNKNOWN_RETAILER, E_INVALID_SUPPLY_POINT,
    E_EFFECTIVE_TOO_SOON (422)."""
    try:
        auth = switching_control(context).authorise(
            customer_id, body.retailer_id, body.supply_point_id, body.effective_date
        )
    except Rejected as exc:
        raise HTTPException(
            status_code=exc.http_status, detail={"code": exc.code, "message": exc.message}
        ) from None
    return SwitchAuthorisationOut(
        authorisation_id=auth.authorisation_id,
        retailer_id=auth.retailer_id,
        supply_point_id=body.supply_point_id,
        effective_date=auth.effective_date,
        expires_at=_iso(auth.expires_at),
    )


@router.get(
    "/v1/customer/switch-authorisations",
    response_model=list[SwitchAuthorisationOut],
    responses=_ERRORS,
)
def customer_switch_authorisations(
    context: Ctx, customer_id: Annotated[str, Depends(current_customer)]
) -> list[SwitchAuthorisationOut]:
    """The logged-in customer's switch authorisations (``used_by``: the request that used
    it; ``revoked_at`` once withdrawn)."""
    control = switching_control(context)
    ids = context.registry.supply_point_id_map(
        sorted({a.supply_point_key for a in control.store.authorisations_of(customer_id)})
    )
    return [
        SwitchAuthorisationOut(
            authorisation_id=a.authorisation_id,
            retailer_id=a.retailer_id,
            supply_point_id=ids.get(a.supply_point_key, ""),
            effective_date=a.effective_date,
            expires_at=_iso(a.expires_at),
            used_by=a.used_by,
            revoked_at=_iso(a.revoked_at) if a.revoked_at is not None else None,
        )
        for a in control.store.authorisations_of(customer_id)
    ]


@router.post(
    "/v1/customer/switch-authorisations/{authorisation_id}/revoke",
    status_code=204,
    responses=_ERRORS,
)
def revoke_switch_authorisation(
    context: Ctx,
    _: Annotated[None, Depends(customer_action)],
    customer_id: Annotated[str, Depends(current_customer)],
    authorisation_id: Annotated[str, Path(max_length=64)],
) -> None:
    """Withdraw an authorisation no request has used yet (404 otherwise: unknown, not this
    customer's, used or revoked). CSRF-protected as the other customer actions."""
    control = switching_control(context)
    if not control.store.revoke_authorisation(
        authorisation_id, customer_id, context.clock.timestamp()
    ):
        raise HTTPException(
            status_code=404,
            detail={"code": "E_UNKNOWN_AUTHORISATION", "message": "no revocable authorisation"},
        )
