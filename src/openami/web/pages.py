"""Dashboard overview: is the fleet being read? (server-rendered, every asset in the package).

The other pages live in ``network``, ``supply_points`` and ``rollout``; shared helpers in
``common``; charts in ``charts``; labels in ``i18n``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse

from openami.hub.operators import Operator
from openami.mdms.kpi import KPI_NAMES
from openami.web.auth import operator
from openami.web.charts import Series, line_chart
from openami.web.common import (
    TREND_DAYS,
    amr_targets,
    data_days,
    hub,
    kpi_targets,
    kpi_value,
    kpis,
    kpis_ready,
    render,
    selected_day,
    visible_kpis,
    warm_up,
    warm_up_app,
)
from openami.web.i18n import pick_language, translator


@asynccontextmanager
async def warm_on_start(app: FastAPI) -> AsyncIterator[None]:
    """From server start, compute in a thread what the first pages will need (unless
    ``app.state.dashboard_warm_up`` is False: an API-only process)."""
    stop = threading.Event()
    context = getattr(app.state, "hub", None)
    thread = None
    if context is not None and getattr(app.state, "dashboard_warm_up", True):
        thread = threading.Thread(
            target=warm_up_app,
            args=(app.state, context, stop),
            name="dashboard-warm-up",
            daemon=True,
        )
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if thread is not None:  # wait for the current computation without blocking the loop
            await asyncio.to_thread(thread.join, 60)


router = APIRouter(include_in_schema=False, lifespan=warm_on_start)

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


def _trend_days(days: list[date], selected: date) -> list[date]:
    return [d for d in days if selected - timedelta(days=TREND_DAYS) < d <= selected]


def _trend(request: Request, trend_days: list[date], targets: dict[str, float]) -> dict[str, Any]:
    t = translator(pick_language(request))
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
    return {"trend_chart": chart, "trend_series": series}


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request, background: BackgroundTasks, _: Annotated[Operator, Depends(operator)]
) -> HTMLResponse:
    context = hub(request)
    days = data_days(context)
    selected = selected_day(request, context, days)
    rows = kpis(request, selected) if selected else []
    areas = kpis(request, selected, "area_code")[:-1] if selected else []
    targets = kpi_targets(request, selected)
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
    values: dict[str, Any] = {
        "meters": context.registry.meter_count(),
        "rows": rows,
        "areas": areas,
        "total": total,
        "cards": cards,
        "kpi_names": visible_kpis(rows),
        "targets": targets,
        "amr_targets": amr_targets(),
        "days": days,
        "selected": selected,
        "trend_chart": None,
    }
    if selected is not None:
        trend_days = _trend_days(days, selected)
        if all(kpis_ready(request, d) for d in trend_days):
            values.update(_trend(request, trend_days, targets))
        else:  # a cold cache: the page comes now, the trend follows (dashboard.js fetches it)
            values["trend_src"] = f"/overview/trend?date={selected.isoformat()}"
        # what the trend and the network page will ask for next
        background.add_task(warm_up, request, [selected], ("concentrator_id",), True)
        background.add_task(warm_up, request, trend_days[::-1], ("comm_method",), False)
    return render(request, "overview.html", values)


@router.get("/overview/trend", response_class=HTMLResponse)
def overview_trend(request: Request, _: Annotated[Operator, Depends(operator)]) -> HTMLResponse:
    """The trend chart alone (an HTML fragment), for pages rendered before it was ready."""
    context = hub(request)
    days = data_days(context)
    selected = selected_day(request, context, days)
    values: dict[str, Any] = {"trend_chart": None, "trend_series": []}
    if selected is not None:
        trend_days = _trend_days(days, selected)
        values.update(_trend(request, trend_days, kpi_targets(request, selected)))
    return render(request, "_trend.html", values)
