"""C-route demand API of high-voltage points: monthly maximum demand and contract kW (実量制).

``GET /v1/supply-points/{id}/demand?month=YYYY-MM`` — for a retailer that supplies the point
in that month (bearer token, the data API's access rule and audit). The contract kW is the
point's: the largest maximum demand of the month and the 11 before it
(``mdms/high_voltage.py``), computed over all 12 months; the figures of months the retailer
did not supply the point are left out (``visible: false``). Third parties get 403
(``forbidden``: a wheeling figure), a low-voltage point 422 (``not_high_voltage``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from openami.clock import JST
from openami.hub.api import ApiError, ctx
from openami.hub.audit import AuditedRoute, record_reads
from openami.hub.consent_access import access
from openami.hub.context import HubContext
from openami.hub.errors import api_error as _error
from openami.hub.oauth import Party, current_party
from openami.mdms.high_voltage import HighVoltage, HighVoltageError

router = APIRouter(route_class=AuditedRoute, tags=["data"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ApiError} for s in (400, 401, 403, 404, 422, 429)
}


class DemandMonth(BaseModel):
    month: str
    visible: bool
    energy_wh: int | None
    max_demand_kw: float | None
    slots_with_value: int | None
    slots_in_month: int


class ContractDemand(BaseModel):
    supply_point_id: str
    month: str
    contract_kw: int
    max_demand_kw: float | None
    negotiated: bool
    months: list[DemandMonth]


def _month(text: str) -> date:
    try:
        parsed = datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise _error(400, "invalid_month", f"{text!r} is not YYYY-MM") from None
    if not 2000 <= parsed.year <= 2099:
        raise _error(400, "invalid_month", "months must lie in 2000-2099")
    return parsed


def _month_end(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


@router.get(
    "/v1/supply-points/{supply_point_id}/demand",
    response_model=ContractDemand,
    responses=_ERRORS,
)
def demand(
    context: Annotated[HubContext, Depends(ctx)],
    party: Annotated[Party, Depends(current_party)],
    supply_point_id: Annotated[str, Path(description="22-digit supply point ID")],
    month: Annotated[str | None, Query(description="YYYY-MM (default: this month)")] = None,
) -> dict[str, Any]:
    """Monthly maximum demand of the month and the 11 before it, and the contract kW."""
    today = datetime.fromtimestamp(context.clock.timestamp(), JST).date()
    first = _month(month) if month else today.replace(day=1)
    if party.client.role != "retailer":
        raise _error(403, "forbidden", "the contract kW is served to the supplying retailer")
    acc = access(context, party, supply_point_id, "monthly", first, _month_end(first))
    try:
        result = HighVoltage(context.mdms, context.registry).contract(acc.key, first)
    except HighVoltageError:
        raise _error(422, "not_high_voltage", "the supply point is not high voltage") from None
    periods = context.registry.retailer_periods(acc.key, party.client.party_id)

    def supplied(m: date) -> bool:
        return any(a <= _month_end(m) and m < b for a, b in periods)

    months = [
        {
            "month": f"{m.month:%Y-%m}",
            "visible": supplied(m.month),
            "energy_wh": m.energy_wh if supplied(m.month) else None,
            "max_demand_kw": m.max_demand_kw if supplied(m.month) else None,
            "slots_with_value": m.slots_with_value if supplied(m.month) else None,
            "slots_in_month": m.slots_in_month,
        }
        for m in result.months
    ]
    record_reads(
        context,
        party.client.client_id,
        "demand",
        [(supply_point_id, f"{months[0]['month']}..{months[-1]['month']}")],
        acc.purpose,
    )
    return {
        "supply_point_id": supply_point_id,
        "month": f"{first:%Y-%m}",
        "contract_kw": result.contract_kw,
        "max_demand_kw": result.max_demand_kw,
        "negotiated": result.negotiated,
        "months": months,
    }
