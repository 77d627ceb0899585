"""HTTP API of work orders, for the dashboard's operators (issue #17 §2).

- ``GET /v1/work-orders?state=``: orders (newest IDs last), ``GET /v1/work-orders/{id}``
  one order with its steps, ``GET /v1/work-orders/lead-times``: backlog and lead times;
- ``POST /v1/work-orders``: create (kind, supply point, note, fault ticket);
- ``POST /v1/work-orders/{id}/assign`` | ``/cancel`` | ``/complete``: the next step.

Authentication is the operator's login session (the dashboard's cookie); API clients'
bearer tokens (retailers, third parties) are not operators: ``401``. Reading needs the
``view-personal`` permission (orders name supply points), acting the ``act`` permission
(operator, approver, admin), else ``403``. Every POST must carry the session's CSRF token in
the ``X-CSRF-Token`` header and be same-site. Refusals answer ``{code, message}`` with
404/409/422 (:class:`openami.hub.work_orders.WorkOrderError`); every step is audited.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from openami.clock import JST
from openami.hub.api import ApiError
from openami.hub.audit import AuditedRoute
from openami.hub.csrf import csrf_refused, same_site
from openami.hub.faults import fault_tickets_of
from openami.hub.operators import ACT, VIEW_PERSONAL, Operator
from openami.hub.work_orders import (
    KINDS,
    Completion,
    WorkOrderError,
    WorkOrderRow,
    work_orders_of,
)
from openami.web.auth import current_session
from openami.web.common import hub

router = APIRouter(route_class=AuditedRoute, tags=["work orders"])  # requests audited
CSRF_HEADER = "X-CSRF-Token"
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ApiError} for s in (401, 403, 404, 409, 422)
}
OrderId = Annotated[int, Path(ge=1, le=2**62)]


def _when(epoch_s: float | None) -> str | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, JST).isoformat()


def _allowed(request: Request, permission: str) -> Operator:
    session = current_session(request)
    if session is None:
        raise HTTPException(
            401,
            {"code": "unauthenticated", "message": "log in at /login (operator session)"},
        )
    if not session.operator.can(permission):
        raise HTTPException(
            403, {"code": "forbidden", "message": f"the role {session.operator.role!r} may not"}
        )
    return session.operator


def reader(request: Request) -> Operator:
    return _allowed(request, VIEW_PERSONAL)


def actor(
    request: Request, x_csrf_token: Annotated[str | None, Header(max_length=256)] = None
) -> Operator:
    who = _allowed(request, ACT)
    session = current_session(request)
    assert session is not None  # _allowed passed
    if not same_site(request):
        raise csrf_refused("cross-site requests may not change anything")
    if not x_csrf_token or not hmac.compare_digest(
        x_csrf_token.encode(), session.csrf_token.encode()
    ):
        raise csrf_refused(f"the {CSRF_HEADER} header is missing or wrong")
    return who


Reader = Annotated[Operator, Depends(reader)]
Actor = Annotated[Operator, Depends(actor)]


class WorkOrderOut(BaseModel):
    work_order_id: int
    kind: str
    state: str
    supply_point_id: str
    old_meter_id: int | None
    new_meter_id: int | None
    requested_at: str | None
    target_days: int
    assigned_to: str | None
    completed_at: str | None
    old_final_import_wh: int | None
    new_initial_import_wh: int | None
    fault_ticket_id: int | None
    note: str
    steps: list[dict[str, Any]] = Field(default_factory=list)


class CreateIn(BaseModel):
    kind: Literal["install", "exchange", "repair", "removal"]
    supply_point_id: str = Field(min_length=22, max_length=22, pattern=r"^\d{22}$")
    note: str = Field(default="", max_length=500)
    fault_ticket_id: int | None = Field(default=None, ge=1)


class AssignIn(BaseModel):
    assignee: str = Field(min_length=1, max_length=64)


class CompleteIn(BaseModel):
    completed_at: datetime = Field(description="ISO 8601 with offset; the work's instant")
    new_meter_id: int | None = Field(default=None, ge=1, le=2**62)
    old_final_import_wh: int | None = Field(default=None, ge=0, le=2**53)
    new_initial_import_wh: int | None = Field(default=None, ge=0, le=2**53)


class LeadTimeOut(BaseModel):
    kind: str
    open_orders: int
    completed: int
    mean_lead_days: float | None
    within_target: int
    target_days: int


def _out(row: WorkOrderRow, steps: list[dict[str, Any]] | None = None) -> WorkOrderOut:
    values = dict(row.__dict__)
    values["requested_at"] = _when(row.requested_at)
    values["completed_at"] = _when(row.completed_at)
    return WorkOrderOut(**values, steps=steps or [])


def _refused(exc: WorkOrderError) -> HTTPException:
    return HTTPException(exc.http_status, {"code": exc.code, "message": exc.message})


@router.get("/v1/work-orders", response_model=list[WorkOrderOut], responses=_ERRORS)
def list_orders(
    request: Request,
    who: Reader,
    state: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[WorkOrderOut]:
    try:
        return [_out(r) for r in work_orders_of(hub(request)).listing(state, limit)]
    except WorkOrderError as exc:
        raise _refused(exc) from None


@router.get("/v1/work-orders/lead-times", response_model=list[LeadTimeOut], responses=_ERRORS)
def lead_times(request: Request, who: Reader) -> list[LeadTimeOut]:
    return [LeadTimeOut(**t.__dict__) for t in work_orders_of(hub(request)).lead_times()]


@router.get("/v1/work-orders/{work_order_id}", response_model=WorkOrderOut, responses=_ERRORS)
def get_order(request: Request, who: Reader, work_order_id: OrderId) -> WorkOrderOut:
    service = work_orders_of(hub(request))
    try:
        row = service.get(work_order_id)
    except WorkOrderError as exc:
        raise _refused(exc) from None
    steps = [
        {"state": s.state, "at": _when(s.at), "by": s.actor} for s in service.steps(work_order_id)
    ]
    return _out(row, steps)


@router.post("/v1/work-orders", response_model=WorkOrderOut, status_code=201, responses=_ERRORS)
def create(request: Request, who: Actor, body: CreateIn) -> WorkOrderOut:
    service = work_orders_of(hub(request))
    try:
        row = service.create(
            body.kind, body.supply_point_id, who.name, who.role, body.note, body.fault_ticket_id
        )
    except WorkOrderError as exc:
        raise _refused(exc) from None
    return _out(row)


@router.post(
    "/v1/work-orders/{work_order_id}/assign", response_model=WorkOrderOut, responses=_ERRORS
)
def assign(request: Request, who: Actor, work_order_id: OrderId, body: AssignIn) -> WorkOrderOut:
    try:
        row = work_orders_of(hub(request)).assign(work_order_id, body.assignee, who.name, who.role)
    except WorkOrderError as exc:
        raise _refused(exc) from None
    return _out(row)


@router.post(
    "/v1/work-orders/{work_order_id}/cancel", response_model=WorkOrderOut, responses=_ERRORS
)
def cancel(request: Request, who: Actor, work_order_id: OrderId) -> WorkOrderOut:
    try:
        row = work_orders_of(hub(request)).cancel(work_order_id, who.name, who.role)
    except WorkOrderError as exc:
        raise _refused(exc) from None
    return _out(row)


@router.post(
    "/v1/work-orders/{work_order_id}/complete", response_model=WorkOrderOut, responses=_ERRORS
)
def complete(
    request: Request, who: Actor, work_order_id: OrderId, body: CompleteIn
) -> WorkOrderOut:
    if body.completed_at.tzinfo is None:
        raise HTTPException(422, {"code": "E_BAD_TIME", "message": "give a UTC offset"})
    done = Completion(
        body.completed_at.timestamp(),
        body.new_meter_id,
        body.old_final_import_wh,
        body.new_initial_import_wh,
    )
    try:
        row = work_orders_of(hub(request)).complete(work_order_id, done, who.name, who.role)
    except WorkOrderError as exc:
        raise _refused(exc) from None
    return _out(row)


__all__ = ["KINDS", "router"]


class FaultTicketOut(BaseModel):
    ticket_id: int
    meter_id: int
    cause: str
    source: str
    opened_at: str | None
    closed_at: str | None
    work_order_id: int | None


@router.get("/v1/fault-tickets", response_model=list[FaultTicketOut], responses=_ERRORS)
def fault_tickets(
    request: Request, who: Reader, open_only: Annotated[bool, Query()] = True
) -> list[FaultTicketOut]:
    """Fault tickets (open ones unless ``open_only=false``)."""
    rows = fault_tickets_of(hub(request)).tickets(open_only)
    return [
        FaultTicketOut(
            **{**t.__dict__, "opened_at": _when(t.opened_at), "closed_at": _when(t.closed_at)}
        )
        for t in rows
    ]


@router.post(
    "/v1/fault-tickets/{ticket_id}/repair",
    response_model=WorkOrderOut,
    status_code=201,
    responses=_ERRORS,
)
def repair(request: Request, who: Actor, ticket_id: OrderId) -> WorkOrderOut:
    """Spawn the repair work order of a fault ticket."""
    try:
        row = fault_tickets_of(hub(request)).spawn_repair(ticket_id, who.name, who.role)
    except WorkOrderError as exc:
        raise _refused(exc) from None
    return _out(row)
