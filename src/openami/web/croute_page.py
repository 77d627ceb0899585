"""Dashboard C-route page: is the hub delivering to retailers and third parties?

For one JST day, delivery latency per slot (p50/p95 against the 60-minute target) and
completeness at +60 min / +24 h / final, from :func:`openami.hub.slo.slot_slo`; then, over
the hub's whole history, retailer requests by kind and status (the latest paginated and
sorted on the server), consents by status and webhook deliveries by state with their latest
rows. No secret, callback URL, notification body or customer ID is ever read.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from openami.bus.messages import DELIVERY_DEADLINE_S
from openami.clock import JST, SLOTS_PER_DAY, day_first_slot, slot_start
from openami.hub.dashboard import (
    CONSENT_STATUSES,
    REQUEST_SORT_KEYS,
    consent_counts,
    delivery_counts,
    latest_consents,
    latest_deliveries,
    latest_requests,
    request_counts,
    subscription_count,
)
from openami.hub.operators import Operator
from openami.hub.slo import SlotSlo, slot_slo, summary
from openami.web.auth import operator
from openami.web.charts import Series, line_chart
from openami.web.common import bad_request, data_days, hub, int_param, render, selected_day
from openami.web.i18n import pick_language, translator

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
REQUEST_KINDS = ("switch_start", "reconnect", "disconnect", "ampere_change")
REQUEST_STATUSES = (
    "received",
    "accepted",
    "scheduled",
    "completed",
    "failed",
    "rejected",
    "cancelled",
)
DELIVERY_STATES = ("pending", "delivered", "failed")


def when(epoch_s: float | None) -> str:
    """An instant as JST ``YYYY-MM-DD HH:MM``; "—" for none."""
    if epoch_s is None:
        return "—"
    return datetime.fromtimestamp(epoch_s, JST).strftime("%Y-%m-%d %H:%M")


def latency_chart(rows: list[SlotSlo], label: str, p50: str, p95: str, target: str) -> object:
    """p50 and p95 latency per slot in minutes, with the 60-minute target as a dashed line."""
    labels = [slot_start(r.slot).strftime("%H:%M") for r in rows]

    def minutes(v: float | None) -> float | None:
        return None if v is None else v / 60.0

    p95s = [minutes(r.latency_p95_s) for r in rows]
    # twice the target at least, in steps of 40 min so the four grid lines fall on 10 min
    top = max([DELIVERY_DEADLINE_S / 60.0 * 2, *(v * 1.1 for v in p95s if v is not None)])
    return line_chart(
        "slo-chart",
        label,
        labels,
        [
            Series(p50, [minutes(r.latency_p50_s) for r in rows], "s0"),
            Series(p95, p95s, "s1"),
        ],
        y_min=0.0,
        y_max=math.ceil(top / 40) * 40,
        targets=[(DELIVERY_DEADLINE_S / 60.0, target, "s1")],
        fmt=lambda v: f"{v:.0f} min",
    )


@router.get("/croute", response_class=HTMLResponse)
def croute(request: Request, _: Annotated[Operator, Depends(operator)]) -> HTMLResponse:
    context = hub(request)
    t = translator(pick_language(request))
    days = data_days(context)
    selected = selected_day(request, context, days)
    sort = request.query_params.get("sort", "received_at")
    if sort not in REQUEST_SORT_KEYS:
        raise bad_request("invalid_sort", f"sort must be one of {', '.join(REQUEST_SORT_KEYS)}")
    direction = request.query_params.get("dir", "desc")
    if direction not in ("asc", "desc"):
        raise bad_request("invalid_sort", "dir must be asc or desc")
    # page numbers are checked before any query runs: a bad one is a 422, not a 500
    pages_wanted = {k: int_param(request, k, 1, 1, 10**9) for k in ("page", "cpage", "wpage")}
    now_s = context.clock.timestamp()

    slots: list[SlotSlo] = []
    chart: object = None
    if selected is not None:
        first = day_first_slot(selected)
        slots = slot_slo(context.mdms, first, first + SLOTS_PER_DAY - 1, now_s)
        if any(r.with_value_now or r.latency_p95_s is not None for r in slots):
            chart = latency_chart(
                slots, t("croute.latency"), t("croute.p50"), t("croute.p95"), t("target")
            )
        else:
            slots = []

    by_kind = request_counts(context)
    req_total, _rows = latest_requests(context, sort, direction == "desc", 0, 0)
    req_pages = max(1, math.ceil(req_total / PAGE_SIZE))
    req_page = min(pages_wanted["page"], req_pages)
    _t, requests = latest_requests(
        context, sort, direction == "desc", (req_page - 1) * PAGE_SIZE, PAGE_SIZE
    )
    statuses = [s for s in REQUEST_STATUSES if any(st == s for _k, st, _n in by_kind)]
    statuses += sorted({st for _k, st, _n in by_kind} - set(statuses))
    kinds = [k for k in REQUEST_KINDS if any(kk == k for kk, _s, _n in by_kind)]
    kinds += sorted({kk for kk, _s, _n in by_kind} - set(kinds))
    cells = {(k, s): n for k, s, n in by_kind}

    c_counts = consent_counts(context, now_s)
    c_total, _rows2 = latest_consents(context, now_s, 0, 0)
    c_pages = max(1, math.ceil(c_total / PAGE_SIZE))
    c_page = min(pages_wanted["cpage"], c_pages)
    _t2, consents = latest_consents(context, now_s, (c_page - 1) * PAGE_SIZE, PAGE_SIZE)

    w_counts = delivery_counts(context)
    w_total, _rows3 = latest_deliveries(context, 0, 0)
    w_pages = max(1, math.ceil(w_total / PAGE_SIZE))
    w_page = min(pages_wanted["wpage"], w_pages)
    _t3, deliveries = latest_deliveries(context, (w_page - 1) * PAGE_SIZE, PAGE_SIZE)

    def pager_of(param: str) -> object:
        return lambda p: str(request.url.include_query_params(**{param: p}))

    def sort_url(key: str) -> str:
        flip = "asc" if key == sort and direction == "desc" else "desc"
        return str(request.url.include_query_params(sort=key, dir=flip, page=1))

    return render(
        request,
        "croute.html",
        {
            "days": days,
            "selected": selected,
            "slots": slots,
            "slot_label": lambda r: slot_start(r.slot).strftime("%H:%M"),
            "summary": summary(slots) if slots else None,
            "target_min": DELIVERY_DEADLINE_S / 60.0,
            "chart": chart,
            "kinds": kinds,
            "statuses": statuses,
            "cells": cells,
            "kind_totals": {k: sum(cells.get((k, s), 0) for s in statuses) for k in kinds},
            "status_totals": {s: sum(cells.get((k, s), 0) for k in kinds) for s in statuses},
            "requests": requests,
            "request_total": req_total,
            "req_page": req_page,
            "req_pages": req_pages,
            "req_url": pager_of("page"),
            "sort": sort,
            "dir": direction,
            "sort_url": sort_url,
            "sort_keys": REQUEST_SORT_KEYS,
            "consent_statuses": [s for s in CONSENT_STATUSES if s in c_counts],
            "consent_counts": c_counts,
            "consents": consents,
            "consent_total": c_total,
            "c_page": c_page,
            "c_pages": c_pages,
            "c_url": pager_of("cpage"),
            "delivery_states": [s for s in DELIVERY_STATES if s in w_counts]
            + sorted(set(w_counts) - set(DELIVERY_STATES)),
            "delivery_counts": w_counts,
            "subscriptions": subscription_count(context),
            "deliveries": deliveries,
            "delivery_total": w_total,
            "w_page": w_page,
            "w_pages": w_pages,
            "w_url": pager_of("wpage"),
            "when": when,
            "minutes": lambda s: "—" if s is None else f"{s / 60.0:.1f}",
        },
    )
