"""Dashboard page of meters installed by third parties: the operators' duty alerts, the
meters per type, the type-approval register, and who is responsible for and pays what."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from openami.clock import JST
from openami.hub.operators import Operator
from openami.hub.third_party_services import operator_duty_alerts, third_party_meters
from openami.registry.third_party import STAGES
from openami.web.auth import operator
from openami.web.common import hub, int_param, render

router = APIRouter(include_in_schema=False)
TYPES = ("i", "i-2", "ii", "iii")


@router.get("/third-party", response_class=HTMLResponse)
def third_party(request: Request, _: Annotated[Operator, Depends(operator)]) -> HTMLResponse:
    context = hub(request)
    today = context.clock.now().astimezone(JST).date()
    horizon = int_param(request, "horizon", 90, 0, 3650)
    service = third_party_meters(context)
    alerts = operator_duty_alerts(context, today, horizon)
    return render(
        request,
        "third_party.html",
        {
            "today": today,
            "horizon": horizon,
            "alerts": alerts,
            "counts": service.store.counts_on(today),
            "types": TYPES,
            "kinds": service.store.installation_types(),
            "stages": STAGES,
            "matrix": service.store.responsibilities(),
            "costs": service.store.cost_attributions(),
            "approvals": service.store.approvals(),
        },
    )
