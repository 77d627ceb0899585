"""Dashboard rollout page: the utilities' deployment plans beside what openami has installed,
and the meters approaching certification expiry (検定有効期限)."""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from openami.clock import JST
from openami.hub.operators import Operator
from openami.registry import AREAS
from openami.registry.assets import ForecastRow
from openami.registry.certification import fiscal_year
from openami.web.auth import operator
from openami.web.charts import bar_chart
from openami.web.common import deployment_plan, hub, int_param, render
from openami.web.i18n import pick_language, translator

router = APIRouter(include_in_schema=False)
__all__ = ["add_months", "fiscal_year", "router"]

PAGE_SIZE = 50
HORIZONS_MONTHS = (6, 12, 24, 36, 60)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later (clamped to the month's last day)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise ValueError(f"cannot add {months} months to {day}")


def _forecast(rows: list[ForecastRow]) -> dict[str, object]:
    """Expiry replacements per area and fiscal year, as a table beside the plan."""
    years = sorted({r.fiscal_year for r in rows})
    cells: dict[str, dict[int, int]] = {}
    for r in rows:
        cells.setdefault(r.area_code, {})[r.fiscal_year] = r.meters
    totals = [sum(c.get(y, 0) for c in cells.values()) for y in years]
    return {"years": years, "areas": sorted(cells), "cells": cells, "totals": totals}


@router.get("/rollout", response_class=HTMLResponse)
def rollout(request: Request, _: Annotated[Operator, Depends(operator)]) -> HTMLResponse:
    context = hub(request)
    t = translator(pick_language(request))
    today = context.clock.now().astimezone(JST).date()
    plan = deployment_plan()
    years = sorted({p.fiscal_year for p in plan})
    installed = context.registry.installed_by_area()
    table = []
    for code in AREAS:
        cells = {p.fiscal_year: p for p in plan if p.area_code == code}
        table.append(
            {
                "area_code": code,
                "cells": cells,
                "planned_total": sum(p.planned for p in cells.values()),
                "installed": installed.get(code, 0),
            }
        )
    national = [sum(p.planned for p in plan if p.fiscal_year == y) for y in years]
    plan_chart = bar_chart(
        "plan-chart", t("rollout.national"), [str(y) for y in years], [float(v) for v in national]
    )

    forecast = _forecast(context.registry.expiry_forecast())
    months = int_param(request, "months", 24, 1, 240)
    until = add_months(today, months)
    by_year = context.registry.expiry_by_year()
    expiry_chart = bar_chart(
        "expiry-chart",
        t("expiry.by_year"),
        [str(y) for y, _ in by_year],
        [float(n) for _, n in by_year],
        highlight=[y <= until.year for y, _ in by_year],
    )
    total, _first = context.registry.expiring_meters(until, 0, 0)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = int_param(request, "page", 1, 1, pages)
    _total, rows = context.registry.expiring_meters(until, (page - 1) * PAGE_SIZE, PAGE_SIZE)

    def url_of(p: int) -> str:
        return str(request.url.include_query_params(page=p))

    return render(
        request,
        "rollout.html",
        {
            "years": years,
            "table": table,
            "national": national,
            "plan_total": sum(national),
            "installed_total": sum(installed.values()),
            "plan_chart": plan_chart,
            "current_fy": fiscal_year(today),
            "months": months,
            "horizons": HORIZONS_MONTHS,
            "until": until,
            "expiry_chart": expiry_chart,
            "forecast": forecast,
            "expiring_total": total,
            "expiring": rows.to_pylist(),
            "page": page,
            "pages": pages,
            "url_of": url_of,
        },
    )
