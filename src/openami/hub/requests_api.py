"""HTTP API of retailer requests: ``/v1/retailer-requests`` (see :mod:`openami.hub.requests`).

A rejected request answers with its HTTP status and ``{code, message, request_id}``; the
record stays, so ``GET /v1/retailer-requests/{id}`` shows it as ``rejected`` too.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field

from openami.clock import JST
from openami.hub.api import ApiError, ctx, current_client
from openami.hub.audit import AuditedRoute
from openami.hub.context import HubContext
from openami.hub.requests import KINDS, Rejected, request_service
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
        description=f"one of {', '.join(KINDS)} (switching start, 再点, 廃止, アンペア変更)",
    )
    supply_point_id: str = Field(max_length=40, description="22-digit supply point ID")
    effective_date: date = Field(description="JST day the change takes effect (today or later)")
    amperage_a: int | None = Field(
        default=None, ge=0, le=10_000, description="new contract amperage [A] (ampere_change)"
    )


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
        description="received, accepted, scheduled, completed, failed, rejected, cancelled"
    )
    error_code: str | None
    error_message: str | None
    command_id: int | None = Field(description="HES correlation ID once scheduled")
    received_at: str
    updated_at: str
    history: list[StatusChange]


class RetailerRequestList(BaseModel):
    requests: list[RetailerRequestOut]


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, JST).isoformat()


def _out(context: HubContext, row: RequestRow, with_history: bool = True) -> RetailerRequestOut:
    history = request_service(context).store.history(row.request_id) if with_history else []
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
    """File a switching start, reconnect, disconnect or ampere change request.

    Error codes: E_NOT_RETAILER, E_NOT_SUPPLIER, E_UNKNOWN_SUPPLY_POINT,
    E_INVALID_SUPPLY_POINT, E_UNKNOWN_KIND, E_DATE_IN_PAST, E_DATE_TOO_FAR,
    E_AMPERAGE_REQUIRED, E_UNSUPPORTED_AMPERAGE, E_CONFLICTING_REQUEST,
    E_CONFLICTING_CONTRACT, E_ALREADY_SUPPLIER, E_SUPPLIED_BY_OTHER, E_NOT_CONNECTED,
    E_ALREADY_CONNECTED, E_ALREADY_DISCONNECTED, E_AMPERAGE_UNCHANGED, E_NO_METER.
    """
    service = request_service(context)
    try:
        row = service.submit(
            client, body.kind, body.supply_point_id, body.effective_date, body.amperage_a
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
    if row is None or row.client_id != client.client_id:
        raise HTTPException(
            status_code=404,
            detail={"code": "E_UNKNOWN_REQUEST", "message": f"no request {request_id}"},
        )
    return _out(context, row)
