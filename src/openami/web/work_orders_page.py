"""Work orders page: the backlog of open orders, lead times against their targets per kind,
and the open fault tickets (issue #17 §2). Orders name supply points, so the page needs the
``view-personal`` permission (operator, approver, admin); steps are taken through
``/v1/work-orders`` or ``openami assets work-orders``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from openami.clock import DAY_SECONDS, JST
from openami.hub.operators import Operator
from openami.hub.work_orders import OPEN_STATES, work_orders_of
from openami.web.auth import personal
from openami.web.common import hub, render

router = APIRouter(include_in_schema=False)
PAGE_ROWS = 500  # open orders shown (the oldest first); the total is counted


def _when(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, JST).strftime("%Y-%m-%d %H:%M")


@router.get("/work-orders", response_class=HTMLResponse)
def work_orders(request: Request, who: Annotated[Operator, Depends(personal)]) -> HTMLResponse:
    service = work_orders_of(hub(request))
    now_s = hub(request).clock.timestamp()
    backlog = [
        {
            "id": r.work_order_id,
            "kind": r.kind,
            "state": r.state,
            "supply_point_id": r.supply_point_id,
            "assigned_to": r.assigned_to or "",
            "requested": _when(r.requested_at),
            "age_days": round((now_s - r.requested_at) / DAY_SECONDS, 1),
            "overdue": (now_s - r.requested_at) / DAY_SECONDS > r.target_days,
        }
        for state in OPEN_STATES
        for r in service.store.listing((state,), limit=PAGE_ROWS)
    ]
    tickets = [
        {
            "id": t.ticket_id,
            "meter_id": t.meter_id,
            "cause": t.cause,
            "source": t.source,
            "opened": _when(t.opened_at),
            "work_order_id": t.work_order_id,
        }
        for t in service.store.tickets(open_only=True)
    ]
    backlog.sort(key=lambda o: int(o["id"]))  # type: ignore[call-overload]
    total = service.store.count(OPEN_STATES)
    values = {"backlog": backlog[:PAGE_ROWS], "backlog_total": total, "tickets": tickets}
    values["lead_times"] = service.lead_times()
    return render(request, "work_orders.html", values)
