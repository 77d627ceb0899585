"""Dashboard supply point page: what happened to one customer's data?

Search by supply point ID (whole or its beginning); per supply point and JST day: the load
curve of import and export half-hour values with quality marks, the values with their
versions, the meter's register reads (when and how they arrived), the meter's registry data,
contract amperage and the current retailer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openami.bus.messages import read_source_name
from openami.clock import JST, slot_start, slots_of_day, slots_within
from openami.hub.audit import record_operator
from openami.hub.operators import Operator
from openami.mdms.reports import MdmsReports
from openami.registry import InvalidSupplyPointId
from openami.web.auth import personal
from openami.web.charts import load_curve
from openami.web.common import data_days, hub, render, selected_day
from openami.web.i18n import pick_language, translator

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class ValueRow:
    """The current half-hour value of one slot, as the page shows it."""

    slot: int
    start: datetime
    import_wh: int | None
    export_wh: int | None
    quality: str
    versions: int
    reason: str
    method: str
    edited_by: str


SEARCH_LIMIT = 20
MAX_QUERY_CHARS = 40


@router.get("/supply-points", response_class=HTMLResponse)
def search(request: Request, who: Annotated[Operator, Depends(personal)]) -> Response:
    context = hub(request)
    query = request.query_params.get("q", "").strip()
    values: dict[str, Any] = {"q": query[:MAX_QUERY_CHARS], "matches": None, "error": None}
    if query:
        if len(query) > MAX_QUERY_CHARS or not (query.isascii() and query.isdigit()):
            values["error"] = "sp.invalid"
        else:
            matches = context.registry.search_supply_points(query, SEARCH_LIMIT)
            record_operator(context, who.name, "search supply points", detail={"q": query})
            if len(query) == 22 and matches == [query]:
                return RedirectResponse(f"/supply-points/{query}", status_code=303)
            values["matches"] = matches
    return render(request, "supply_point_search.html", values)


@router.get("/supply-points/{supply_point_id}", response_class=HTMLResponse)
def supply_point(
    request: Request, supply_point_id: str, who: Annotated[Operator, Depends(personal)]
) -> HTMLResponse:
    context = hub(request)
    shown_id = supply_point_id[:MAX_QUERY_CHARS]
    try:
        sp = context.registry.supply_point(supply_point_id)
    except InvalidSupplyPointId:
        response = render(
            request,
            "supply_point_search.html",
            {"q": shown_id, "matches": None, "error": "sp.invalid"},
        )
        response.status_code = 422
        return response
    if sp is None:
        response = render(
            request,
            "supply_point_search.html",
            {"q": shown_id, "matches": [], "error": "sp.not_found"},
        )
        response.status_code = 404
        return response

    days = data_days(context)
    day = selected_day(request, context, days) or context.clock.now().astimezone(JST).date()
    record_operator(
        context,
        who.name,
        "read supply point page",
        subject=sp.supply_point_id,
        detail={"period": day.isoformat()},
        kind="read",
    )
    slots = slots_of_day(day)
    table = context.mdms.current_values(
        sp.supply_point_key, slots.start, slots.stop - 1
    ).to_pylist()
    by_slot = {int(r["slot"]): r for r in table}
    reports = MdmsReports(context.mdms)
    versions = reports.value_versions(sp.supply_point_key, slots.start, slots.stop - 1)
    rows = []
    for s in slots:
        r = by_slot.get(s)
        rows.append(
            ValueRow(
                slot=s,
                start=slot_start(s),
                import_wh=r["import_wh"] if r else None,
                export_wh=r["export_wh"] if r else None,
                quality=str(r["quality"]) if r else "not_yet_available",
                versions=versions.get(s, (0, ""))[0],
                reason=str(r["reason"]) if r else "",
                method=str(r.get("method") or "") if r else "",
                edited_by=str(r.get("edited_by") or "") if r else "",
            )
        )
    t = translator(pick_language(request))
    chart = load_curve(
        "load-curve",
        t("sp.load_curve"),
        [r.start.strftime("%H:%M") for r in rows],
        [r.import_wh for r in rows],
        [r.export_wh for r in rows],
        [r.quality for r in rows],
        names=(t("sp.import"), t("sp.export")),
        quality_names=lambda q: t("quality." + q),
    )
    meter = context.registry.installed_meter(sp.supply_point_key)
    if meter is not None:
        meter["installed_at"] = datetime.fromtimestamp(float(meter["installed_at"]), JST)
        meter["certificate"] = context.registry.certification_of(int(meter["meter_id"]))
    history = context.registry.installations_of(sp.supply_point_key)
    reads = []
    # the boundaries of the slots each meter is installed during (clock.slots_within)
    first_installed, stop_installed = slots_within(
        [float(inst["valid_from"]) for inst in history],
        [math.inf if inst["valid_to"] is None else float(inst["valid_to"]) for inst in history],
    )
    for j, inst in enumerate(history):  # every meter installed during the day (swaps: more)
        lo_s, hi_s = float(inst["valid_from"]), inst["valid_to"]
        first_b = max(slots.start, int(first_installed[j]))
        last_b = min(slots.stop, int(stop_installed[j]))
        if first_b <= last_b:
            for read in reports.meter_register_reads(int(inst["meter_id"]), first_b, last_b):
                read["meter_id"] = int(inst["meter_id"])
                read["source"] = read_source_name(read["source"])
                reads.append(read)
        inst["since"] = datetime.fromtimestamp(lo_s, JST)
        inst["until"] = None if hi_s is None else datetime.fromtimestamp(float(hi_s), JST)
    reads.sort(key=lambda r: (int(r["boundary"]), int(r["meter_id"])))
    for read in reads:
        read["at"] = slot_start(int(read["boundary"]))
        read["received"] = datetime.fromtimestamp(float(read["first_received_at"]), JST)
    today = context.clock.now().astimezone(JST).date()
    retailer_id = context.registry.retailer_on(sp.supply_point_key, today)
    return render(
        request,
        "supply_point.html",
        {
            "sp": sp,
            "day": day,
            "prev_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "days": days,
            "rows": rows,
            "chart": chart,
            "total_import_wh": sum(r.import_wh or 0 for r in rows),
            "total_export_wh": sum(r.export_wh or 0 for r in rows),
            "meter": meter,
            "reads": reads,
            "history": history,
            "several_meters": len({r["meter_id"] for r in reads}) > 1,
            "retailer_id": retailer_id,
            "retailer_name": context.registry.retailer_name(retailer_id) if retailer_id else None,
            "today": today,
        },
    )
