"""HTTP API of balancing groups (バランシンググループ): demand plans and imbalance.

- ``PUT /v1/balancing-groups/{id}/plans/{date}``: submit the group's demand plan (需要計画)
  for a JST day, JSON or CSV by ``Content-Type`` (rules: :mod:`openami.mdms.demand_plans`);
- ``GET /v1/balancing-groups/{id}/plans/{date}`` (``?version=`` for an older one) and
  ``…/plans/{date}/history``: the plan and its submissions;
- ``GET /v1/balancing-groups/{id}/imbalance?date=&kind=``: imbalance per slot and area
  (:mod:`openami.mdms.imbalance`).

Only API clients with the role ``balancing_group`` call these, each for the group that is
its party (``party_id``): any other client gets ``403 E_NOT_BALANCING_GROUP``, and a group
client asking for another group's id gets ``404 E_UNKNOWN_BALANCING_GROUP``, the same answer
as for an id nobody has, so ids cannot be enumerated. Requests are authenticated, rate
limited and audit-logged like every C-route request; a plan body has at most
:data:`MAX_PLAN_BODY_BYTES`.
"""

from __future__ import annotations

import threading
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from openami.clock import JST, slot_start_s
from openami.hub.api import ApiError, ctx, current_client
from openami.hub.audit import AuditedRoute
from openami.hub.context import HubContext
from openami.hub.errors import api_error as _error
from openami.hub.errors import capped_body
from openami.mdms.demand_plans import DemandPlans, PlanRejected, closed_slots_of_day
from openami.mdms.imbalance import ClassesCache, ImbalanceError, imbalance_of_day
from openami.mdms.loss_factors import LossFactors
from openami.mdms.settlement import RUN_KINDS
from openami.storage.repositories.balancing import DemandPlanStore, PlanSubmission
from openami.storage.repositories.clients import ApiClient
from openami.storage.repositories.loss_factors import LossFactorStore

router = APIRouter(route_class=AuditedRoute, tags=["balancing groups"])
ROLE = "balancing_group"  # API clients whose party_id is a balancing group id
MAX_PLAN_BODY_BYTES = 64 * 1024  # 10 areas × 48 slots of CSV are about 8 KB
Ctx = Annotated[HubContext, Depends(ctx)]
Client = Annotated[ApiClient, Depends(current_client)]
GroupId = Annotated[str, Path(max_length=40)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ApiError} for s in (401, 403, 404, 409, 413, 415, 422, 429)
}
_BUILD_LOCK = threading.Lock()


class PlanSubmissionOut(BaseModel):
    balancing_group_id: str
    date: str
    version: int
    submitted_at: str = Field(description="ISO 8601, JST")
    submitted_by: str = Field(description="the API client that sent it")
    content_type: str
    energy_kwh: float = Field(description="Σ over every area and slot")


class PlanOut(BaseModel):
    balancing_group_id: str
    date: str
    version: int = Field(description="0: nothing submitted yet")
    unit: str = "kWh"
    areas: dict[str, list[float]] = Field(description="area code → 48 slots, 00:00 JST first")
    gate_closed_slots: int = Field(description="slots of the day whose gate has closed now")


class PlanHistoryOut(BaseModel):
    submissions: list[PlanSubmissionOut]


class ImbalanceSlotOut(BaseModel):
    slot_start: str
    area_code: str
    voltage_class: str | None
    loss_rate: float | None
    points: int
    metered_kwh: float = Field(description="Σ metered import of the group's points")
    actual_kwh: float = Field(description="metered ÷ (1 − loss rate)")
    plan_kwh: float
    plan_version: int | None = Field(description="None: no plan for this area")
    imbalance_kwh: float = Field(description="actual − plan: > 0 shortfall, < 0 surplus")
    generation_export_kwh: float = Field(description="PV export (reverse flow), not netted")
    quality: str


