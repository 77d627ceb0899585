"""C-route API of DR: ``POST /v1/dr/events`` (an aggregator creates an event for its VENs)
and ``GET /v1/dr/events/{event_id}/results``.

An event is created for the caller's own enrolled VENs only (its client's ``party_id`` is
the aggregator); a bad window or value is ``422 invalid_event``, a VEN that is not the
caller's ``422 unknown_ven``. The VTN (``openami dr serve``) distributes it.

The aggregator that created the event (its client's ``party_id`` is the event's
``aggregator_id``) reads, per customer, the baseline ("High 4 of 5" with the same-day
adjustment), the actual use and the reduction per half-hour unit, and its total. A customer
is in the answer only if the caller may read that supply point's half-hour values on the
event day under the C route's one access rule (:func:`openami.hub.consent_access.access`:
a live consent covering ``half_hour`` for a third party, supply for a retailer), because
the results reveal them. Another aggregator's event, or no such event, is ``404
unknown_event`` (no oracle of event IDs); an event none of whose customers the caller may
see is ``403 no_visible_customer``; a malformed ID ``422``. Every customer returned is logged
as a read of personal data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from openami.clock import slot_start
from openami.dr.events import new_event
from openami.hub.api import ApiError, ctx
from openami.hub.audit import AuditedRoute, record_reads
from openami.hub.consent_access import Access, access
from openami.hub.context import HubContext
from openami.hub.errors import api_error
from openami.hub.oauth import Party, current_party
from openami.mdms.dr_settlement import event_units, settle_stored_event
from openami.mdms.reports import MdmsReports
from openami.storage.repositories import StorageError
from openami.storage.repositories.dr import DrEvent, DrStore

router = APIRouter(route_class=AuditedRoute, tags=["demand response"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ApiError} for s in (401, 403, 404, 422, 429)
}
_STORE = "dr_store"  # HubContext.services key
EVENT_ID_PATTERN = r"^dr-[0-9a-f]{16}$"


class DrUnit(BaseModel):
    slot_start: str
    baseline_wh: float | None
    actual_wh: float | None
    reduction_wh: float | None


class DrCustomer(BaseModel):
    supply_point_id: str
    opt: str = Field(description="the VEN's answer: optIn, optOut or none")
    status: str = Field(description="ok, insufficient_days, no_adjustment_data or missing_actual")
    baseline_kwh: float | None
    actual_kwh: float | None
    reduction_kwh: float | None
    adjustment_wh: float = Field(description="the same-day adjustment added to each unit")
    baseline_days: list[str] = Field(description="the days the baseline averages")
    units: list[DrUnit]


class DrResults(BaseModel):
    event_id: str
    signal: str
    value: float
    start: str
    end: str
    customers_total: int = Field(description="customers of the event")
    customers_visible: int = Field(description="customers the caller may see")
    reduction_kwh: float = Field(description="sum over visible customers opted in and ok")
    customers: list[DrCustomer]


class DrEventIn(BaseModel):
    signal: Literal["level", "target_w", "price"]
    value: float = Field(description="level 0–3, import limit in W, or JPY/kWh")
    start: datetime = Field(description="ISO 8601 with offset, on the :00/:30 grid")
    minutes: int = Field(ge=30, le=1440, description="a multiple of 30; inside one JST day")
    ven_names: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, max_length=10_000, description="only these VENs (default: all)"
    )


class DrEventOut(BaseModel):
    event_id: str
    signal: str
    value: float
    start: str
    end: str
    status: str
    vens: int


def dr_store(context: HubContext) -> DrStore:
    store = context.services.get(_STORE)
    if not isinstance(store, DrStore):
        store = DrStore(context.clients.database)
        context.services[_STORE] = store
    return store


def _number(value: float | None, scale: float = 1.0) -> float | None:
    return None if value is None or value != value else round(value / scale, 6)  # NaN → None


def _event_of(context: HubContext, party: Party, event_id: str) -> DrEvent:
    event = dr_store(context).event(event_id)
    if event is None or event.aggregator_id != party.client.party_id:
        raise api_error(404, "unknown_event", f"no event {event_id} of {party.client.party_id}")
    return event


def _visible(context: HubContext, party: Party, event: DrEvent) -> tuple[list[Access], int]:
    """The event's customers the caller may read half-hour values of on the event day."""
    day = event_units(event.start_s, event.duration_s).day
    points = sorted({p.supply_point_id for p in dr_store(context).participants(event.event_id)})
    visible = []
    for point in points:
        try:
            visible.append(access(context, party, point, "half_hour", day, day))
        except HTTPException as exc:
            if exc.status_code != 403:
                raise
    return visible, len(points)


