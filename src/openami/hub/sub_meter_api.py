"""HTTP API of sub-meters (type (i)-2: a third-party meter beside the utility's).

- ``POST /v1/meter-operator/sub-meters/{meter_id}/reads``: the owner stores register reads;
- ``GET /v1/meter-operator/sub-meters/{meter_id}/reads?date=``: the owner reads a JST day;
- ``GET /v1/customer/sub-meters/{meter_id}/reads?date=``: the customer holding the
  sub-meter's supply point reads it (customer login, as for consents).

Reads are kept apart from the interval store (:mod:`openami.registry.third_party`): no
billing determinant, settlement sum or C-route value ever includes them. Another party's
meter, or a meter that is not a sub-meter, is ``404 E_NOT_SUB_METER`` alike.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from openami.clock import JST, jst_day_start_s
from openami.hub.api import ApiError, ctx, current_client
from openami.hub.audit import AuditedRoute
from openami.hub.consent_api import current_customer
from openami.hub.context import HubContext
from openami.hub.errors import api_error as _error
from openami.hub.meter_operator_api import ROLE
from openami.hub.oauth_grants import consent_store
from openami.hub.third_party_services import third_party_meters
from openami.registry.third_party import ThirdPartyError
from openami.storage.repositories.clients import ApiClient

router = APIRouter(route_class=AuditedRoute, tags=["sub-meters"])
Ctx = Annotated[HubContext, Depends(ctx)]
Client = Annotated[ApiClient, Depends(current_client)]
MeterId = Annotated[int, Path(ge=0, le=2**62)]
MAX_READS = 2000
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ApiError} for s in (401, 403, 404, 409, 422, 429)
}


class SubMeterReadIn(BaseModel):
    read_at: datetime = Field(description="ISO 8601 with its UTC offset")
    import_register_wh: int = Field(ge=0, lt=10**15)


class SubMeterReadsIn(BaseModel):
    reads: list[SubMeterReadIn] = Field(min_length=1, max_length=MAX_READS)


class SubMeterReadOut(BaseModel):
    read_at: str
    import_register_wh: int


class SubMeterReadsOut(BaseModel):
    meter_id: int
    date: str
    note: str = "sub-meter (type i-2): never used for billing or settlement"
    reads: list[SubMeterReadOut]


class StoredOut(BaseModel):
    stored: int


def _refused(exc: ThirdPartyError) -> HTTPException:
    status = {"E_NOT_SUB_METER": 404, "E_CONFLICT": 409}.get(exc.code, 422)
    return _error(status, exc.code, str(exc))


def _operator(client: ApiClient) -> None:
    if client.role != ROLE:
        raise _error(403, "E_NOT_METER_OPERATOR", "only meter operator clients")


def _today(context: HubContext) -> date:
    return context.clock.now().astimezone(JST).date()


def _day_out(meter_id: int, day: date, table: Any) -> SubMeterReadsOut:
    at = table.column("read_at").to_pylist()
    wh = table.column("import_register_wh").to_pylist()
    return SubMeterReadsOut(
        meter_id=meter_id,
        date=day.isoformat(),
        reads=[
            SubMeterReadOut(
                read_at=datetime.fromtimestamp(a, JST).isoformat(), import_register_wh=w
            )
            for a, w in zip(at, wh, strict=True)
        ],
    )


def _store(
    context: HubContext, client: ApiClient, meter_id: int, body: SubMeterReadsIn
) -> StoredOut:
    _operator(client)
    if any(r.read_at.tzinfo is None for r in body.reads):
        raise _error(422, "E_BAD_INSTANT", "read_at needs its UTC offset")
    at = np.array([r.read_at.timestamp() for r in body.reads], dtype=np.float64)
    wh = np.array([r.import_register_wh for r in body.reads], dtype=np.int64)
    now_s = context.clock.timestamp()
    if float(at.max()) > now_s:
        raise _error(422, "E_FUTURE", "read_at is in the future")
    service = third_party_meters(context)
    try:
        stored = service.record_sub_meter_reads(
            client.party_id, meter_id, at, wh, now_s, _today(context)
        )
    except ThirdPartyError as exc:
        raise _refused(exc) from None
    return StoredOut(stored=stored)


@router.post(
    "/v1/meter-operator/sub-meters/{meter_id}/reads", response_model=StoredOut, responses=_ERRORS
)
async def post_sub_meter_reads(
    context: Ctx, client: Client, meter_id: MeterId, body: SubMeterReadsIn
) -> StoredOut:
    """Store register reads of the operator's sub-meter (all or nothing).

    Error codes: E_NOT_METER_OPERATOR (403), E_NOT_SUB_METER (404), E_CONFLICT (409: an
    instant stored before), E_BAD_INSTANT, E_FUTURE, E_BAD_VALUE (422)."""
    return await run_in_threadpool(_store, context, client, meter_id, body)


def _owner_day(
    context: HubContext, client: ApiClient, meter_id: int, day: date
) -> SubMeterReadsOut:
    _operator(client)
    start = jst_day_start_s(day)
    try:
        table = third_party_meters(context).sub_meter_reads(
            client.party_id, meter_id, start, jst_day_start_s(day + timedelta(days=1)), day
        )
    except ThirdPartyError as exc:
        raise _refused(exc) from None
    return _day_out(meter_id, day, table)


@router.get(
    "/v1/meter-operator/sub-meters/{meter_id}/reads",
    response_model=SubMeterReadsOut,
    responses=_ERRORS,
)
async def get_owner_reads(
    context: Ctx, client: Client, meter_id: MeterId, day: Annotated[date, Query(alias="date")]
) -> SubMeterReadsOut:
    """The sub-meter's reads of a JST day, for its owner."""
    return await run_in_threadpool(_owner_day, context, client, meter_id, day)


def _customer_day(
    context: HubContext, customer_id: str, meter_id: int, day: date
) -> SubMeterReadsOut:
    held = set(consent_store(context).customer_points(customer_id))
    start = jst_day_start_s(day)
    try:
        table = third_party_meters(context).customer_sub_meter_reads(
            held, meter_id, start, jst_day_start_s(day + timedelta(days=1)), day
        )
    except ThirdPartyError as exc:
        raise _refused(exc) from None
    return _day_out(meter_id, day, table)


@router.get(
    "/v1/customer/sub-meters/{meter_id}/reads",
    response_model=SubMeterReadsOut,
    responses=_ERRORS,
)
async def get_customer_reads(
    context: Ctx,
    customer_id: Annotated[str, Depends(current_customer)],
    meter_id: MeterId,
    day: Annotated[date, Query(alias="date")],
) -> SubMeterReadsOut:
    """The reads of a JST day of a sub-meter at one of the logged-in customer's supply
    points (customer login, HTTP Basic)."""
    return await run_in_threadpool(_customer_day, context, customer_id, meter_id, day)
