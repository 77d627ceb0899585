"""The web application: C-route API (``/oauth``, ``/v1``) and the operator dashboard (``/``).

The dashboard is for operators and asks for the operator's credentials (HTTP Basic); every
asset ships in the package (no CDN).
"""

from __future__ import annotations

import hmac
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from openami import __version__
from openami.clock import day_of_slot
from openami.hub.api import install_error_handlers, router
from openami.hub.context import HubContext
from openami.mdms.kpi import KPI_NAMES, daily_kpis

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
basic = HTTPBasic(realm="openami operator")


def operator(request: Request, credentials: Annotated[HTTPBasicCredentials, Depends(basic)]) -> str:
    """Dependency: the operator's HTTP Basic credentials, checked in constant time."""
    context: HubContext = request.app.state.hub
    user_ok = hmac.compare_digest(credentials.username.encode(), context.operator_user.encode())
    pw_ok = hmac.compare_digest(credentials.password.encode(), context.operator_password.encode())
    if not (user_ok and pw_ok):
        raise HTTPException(
            status_code=401,
            detail={"code": "unauthenticated", "message": "operator credentials required"},
            headers={"WWW-Authenticate": 'Basic realm="openami operator"'},
        )
    return credentials.username


def create_app(context: HubContext) -> FastAPI:
    app = FastAPI(
        title="openami",
        version=__version__,
        description="C-route API of openami: half-hour values for retailers (OAuth 2.0).",
    )
    app.state.hub = context
    app.include_router(router)
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview(request: Request, _: Annotated[str, Depends(operator)]) -> HTMLResponse:
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

    return app


def data_days(context: HubContext) -> list[date]:
    """The JST days for which register reads were expected (complete days first to last)."""
    table = context.mdms.store.query(
        "SELECT MIN(boundary) AS lo, MAX(boundary) AS hi FROM register_reads"
    )
    lo, hi = table.column("lo")[0].as_py(), table.column("hi")[0].as_py()
    if lo is None or hi is None:
        return []
    first, last = day_of_slot(int(lo)), day_of_slot(int(hi) - 1)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
