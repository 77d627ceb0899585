"""The DR events a customer took part in (issue #18 §3, §5): a thin view over the DR store
and the settlement of :mod:`openami.mdms.dr_settlement` (the one place the CLI and the
C-route results API also call).

- ``GET /my/dr``: the recent events (at most :data:`RECENT_EVENTS`) in which one of the
  customer's supply points took part: the signal, when, the home's answer (opt in/out),
  and per point the baseline ("High 4 of 5" with the same-day adjustment), the actual use
  and the reduction over the event;
- ``GET /my/dr/{event_id}?sp=ID``: one event for one of the customer's points, per
  30-minute unit: baseline against actual (chart and table).

Only the customer's own points appear (another customer's event or point: ``404``). Every
settled point is an audit entry (a read of the customer's own data).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from openami.clock import JST, slot_start
from openami.hub.audit import record_reads
from openami.hub.dr_api import dr_store
from openami.hub.errors import api_error
from openami.hub.portal_audit import PURPOSE_OWN_DATA
from openami.mdms.dr_settlement import settle_stored_event
from openami.mdms.reports import MdmsReports
from openami.web.charts import Series, line_chart
from openami.web.common import hub
from openami.web.i18n import pick_language, translator
from openami.web.portal_auth import CustomerSession, render_my
from openami.web.portal_data import own_points

router = APIRouter(prefix="/my", include_in_schema=False)
RECENT_EVENTS = 100


def _kwh(wh: Any) -> float | None:
    return None if wh is None or wh != wh else float(wh) / 1000.0  # NaN → None


def _when(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, JST).strftime("%Y-%m-%d %H:%M")


def _my_events(context: Any, mine: set[str]) -> list[tuple[Any, list[str]]]:
    """The recent events of the customer's points (newest first), each with the points of
    the customer that took part (``DrStore.events_of_point``)."""
    store = dr_store(context)
    events: dict[str, Any] = {}
    points: dict[str, list[str]] = {}
    for sp in sorted(mine):
        for event in store.events_of_point(sp, limit=RECENT_EVENTS):
            events[event.event_id] = event
            points.setdefault(event.event_id, []).append(sp)
    newest = sorted(events.values(), key=lambda e: e.start_s, reverse=True)[:RECENT_EVENTS]
    return [(e, points[e.event_id]) for e in newest]


@router.get("/dr", response_class=HTMLResponse)
def dr_page(request: Request, session: CustomerSession) -> HTMLResponse:
    context, customer_id = hub(request), session.operator.name
    mine = set(own_points(context, customer_id))
    reports, store = MdmsReports(context.mdms), dr_store(context)
    rows = []
    for event, points in _my_events(context, mine):
        settled = settle_stored_event(reports, context.registry, store, event, points)
        for c in settled.customers.to_pylist():
            rows.append(
                {
                    "event": event,
                    "start": _when(event.start_s),
                    "end": _when(event.end_s),
                    "supply_point_id": c["supply_point_id"],
                    "opt": c["opt"],
                    "status": c["status"],
                    "baseline_kwh": _kwh(c["baseline_wh"]),
                    "actual_kwh": _kwh(c["actual_wh"]),
                    "reduction_kwh": _kwh(c["reduction_wh"]),
                }
            )
        record_reads(
            context,
            f"customer:{customer_id}",
            f"portal dr results of {event.event_id}",
            [(p, _when(event.start_s)[:10]) for p in points],
            purpose=PURPOSE_OWN_DATA,
        )
    return render_my(request, "my/dr.html", {"rows": rows})


@router.get("/dr/{event_id}", response_class=HTMLResponse)
def dr_event(
    request: Request, session: CustomerSession, event_id: Annotated[str, Path(max_length=40)]
) -> HTMLResponse:
    context, customer_id = hub(request), session.operator.name
    sp = request.query_params.get("sp", "")
    store = dr_store(context)
    event = store.event(event_id)
    taking_part = {p.supply_point_id for p in store.participants(event_id)} if event else set()
    if event is None or sp not in set(own_points(context, customer_id)) & taking_part:
        raise api_error(404, "unknown_event", "no such event of your supply points")
    settled = settle_stored_event(MdmsReports(context.mdms), context.registry, store, event, [sp])
    units = [u for u in settled.units.to_pylist() if u["supply_point_id"] == sp]
    customer = settled.customers.to_pylist()[0]
    t = translator(pick_language(request))
    labels = [slot_start(int(u["slot"])).strftime("%H:%M") for u in units]
    baseline = [_kwh(u["baseline_wh"]) for u in units]
    actual = [_kwh(u["actual_wh"]) for u in units]
    top = max([v for v in baseline + actual if v is not None] + [0.1]) * 1.1
    chart = line_chart(
        "my-dr-units",
        t("my.dr.units"),
        labels,
        [Series(t("my.dr.baseline"), baseline, "s0"), Series(t("my.dr.actual"), actual, "s2")],
        y_min=0.0,
        y_max=top,
        fmt=lambda v: f"{v:.2f} kWh",
    )
    record_reads(
        context,
        f"customer:{customer_id}",
        f"portal dr results of {event_id}",
        [(sp, _when(event.start_s)[:10])],
        purpose=PURPOSE_OWN_DATA,
    )
    rows = [
        {"label": lab, "baseline": b, "actual": a, "reduction": _kwh(u["reduction_wh"])}
        for lab, b, a, u in zip(labels, baseline, actual, units, strict=True)
    ]
    return render_my(
        request,
        "my/dr_event.html",
        {
            "event": event,
            "sp_id": sp,
            "start": _when(event.start_s),
            "end": _when(event.end_s),
            "customer": customer,
            "reduction_kwh": _kwh(customer["reduction_wh"]),
            "chart": chart,
            "rows": rows,
        },
    )
