"""Dashboard pages (server-rendered, every asset in the package)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from openami import __version__
from openami.clock import day_of_slot
from openami.hub.context import HubContext
from openami.mdms.kpi import KPI_NAMES, daily_kpis
from openami.web.auth import operator

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, _: Annotated[str, Depends(operator)]) -> HTMLResponse:
    context: HubContext = request.app.state.hub
    days = data_days(context)
    selected = days[-1] if days else None
    wanted = request.query_params.get("date")
    if wanted:
        try:
            selected = date.fromisoformat(wanted)
        except ValueError:
            raise HTTPException(
                status_code=422,
                detail={"code": "invalid_date", "message": f"not a date: {wanted!r}"},
            ) from None
    rows = daily_kpis(context.mdms.store, context.registry, selected) if selected else []
    return templates.TemplateResponse(
        request,
        "overview.html",
        {
            "meters": context.registry.meter_count(),
            "rows": rows,
            "total": rows[-1] if rows else None,
            "kpi_names": KPI_NAMES,
            "days": days,
            "selected": selected,
            "version": __version__,
        },
    )


def data_days(context: HubContext) -> list[date]:
    """The JST days for which register reads were expected (first to last)."""
    table = context.mdms.store.query(
        "SELECT MIN(boundary) AS lo, MAX(boundary) AS hi FROM register_reads"
    )
    lo, hi = table.column("lo")[0].as_py(), table.column("hi")[0].as_py()
    if lo is None or hi is None:
        return []
    first, last = day_of_slot(int(lo)), day_of_slot(int(hi) - 1)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
