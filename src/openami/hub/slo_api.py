"""HTTP API of the delivery SLO: ``GET /v1/slo/delivery`` (see :mod:`openami.hub.slo`).

Fleet-wide figures (counts and latencies per slot over every supply point) are the system
operator's: only API clients with the role ``operator`` read them (issue #15 §3). A retailer
or third party gets ``403 E_SLO_FLEET_ONLY``: the figures describe other retailers' points
too, and the SLO queries cannot yet be cut to one retailer's points.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from openami.bus.messages import DELIVERY_DEADLINE_S
from openami.clock import JST, day_first_slot, slot_start_s
from openami.hub.api import ApiError, ctx, current_client
from openami.hub.audit import AuditedRoute
from openami.hub.context import HubContext
from openami.hub.slo import slot_slo, summary
from openami.storage.repositories.clients import ApiClient

router = APIRouter(route_class=AuditedRoute, tags=["delivery SLO"])
MAX_DAYS = 31
_ERRORS: dict[int | str, dict[str, Any]] = {s: {"model": ApiError} for s in (401, 403, 422, 429)}
FLEET_ROLES = ("operator",)  # API client roles that see fleet-wide figures


class SlotSloOut(BaseModel):
    slot_start: str
    slot_end: str
    expected: int = Field(description="supply points with a meter during the slot")
    latency_p50_s: float | None = Field(description="slot end → first measured value on the hub")
    latency_p95_s: float | None
    latency_max_s: float | None = Field(description="slot end → last collected value available")
    complete_60min: float | None = Field(description="share available by slot end + 60 min")
    complete_24h: float | None = Field(description="share available by slot end + 24 h")
    complete_now: float | None = Field(description="share measured now (at final, if final)")
    with_value_now: float | None = Field(description="share with measured/estimated/edited")
    final: bool


class SloOut(BaseModel):
    first_day: str
    last_day: str
    target_latency_s: float
    slots_meeting_target: int
    worst_latency_p95_s: float | None
    mean_complete_60min: float | None
    mean_complete_24h: float | None
    slots: list[SlotSloOut]


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, JST).isoformat()


@router.get("/v1/slo/delivery", response_model=SloOut, responses=_ERRORS)
def delivery(
    context: Annotated[HubContext, Depends(ctx)],
    client: Annotated[ApiClient, Depends(current_client)],
    first_day: Annotated[date, Query(description="first JST day")],
    last_day: Annotated[date | None, Query(description="last JST day (default first_day)")] = None,
) -> SloOut:
    """Per slot: slot end → availability on the hub, completeness at +60 min, +24 h, final.
    Operator clients only (``403 E_SLO_FLEET_ONLY`` for others)."""
    if client.role not in FLEET_ROLES:
        raise HTTPException(
            status_code=403,
            detail={
                "code": "E_SLO_FLEET_ONLY",
                "message": "delivery SLO figures cover the whole fleet: operator clients only",
            },
        )
    last = last_day or first_day
    if last < first_day or (last - first_day).days >= MAX_DAYS:
        raise HTTPException(
            status_code=422,
            detail={"code": "E_BAD_PERIOD", "message": f"1 to {MAX_DAYS} days, in order"},
        )
    try:
        first_slot = day_first_slot(first_day)
        last_slot = day_first_slot(last + timedelta(days=1)) - 1
    except (OverflowError, ValueError):
        raise HTTPException(
            status_code=422, detail={"code": "E_BAD_PERIOD", "message": "day out of range"}
        ) from None
    rows = slot_slo(context.mdms, first_slot, last_slot)
    s = summary(rows)
    return SloOut(
        first_day=first_day.isoformat(),
        last_day=last.isoformat(),
        target_latency_s=DELIVERY_DEADLINE_S,
        slots_meeting_target=s.slots_meeting_target,
        worst_latency_p95_s=s.worst_latency_p95_s,
        mean_complete_60min=s.mean_complete_60min,
        mean_complete_24h=s.mean_complete_24h,
        slots=[
            SlotSloOut(
                slot_start=_iso(slot_start_s(r.slot)),
                slot_end=_iso(r.slot_end_s),
                expected=r.expected,
                latency_p50_s=r.latency_p50_s,
                latency_p95_s=r.latency_p95_s,
                latency_max_s=r.latency_max_s,
                complete_60min=r.complete_60min,
                complete_24h=r.complete_24h,
                complete_now=r.complete_now,
                with_value_now=r.with_value_now_share,
                final=r.final,
            )
            for r in rows
        ],
    )
