"""HTTP API of wheeling charges: ``GET /v1/wheeling-charges?period=YYYY-MM``.

A retailer (client-credentials token) gets its own invoice lines for the billing month: one
per supply point and billing period it supplied (:mod:`openami.mdms.wheeling`), computed
from its own supply contracts only, so no other retailer's point, charge or consumption is
read. Third parties and operator clients get ``403 E_RETAILER_ONLY``. A malformed period is
``422 invalid_request``; a month or area the tariff tables do not cover is ``404
E_UNKNOWN_TARIFF``. Every supply point in the answer is logged as a read of personal data.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from openami.clock.calendar import CalendarError
from openami.hub.api import ApiError, ctx, current_client
from openami.hub.audit import AuditedRoute, record_reads
from openami.hub.context import HubContext
from openami.mdms.wheeling import wheeling_for
from openami.mdms.wheeling_tariffs import TariffTables, UnknownTariff, load_tariffs
from openami.storage.repositories.clients import ApiClient

router = APIRouter(route_class=AuditedRoute, tags=["wheeling charges"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ApiError} for s in (401, 403, 404, 422, 429)
}
_TARIFFS = "wheeling_tariffs"  # HubContext.services key of the tariff tables
PERIOD_PATTERN = r"^\d{4}-\d{2}$"


class WheelingLine(BaseModel):
    supply_point_id: str
    area_code: str
    menu: str
    period_start: str = Field(description="first JST day of the billing period (計量日)")
    period_end: str = Field(description="next 計量日 (exclusive)")
    supply_start: str = Field(description="first day billed to this retailer")
    supply_end: str = Field(description="day after the last day billed (exclusive)")
    days_share: float = Field(description="share of the period's days, pro-rates the basic charge")
    contract_amperage_a: int
    basic_quantity: float = Field(description="kVA, kW or 1 (per contract) the basic charge is on")
    kwh: float
    kwh_day: float
    kwh_night: float
    kwh_holiday: float
    max_demand_kw: float = Field(description="largest 30-minute import in the period, as kW")
    missing_slots: int
    estimated_slots: int
    basic_yen: int
    energy_yen: int
    total_yen: int
    tax_yen: int = Field(description="consumption tax included in total_yen")


class WheelingOut(BaseModel):
    period: str
    retailer_id: str
    lines: int
    total_yen: int
    items: list[WheelingLine]
    next: str | None


def tariffs_of(context: HubContext) -> TariffTables:
    """The hub's tariff tables: set in ``services`` by whoever builds the hub, else the
    shipped example configuration (loaded once)."""
    tables = context.services.get(_TARIFFS)
    if not isinstance(tables, TariffTables):
        tables = load_tariffs()
        context.services[_TARIFFS] = tables
    return tables


def _error(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail={"code": code, "message": message})


@router.get("/v1/wheeling-charges", response_model=WheelingOut, responses=_ERRORS)
def wheeling_charges(
    context: Annotated[HubContext, Depends(ctx)],
    client: Annotated[ApiClient, Depends(current_client)],
    request: Request,
    period: Annotated[str, Query(pattern=PERIOD_PATTERN, description="billing month YYYY-MM")],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> WheelingOut:
    """The calling retailer's wheeling charges of billing month ``period``, one line per
    supply point and billing period, with the month's total."""
    if client.role != "retailer":
        raise _error(403, "E_RETAILER_ONLY", "wheeling charges are billed to retailers only")
    try:
        lines = wheeling_for(context.mdms, tariffs_of(context), period, client.party_id)
    except CalendarError as exc:
        raise _error(422, "invalid_request", str(exc)) from None
    except UnknownTariff as exc:
        raise _error(404, exc.code, str(exc)) from None
    total = int(sum(lines.column("total_yen").to_pylist()))
    page = lines.slice(offset, limit)
    ids = context.registry.supply_point_ids(page.column("supply_point_key").to_pylist())
    rows = page.drop_columns(["retailer_id", "supply_point_key", "reading_day_code"]).to_pylist()
    items = [
        WheelingLine(supply_point_id=sp, **_jsonable(row))
        for sp, row in zip(ids, rows, strict=True)
    ]
    record_reads(
        context,
        client.client_id,
        "wheeling-charges",
        [(item.supply_point_id, f"{item.supply_start}..{item.supply_end}") for item in items],
    )
    more = offset + limit < lines.num_rows
    nxt = str(request.url.include_query_params(offset=offset + limit)) if more else None
    return WheelingOut(
        period=period,
        retailer_id=client.party_id,
        lines=lines.num_rows,
        total_yen=total,
        items=items,
        next=nxt,
    )


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}