class ImbalanceOut(BaseModel):
    balancing_group_id: str
    date: str
    kind: str = Field(description="preliminary, final or correction: the settlement run's")
    settlement_run_id: int
    computed_from_run_at: str
    slots: list[ImbalanceSlotOut]


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, JST).isoformat()


def demand_plans(context: HubContext) -> DemandPlans:
    with _BUILD_LOCK:
        found = context.services.get("demand_plans")
        if not isinstance(found, DemandPlans):
            found = DemandPlans(DemandPlanStore(context.clients.database))
            context.services["demand_plans"] = found
        return found


def _classes_cache(context: HubContext) -> ClassesCache:
    with _BUILD_LOCK:
        found = context.services.get("imbalance_classes")
        if not isinstance(found, dict):
            found = {}
            context.services["imbalance_classes"] = found
        return found


def _own_group(context: HubContext, client: ApiClient, balancing_group_id: str) -> None:
    """403 unless a balancing group's client; 404 unless its own, existing group."""
    if client.role != ROLE:
        raise _error(403, "E_NOT_BALANCING_GROUP", "only balancing group clients")
    if client.party_id != balancing_group_id or not demand_plans(context).store.group_exists(
        balancing_group_id
    ):
        raise _error(404, "E_UNKNOWN_BALANCING_GROUP", "no such balancing group of this client")


def _submission_out(s: PlanSubmission) -> PlanSubmissionOut:
    return PlanSubmissionOut(
        balancing_group_id=s.balancing_group_id,
        date=s.day.isoformat(),
        version=s.version,
        submitted_at=_iso(s.submitted_at),
        submitted_by=s.submitted_by,
        content_type=s.content_type,
        energy_kwh=s.energy_wh / 1000,
    )


def _submit(
    context: HubContext, client: ApiClient, group: str, day: date, body: bytes, ctype: str
) -> PlanSubmissionOut:
    _own_group(context, client, group)
    try:
        submission = demand_plans(context).submit(
            group, day, body, ctype, client.client_id, context.clock.timestamp()
        )
    except PlanRejected as exc:
        raise _error(exc.status, exc.code, exc.message) from None
    return _submission_out(submission)


