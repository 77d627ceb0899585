"""Dashboard network page: where is the fleet not being read?

Breakdown by communication method and by concentrator (worst first, paginated and sorted on
the server), and a per-slot collection timeline of one day.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from openami.clock import slot_start
from openami.hub.operators import Operator
from openami.mdms.kpi import KPI_NAMES, KpiRow
from openami.mdms.reports import SlotCollection
from openami.web.auth import operator
from openami.web.charts import Series, line_chart
from openami.web.common import (
    bad_request,
    collection_targets,
    data_days,
    hub,
    int_param,
    kpi_targets,
    kpi_value,
    kpis,
    render,
    selected_day,
    timeline,
    visible_kpis,
)
from openami.web.i18n import pick_language, translator

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
SORT_KEYS = ("concentrator", "meters", *KPI_NAMES)


def sort_concentrators(rows: list[KpiRow], key: str, descending: bool) -> list[KpiRow]:
    if key == "concentrator":
        return sorted(rows, key=lambda r: r.group, reverse=descending)
    if key == "meters":
        return sorted(rows, key=lambda r: (r.meters, r.group), reverse=descending)
    return sorted(rows, key=lambda r: (_or(kpi_value(r, key), -1.0), r.group), reverse=descending)


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


@router.get("/network", response_class=HTMLResponse)
def network(request: Request, _: Annotated[Operator, Depends(operator)]) -> HTMLResponse:
    context = hub(request)
    days = data_days(context)
    selected = selected_day(request, context, days)
    sort = request.query_params.get("sort", "collection_30min_rate")
    if sort not in SORT_KEYS:
        raise bad_request("invalid_sort", f"sort must be one of {', '.join(SORT_KEYS)}")
    direction = request.query_params.get("dir", "asc")
    if direction not in ("asc", "desc"):
        raise bad_request("invalid_sort", "dir must be asc or desc")
    t = translator(pick_language(request))
    methods = kpis(request, selected) if selected else []
    by_conc = kpis(request, selected, "concentrator_id")[:-1] if selected else []
    concentrators = [r for r in by_conc if r.group != "-"]
    ordered = sort_concentrators(concentrators, sort, direction == "desc")
    pages = max(1, math.ceil(len(ordered) / PAGE_SIZE))
    page = int_param(request, "page", 1, 1, pages)
    shown = ordered[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]

    charts: dict[str, object] = {}
    if selected:
        slots = timeline(request, selected)
        total = [s for s in slots if s.group == "all"]
        labels = [slot_start(s.boundary).strftime("%H:%M") for s in total]

        def share(n: int, of: int) -> float | None:
            return n / of if of else None

        charts["timeline"] = line_chart(
            "timeline-chart",
            t("timeline"),
            labels,
            [
                Series(t("within_30min"), [share(s.within_30min, s.expected) for s in total], "s0"),
                Series(t("within_60min"), [share(s.within_60min, s.expected) for s in total], "s1"),
                Series(t("so_far"), [share(s.received, s.expected) for s in total], "s2"),
            ],
            y_min=_floor(total),
            targets=[
                (collection_targets()["collection_30min_rate"], t("target"), "s0"),
            ],
        )
        groups = sorted({s.group for s in slots} - {"all"})
        method_series = [
            Series(
                t("method." + g),
                [share(s.within_30min, s.expected) for s in slots if s.group == g],
                f"s{i}",
            )
            for i, g in enumerate(groups)
        ]
        charts["by_method"] = line_chart(
            "timeline-method-chart",
            t("timeline") + " — " + t("within_30min"),
            labels,
            method_series,
            y_min=_floor([s for s in slots if s.group != "all"]),
        )
        charts["method_series"] = method_series

    def url_of(p: int) -> str:
        return str(request.url.include_query_params(page=p))

    def sort_url(key: str) -> str:
        flip = "desc" if key == sort and direction == "asc" else "asc"
        return str(request.url.include_query_params(sort=key, dir=flip, page=1))

    return render(
        request,
        "network.html",
        {
            "days": days,
            "selected": selected,
            "methods": methods,
            "concentrators": shown,
            "concentrator_count": len(concentrators),
            "page": page,
            "pages": pages,
            "url_of": url_of,
            "sort_url": sort_url,
            "sort": sort,
            "dir": direction,
            "kpi_names": visible_kpis(methods),
            "targets": kpi_targets(request, selected),
            "charts": charts,
        },
    )


def _floor(rows: list[SlotCollection]) -> float:
    """A y-axis floor that keeps dips visible: the lowest 30-minute share, rounded down."""
    shares = [r.within_30min / r.expected for r in rows if r.expected]
    low = min([0.9, *shares])
    return max(0.0, math.floor(low * 10) / 10)
