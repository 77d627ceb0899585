"""HTTP API of meter operators (third parties running their own meters, type (i)).

- ``POST /v1/meter-operator/commands/{correlation_id}/outcome``: the operator's answer to
  a remote command sent to its endpoint (:mod:`openami.hub.operator_commands`);
- ``POST /v1/meter-operator/readings``: half-hour register reads in the standard format
  (JSON or CSV, :mod:`openami.mdms.operator_readings`); accepted rows enter the MDMS ingest
  and VEE as A-route reads do (published on ``hes.readings``; the HES is bypassed), refused
  rows come back with their row number, code and reason.

Only API clients with the role ``meter_operator`` call it, each for the type (i) meters its
party owns (``party_id``): any other client gets ``403 E_NOT_METER_OPERATOR``; rows of
another operator's or an unknown supply point are refused as ``E_NOT_YOUR_METER``.
Requests are authenticated, rate limited and audit-logged like every C-route request.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from openami.bus.messages import TOPIC_READINGS
from openami.hub.api import ApiError, ctx, current_client
from openami.hub.audit import AuditedRoute
from openami.hub.context import HubContext
from openami.hub.errors import api_error as _error
from openami.hub.errors import capped_body
from openami.hub.operator_commands import OperatorRoutedPort
from openami.hub.third_party_services import third_party_meters
from openami.mdms.operator_readings import (
    DEADLINE_S,
    SubmissionRejected,
    check_rows,
    parse_body,
)
from openami.storage.repositories.clients import ApiClient

router = APIRouter(route_class=AuditedRoute, tags=["meter operators"])
ROLE = "meter_operator"  # API clients whose party_id is a meter operator
MAX_BODY_BYTES = 1 << 20  # the hub's request limit: about 7,000 JSON or 17,000 CSV reads
Ctx = Annotated[HubContext, Depends(ctx)]
Client = Annotated[ApiClient, Depends(current_client)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ApiError} for s in (401, 403, 413, 415, 422, 429)
}
_BUILD_LOCK = threading.Lock()


class RowRejectionOut(BaseModel):
    row: int = Field(description="1 = the first read of the body")
    code: str
    message: str


class SubmissionOut(BaseModel):
    accepted: int
    late: int = Field(description=f"accepted reads received over {DEADLINE_S:.0f} s late")
    rejected: list[RowRejectionOut]


def _submit(context: HubContext, client: ApiClient, body: bytes, ctype: str) -> SubmissionOut:
    if client.role != ROLE:
        raise _error(403, "E_NOT_METER_OPERATOR", "only meter operator clients")
    try:
        rows = parse_body(body, ctype)
    except SubmissionRejected as exc:
        raise _error(exc.status, exc.code, exc.message) from None
    service = third_party_meters(context)
    registry = context.registry

    def meter_of(supply_point_id: str) -> int | None:
        key = registry.supply_point_key_of([supply_point_id]).get(supply_point_id)
        return None if key is None else registry.current_meter(key)

    def operator_of(meter_id: int, day: date) -> str | None:
        row = service.type_of(meter_id, day)
        return row.owner_party_id if row is not None and row.installation_type == "i" else None

    checked = check_rows(rows, client.party_id, context.clock.timestamp(), meter_of, operator_of)
    if checked.reads.num_rows:
        if context.bus is not None:
            context.bus.publish(TOPIC_READINGS, checked.reads)
        else:
            context.mdms.ingest(checked.reads)
    out = SubmissionOut(
        accepted=checked.reads.num_rows,
        late=checked.late,
        rejected=[
            RowRejectionOut(row=r.row, code=r.code, message=r.message) for r in checked.rejected
        ],
    )
    if not checked.reads.num_rows:
        raise HTTPException(
            status_code=422,
            detail={
                "code": "E_NO_READ_ACCEPTED",
                "message": "every read was refused",
                "rejected": [r.model_dump() for r in out.rejected[:100]],
            },
        )
    return out


@router.post(
    "/v1/meter-operator/readings",
    response_model=SubmissionOut,
    responses=_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
async def post_readings(context: Ctx, client: Client, request: Request) -> SubmissionOut:
    """Submit half-hour register reads of the operator's type (i) meters: JSON
    ``{"reads": [{"supply_point_id", "read_at", "import_register_wh", "export_register_wh"}]}``
    or CSV with that header; ``read_at`` a :00/:30 instant with its UTC offset.

    Answer: the reads accepted, how many of them arrived after the deadline (30 min after
    their instant) and each refused row with its code: E_NOT_YOUR_METER, E_BAD_INSTANT,
    E_FUTURE, E_TOO_LATE (over 48 h), E_BAD_VALUE, E_DUPLICATE, E_REGISTER_DECREASE.
    Whole-body errors: E_NOT_METER_OPERATOR (403), body_too_large (413),
    E_UNSUPPORTED_MEDIA_TYPE (415), E_BAD_BODY, E_EMPTY, E_TOO_MANY_ROWS and
    E_NO_READ_ACCEPTED (422)."""
    body = await capped_body(request, MAX_BODY_BYTES, "a submission")
    ctype = request.headers.get("content-type", "")
    return await run_in_threadpool(_submit, context, client, body, ctype)


class OutcomeIn(BaseModel):
    state: Literal["confirmed", "failed"] = Field(
        description="confirmed: the meter's switch/limiter is as commanded; failed: it is not"
    )


class OutcomeOut(BaseModel):
    correlation_id: int
    state: str


def routed_port(context: HubContext) -> OperatorRoutedPort:
    """The wired port when it routes to operators, else one made for concluding commands."""
    if isinstance(context.command_port, OperatorRoutedPort):
        return context.command_port
    with _BUILD_LOCK:
        found = context.services.get("operator_port")
        if not isinstance(found, OperatorRoutedPort):
            found = OperatorRoutedPort(context.command_port, context)
            context.services["operator_port"] = found
        return found


def _outcome(
    context: HubContext, client: ApiClient, correlation_id: int, outcome: OutcomeIn
) -> OutcomeOut:
    if client.role != ROLE:
        raise _error(403, "E_NOT_METER_OPERATOR", "only meter operator clients")
    port = routed_port(context)
    command = port.commands.get(correlation_id)
    if command is None or command.operator_party_id != client.party_id:
        raise _error(404, "E_UNKNOWN_COMMAND", "no such command of this operator")
    if not port.conclude(command, outcome.state == "confirmed", context.clock.timestamp()):
        raise _error(409, "E_ALREADY_CONCLUDED", "the command has its outcome already")
    return OutcomeOut(correlation_id=correlation_id, state=outcome.state)


@router.post(
    "/v1/meter-operator/commands/{correlation_id}/outcome",
    response_model=OutcomeOut,
    responses={s: {"model": ApiError} for s in (401, 403, 404, 409, 422, 429)},
)
async def post_outcome(
    context: Ctx,
    client: Client,
    outcome: OutcomeIn,
    correlation_id: Annotated[int, Path(ge=0, le=2**62)],
) -> OutcomeOut:
    """Report the outcome of a remote command sent to the operator's endpoint (event
    ``meter.command``): ``{"state": "confirmed"}`` or ``{"state": "failed"}``, once.
    It completes or fails the retailer's request as a read-back of the HES would. A command
    not answered by its ``respond_by`` times out.

    Error codes: E_NOT_METER_OPERATOR (403), E_UNKNOWN_COMMAND (404, also another
    operator's), E_ALREADY_CONCLUDED (409)."""
    return await run_in_threadpool(_outcome, context, client, correlation_id, outcome)