@router.get("/v1/dr/events/{event_id}/results", response_model=DrResults, responses=_ERRORS)
def results(
    context: Annotated[HubContext, Depends(ctx)],
    party: Annotated[Party, Depends(current_party)],
    event_id: Annotated[str, PathParam(pattern=EVENT_ID_PATTERN, max_length=19)],
) -> dict[str, Any]:
    """Baseline, actual use and reduction of an event the caller created, per customer it
    may see (consent or supply on the event day) and in total."""
    event = _event_of(context, party, event_id)
    visible, total = _visible(context, party, event)
    if not visible:
        raise api_error(403, "no_visible_customer", "no customer of this event may be read")
    points = [a.supply_point_id for a in visible]
    settled = settle_stored_event(
        MdmsReports(context.mdms), context.registry, dr_store(context), event, points
    )
    units_of: dict[str, list[dict[str, Any]]] = {}
    for u in settled.units.to_pylist():
        units_of.setdefault(u["supply_point_id"], []).append(
            {
                "slot_start": slot_start(int(u["slot"])).isoformat(),
                "baseline_wh": _number(u["baseline_wh"]),
                "actual_wh": _number(u["actual_wh"]),
                "reduction_wh": _number(u["reduction_wh"]),
            }
        )
    customers = [
        {
            "supply_point_id": c["supply_point_id"],
            "opt": c["opt"],
            "status": c["status"],
            "baseline_kwh": _number(c["baseline_wh"], 1000.0),
            "actual_kwh": _number(c["actual_wh"], 1000.0),
            "reduction_kwh": _number(c["reduction_wh"], 1000.0),
            "adjustment_wh": c["adjustment_wh"],
            "baseline_days": [d.isoformat() for d in c["baseline_days"]],
            "units": units_of.get(c["supply_point_id"], []),
        }
        for c in settled.customers.to_pylist()
    ]
    day = event_units(event.start_s, event.duration_s).day.isoformat()
    for acc in visible:  # each under its own purpose (the consent's, or retail supply)
        resource = f"dr results of {event.event_id}"
        record_reads(
            context, party.client.client_id, resource, [(acc.supply_point_id, day)], acc.purpose
        )
    return {
        "event_id": event.event_id,
        "signal": event.signal,
        "value": event.value,
        "start": datetime.fromtimestamp(event.start_s, UTC).isoformat(),
        "end": datetime.fromtimestamp(event.end_s, UTC).isoformat(),
        "customers_total": total,
        "customers_visible": len(visible),
        "reduction_kwh": round(settled.total_reduction_wh / 1000.0, 6),
        "customers": customers,
    }


@router.post("/v1/dr/events", status_code=201, response_model=DrEventOut, responses=_ERRORS)
def create_event(
    context: Annotated[HubContext, Depends(ctx)],
    party: Annotated[Party, Depends(current_party)],
    body: DrEventIn,
) -> JSONResponse:
    """Create a DR event for the caller's VENs (all, or ``ven_names``)."""
    if body.start.tzinfo is None:
        raise api_error(422, "invalid_event", "start needs a UTC offset, e.g. +09:00")
    now_s = context.clock.timestamp()
    client = party.client
    try:
        event = new_event(
            client.party_id,
            body.signal,
            body.value,
            body.start.timestamp(),
            body.minutes * 60.0,
            now_s,
            f"client:{client.client_id}",
        )
    except ValueError as exc:
        raise api_error(422, "invalid_event", str(exc)) from None
    try:
        participants = dr_store(context).create_event(event, body.ven_names)
    except StorageError as exc:
        raise api_error(422, "unknown_ven", str(exc)) from None
    if context.audit is not None:
        detail = {"signal": event.signal, "value": event.value, "vens": len(participants)}
        context.audit.record(
            client.client_id, "dr.event_created", now_s, "demand response", event.event_id, detail
        )
    out = DrEventOut(
        event_id=event.event_id,
        signal=event.signal,
        value=event.value,
        start=datetime.fromtimestamp(event.start_s, UTC).isoformat(),
        end=datetime.fromtimestamp(event.end_s, UTC).isoformat(),
        status=event.status,
        vens=len(participants),
    )
    location = f"/v1/dr/events/{event.event_id}/results"
    return JSONResponse(out.model_dump(), status_code=201, headers={"Location": location})
