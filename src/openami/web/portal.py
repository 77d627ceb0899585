"""The customer portal's pages at ``/my/`` (issue #18 §5).

- ``GET /my/``: the customer's supply points (only the ones they hold);
- ``GET /my/points/{id}?view=day|month|year&date=YYYY-MM-DD``: the load curve of one of
  them (half hours of a day, days of a month, months of a year; server-rendered SVG), the
  comparison with the previous period and the same period a year earlier, the estimated
  charges (:mod:`.portal_charges`) and the Download My Data form (:mod:`.portal_downloads`).

Every page needs the customer's session (:mod:`.portal_auth`); another customer's point,
or an id that does not exist, is ``404`` (:func:`.portal_data.own_point`). A point page
(up to two years of values for a year view) counts against the customer's request budget
(``rate_limits``, key ``customer:<id>``). Reads are in the audit log (actor
``customer:<id>``). Consents are :mod:`.portal_consents`.
"""

from __future__ import annotations

import calendar
from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from openami.clock import JST
from openami.hub.audit import record_reads
from openami.hub.context import HubContext
from openami.hub.ratelimit import enforce
from openami.web.charts import bar_chart, load_curve
from openami.web.common import bad_request, data_days, default_day, hub, selected_day
from openami.web.i18n import pick_language, translator
from openami.web.portal_auth import PURPOSE_OWN_DATA, CustomerSession, render_my
from openami.web.portal_charges import Charges, estimate, portal_tariff
from openami.web.portal_data import (
    VIEWS,
    Curve,
    comparisons,
    curve,
    own_point,
    own_points,
    period_values,
    shift,
)

router = APIRouter(prefix="/my", include_in_schema=False)
PointId = Annotated[str, Path(max_length=40)]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: CustomerSession) -> HTMLResponse:
    context = hub(request)
    points = own_points(context, session.operator.name)
    amperages = context.registry.current_amperages(list(points.values()))
    rows = []
    for sp_id, key in points.items():
        sp = context.registry.supply_point(sp_id)
        rows.append(
            {
                "supply_point_id": sp_id,
                "area_code": sp.area_code if sp else "",
                "contract_amperage_a": amperages.get(key),
            }
        )
    return render_my(request, "my/home.html", {"points": rows})


def _view(request: Request) -> str:
    view = request.query_params.get("view", "day")
    if view not in VIEWS:
        raise bad_request("invalid_view", f"view must be one of {', '.join(VIEWS)}")
    return view


def _day(request: Request, context: HubContext) -> date:
    day = selected_day(request, context, [])
    if day is None:
        day = default_day(context, data_days(context))
    return day or context.clock.now().astimezone(JST).date()


def _chart(view: str, c: Curve, lang: str) -> Markup:
    t = translator(lang)
    if view == "day":
        return load_curve(
            "my-load-curve",
            t("my.load_curve"),
            c.labels,
            c.import_wh,
            c.export_wh,
            c.qualities,
            names=(t("sp.import"), t("sp.export")),
            quality_names=lambda q: t("quality." + q),
        )
    return bar_chart(
        "my-load-curve",
        t("my.load_curve"),
        c.labels,
        [(v or 0) / 1000.0 for v in c.import_wh],
        fmt=lambda v: f"{v:,.1f} kWh",
    )


def _charges(
    request: Request, context: HubContext, key: int, view: str, c: Curve
) -> tuple[Charges, int | None]:
    amperage = context.registry.current_amperages([key]).get(key)
    if view == "day":
        months = 1.0 / calendar.monthrange(c.first.year, c.first.month)[1]
    elif view == "month":
        months = 1.0
    else:
        months = float(sum(v is not None for v in c.import_wh))
    values = period_values(context, key, c.first, c.last)
    return estimate(portal_tariff(request.app.state), values, amperage, months), amperage


@router.get("/points/{supply_point_id}", response_class=HTMLResponse)
def point_page(
    request: Request, session: CustomerSession, supply_point_id: PointId
) -> HTMLResponse:
    context = hub(request)
    customer_id = session.operator.name
    try:
        key = own_point(context, customer_id, supply_point_id)
    except HTTPException as exc:  # a page for people: the same 404, in their language
        return render_my(request, "my/not_found.html", {}, status_code=exc.status_code)
    enforce(context.rate_limits, f"customer:{customer_id}", context.clock.timestamp())
    view, day = _view(request), _day(request, context)
    lang = pick_language(request)
    c = curve(context, key, view, day)
    charges, amperage = _charges(request, context, key, view, c)
    record_reads(
        context,
        f"customer:{customer_id}",
        f"portal {view} view",
        [(supply_point_id, f"{c.first}..{c.last}")],
        purpose=PURPOSE_OWN_DATA,
    )
    sp = context.registry.supply_point(supply_point_id)
    return render_my(
        request,
        "my/point.html",
        {
            "sp_id": supply_point_id,
            "area_code": sp.area_code if sp else "",
            "view": view,
            "views": VIEWS,
            "day": day,
            "curve": c,
            "chart": _chart(view, c, lang),
            "comparisons": comparisons(context, key, view, day),
            "charges": charges,
            "amperage": amperage,
            "tariff": portal_tariff(request.app.state),
            "prev_day": shift(view, day, periods=-1),
            "next_day": shift(view, day, periods=1),
        },
    )