@router.put(
    "/v1/balancing-groups/{balancing_group_id}/plans/{day}",
    response_model=PlanSubmissionOut,
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
async def put_plan(
    context: Ctx, client: Client, request: Request, balancing_group_id: GroupId, day: date
) -> PlanSubmissionOut:
    """Submit the group's demand plan for a JST day: every area it plans for with exactly
    48 slots of kWh (JSON ``{"unit": "kWh", "areas": {"03": [48 numbers]}}``, or CSV
    ``area_code,slot,energy_kwh`` with slot 1…48). It becomes the next version; slots whose
    gate closed (1 h before the slot) must keep their energy.

    Error codes: E_NOT_BALANCING_GROUP (403), E_UNKNOWN_BALANCING_GROUP (404),
    E_GATE_CLOSED and E_PLAN_CONFLICT (409), body_too_large (413),
    E_UNSUPPORTED_MEDIA_TYPE (415), E_BAD_BODY, E_BAD_UNIT, E_BAD_VALUE, E_NEGATIVE,
    E_SLOT_COUNT, E_UNKNOWN_AREA, E_EMPTY_PLAN, E_DATE_TOO_FAR (422). A refused
    submission stores nothing."""
    body = await capped_body(request, MAX_PLAN_BODY_BYTES, "a plan")
    ctype = request.headers.get("content-type", "")
    return await run_in_threadpool(_submit, context, client, balancing_group_id, day, body, ctype)


@router.get(
    "/v1/balancing-groups/{balancing_group_id}/plans/{day}",
    response_model=PlanOut,
    responses=_ERRORS,
)
def get_plan(
    context: Ctx,
    client: Client,
    balancing_group_id: GroupId,
    day: date,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> PlanOut:
    """The group's current plan for the day (or an older ``version``), kWh per slot."""
    _own_group(context, client, balancing_group_id)
    store = demand_plans(context).store
    if version is None:
        version, values = store.current(balancing_group_id, day)
    else:
        found = store.version(balancing_group_id, day, version)
        if found is None:
            raise _error(404, "E_UNKNOWN_VERSION", f"no version {version} of this plan")
        values = found
    areas: dict[str, list[float]] = {}
    for row in values.to_pylist():
        areas.setdefault(row["area_code"], []).append(row["energy_wh"] / 1000)
    return PlanOut(
        balancing_group_id=balancing_group_id,
        date=day.isoformat(),
        version=version,
        areas=areas,
        gate_closed_slots=len(closed_slots_of_day(day, context.clock.timestamp())),
    )


@router.get(
    "/v1/balancing-groups/{balancing_group_id}/plans/{day}/history",
    response_model=PlanHistoryOut,
    responses=_ERRORS,
)
def plan_history(
    context: Ctx, client: Client, balancing_group_id: GroupId, day: date
) -> PlanHistoryOut:
    """Every submission of the group's plan for the day, oldest first."""
    _own_group(context, client, balancing_group_id)
    history = demand_plans(context).history(balancing_group_id, day)
    return PlanHistoryOut(submissions=[_submission_out(s) for s in history])


@router.get(
    "/v1/balancing-groups/{balancing_group_id}/imbalance",
    response_model=ImbalanceOut,
    responses=_ERRORS,
)
def imbalance(
    context: Ctx,
    client: Client,
    balancing_group_id: GroupId,
    day: Annotated[date, Query(alias="date", description="JST day")],
    kind: Annotated[
        str | None, Query(max_length=20, description=f"one of {RUN_KINDS}; default: newest")
    ] = None,
) -> ImbalanceOut:
    """Imbalance per slot and area of the group: metered import grossed up by the loss
    rate, minus the plan, from the day's newest settlement run (of ``kind`` if given).
    Error codes: E_NO_SETTLEMENT_RUN (404), E_BAD_KIND, E_NO_LOSS_FACTOR,
    E_MIXED_VOLTAGE_CLASSES (422)."""
    _own_group(context, client, balancing_group_id)
    if kind is not None and kind not in RUN_KINDS:
        raise _error(422, "E_BAD_KIND", f"kind is one of {', '.join(RUN_KINDS)}")
    losses = LossFactors(LossFactorStore(context.clients.database))
    plans = demand_plans(context).store
    try:
        run = imbalance_of_day(
            context.mdms, plans, losses, day, kind, balancing_group_id, _classes_cache(context)
        )
    except ImbalanceError as exc:
        status = 404 if exc.code == "E_NO_SETTLEMENT_RUN" else 422
        raise _error(status, exc.code, exc.message) from None
    return ImbalanceOut(
        balancing_group_id=balancing_group_id,
        date=day.isoformat(),
        kind=run.kind,
        settlement_run_id=run.settlement_run_id,
        computed_from_run_at=_iso(run.created_at),
        slots=[_slot_out(r) for r in run.rows.to_pylist()],
    )


def _slot_out(r: dict[str, Any]) -> ImbalanceSlotOut:
    return ImbalanceSlotOut(
        slot_start=_iso(float(slot_start_s(r["slot"]))),
        area_code=r["area_code"],
        voltage_class=r["voltage_class"],
        loss_rate=r["loss_rate"],
        points=r["points"],
        metered_kwh=r["metered_import_wh"] / 1000,
        actual_kwh=round(r["actual_wh"] / 1000, 6),
        plan_kwh=r["plan_wh"] / 1000,
        plan_version=r["plan_version"],
        imbalance_kwh=round(r["imbalance_wh"] / 1000, 6),
        generation_export_kwh=r["generation_export_wh"] / 1000,
        quality=r["quality"],
    )
