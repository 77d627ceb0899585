"""Dashboard overview: is the fleet being read? (server-rendered, every asset in the package).

The other pages live in ``network``, ``supply_points`` and ``rollout``; shared helpers in
``common``; charts in ``charts``; labels in ``i18n``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from openami.mdms.kpi import KPI_NAMES
from openami.web.auth import operator
from openami.web.charts import Series, line_chart
from openami.web.common import (
    TREND_DAYS,
    amr_targets,
    collection_targets,
    data_days,
    fleet_amr_target,
    hub,
    kpi_value,
    kpis,
    render,
    selected_day,
)
from openami.web.i18n import pick_language, translator

router = APIRouter(include_in_schema=False)

CARD_IDS = {
    "collection_30min_rate": "rate-30min",
    "delivery_60min_rate": "rate-60min",
    "collection_48h_rate": "rate-48h",
    "automatic_reading_rate": "amr-rate",
}


@dataclass(frozen=True)
class Card:
    key: str
    dom_id: str
    value: float
    target: float | None
    ok: bool | None


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, _: Annotated[str, Depends(operator)]) -> HTMLResponse:
    context = hub(request)
    days = data_days(context)
    selected = selected_day(request, context, days)
    rows = kpis(request, selected) if selected else []
    areas = kpis(request, selected, "area_code")[:-1] if selected else []
    targets: dict[str, float] = dict(collection_targets())
    fleet_target = fleet_amr_target(areas)
    if fleet_target is not None:
        targets["automatic_reading_rate"] = fleet_target
    total = rows[-1] if rows else None
    cards = []
    if total is not None:
        for key in KPI_NAMES:
            value = kpi_value(total, key)
            if value is None:
                continue
            target = targets.get(key)
            ok = None if target is None else value >= target
            cards.append(Card(key, CARD_IDS.get(key, "rate-" + key), value, target, ok))
    t = translator(pick_language(request))
    trend_days = (
        [d for d in days if selected - timedelta(days=TREND_DAYS) < d <= selected]
        if selected
        else []
    )
    totals = [kpis(request, d)[-1] for d in trend_days]
    series = []
    for i, key in enumerate(KPI_NAMES):
        values = [kpi_value(r, key) for r in totals]
        if any(v is not None for v in values):
            series.append(Series(t("kpi." + key), values, f"s{i % 6}"))
    low = min([0.9, *(v for s in series for v in s.values if v is not None)])
    chart = line_chart(
        "trend-chart",
        t("trend"),
        [d.strftime("%m-%d") for d in trend_days],
        series,
        y_min=max(0.0, (int(low * 20) / 20)),
        y_max=1.0,
        targets=[
            (v, t("target") + " " + t("kpi." + k), f"s{KPI_NAMES.index(k) % 6}")
            for k, v in targets.items()
            if k in KPI_NAMES
        ],
    )
    return render(
        request,
        "overview.html",
        {
            "meters": context.registry.meter_count(),
            "rows": rows,
            "areas": areas,
            "total": total,
            "cards": cards,
            "kpi_names": KPI_NAMES,
            "targets": targets,
            "amr_targets": amr_targets(),
            "days": days,
            "selected": selected,
            "trend_chart": chart,
            "trend_series": series,
        },
    )
