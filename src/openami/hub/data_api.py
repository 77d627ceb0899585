"""C-route JSON data API: half-hour values, register reads, daily and monthly sums.

Who sees what, checked on every request:

- a **retailer** (client-credentials token) sees a supply point for the JST days it
  supplied it (``supply_contracts``), whatever range it asks for; the answer is cut to
  those days and ``403 not_supplied_by_client`` when none is left;
- a **third party** sees what a **live** consent covers (token from the authorization
  code grant): the consent's supply points, data kinds and period of data, while it is
  ``active`` and before its expiry. A revoked or expired consent gives ``403
  consent_not_live`` on the next request.

Every value carries its ``quality`` and whether it is ``final``. Ranges: ``from``/``to``
(JST days, inclusive; months ``YYYY-MM`` for monthly sums), ``updated-since`` (only what
was recorded after that instant), ``limit``/``offset`` paging with a ``next`` link.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic_core import to_json

from openami.bus.messages import read_source_name
from openami.clock import JST, SLOTS_PER_DAY, day_first_slot, slot_start
from openami.hub.api import ApiError, ctx
from openami.hub.audit import AuditedRoute, record_reads
from openami.hub.consent_access import Access, access
from openami.hub.context import HubContext
from openami.hub.data_models import (
    DailySum,
    HalfHourDay,
    IntervalValue,
    MonthlySum,
    Page,
    PointsPage,
    RegisterRead,
)
from openami.hub.errors import api_error as _error
from openami.hub.lanes import in_quick_lane
from openami.hub.oauth import Party, current_party
from openami.hub.oauth_grants import consent_store
from openami.hub.values import daily_sums, recorded_after, service_starts, visible_values
from openami.mdms.reports import MdmsReports

router = APIRouter(route_class=AuditedRoute, tags=["data"])

MAX_DAYS = 400  # per request (about 13 months); half-hour values are paged within it
MAX_LIMIT = SLOTS_PER_DAY * 31
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ApiError} for s in (400, 401, 403, 404, 422, 429)
}

FromQ = Annotated[date | None, Query(alias="from", description="first JST day")]
ToQ = Annotated[date | None, Query(alias="to", description="last JST day (inclusive)")]
SinceQ = Annotated[
    datetime | None,
    Query(alias="updated-since", description="only values recorded after this (no zone: UTC)"),
]
LimitQ = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
OffsetQ = Annotated[int, Query(ge=0, le=10_000_000)]
SpPath = Annotated[str, Path(description="22-digit supply point ID")]


_ITEM_COLUMNS = [
    "slot",
    "import_wh",
    "export_wh",
    "quality",
    "method",
    "final",
    "version",
    "recorded_at",
]


def _day_range(context: HubContext, first: date | None, last: date | None) -> tuple[date, date]:
    today = datetime.fromtimestamp(context.clock.timestamp(), JST).date()
    last = last or today
    if not FIRST_DAY <= last <= LAST_DAY or not (first is None or first >= FIRST_DAY):
        raise _error(400, "invalid_period", "days must lie in 2000-2099")
    first = first or max(FIRST_DAY, last - timedelta(days=1))
    if first > last:
        raise _error(400, "invalid_period", "from comes after to")
    if (last - first).days >= MAX_DAYS:
        raise _error(400, "period_too_long", f"at most {MAX_DAYS} days per request")
    return first, last


def _since(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _iso(epoch_s: float | None) -> str | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s, JST).isoformat()


def _next(request: Request, offset: int, limit: int, total: int) -> str | None:
    if offset + limit >= total:
        return None
    return str(request.url.include_query_params(offset=offset + limit))


def _visible(context: HubContext, acc: Access) -> pa.Table:
    return visible_values(context.mdms, acc.key, acc.ranges(), service_starts(context))


def _audit(context: HubContext, party: Party, resource: str, acc: Access) -> None:
    period = f"{acc.days[0][0]}..{acc.days[-1][1]}"
    record_reads(
        context, party.client.client_id, resource, [(acc.supply_point_id, period)], acc.purpose
    )


def _page(
    acc: Access, first: date, last: date, total: int, nxt: str | None, items: list[Any]
) -> dict[str, Any]:
    return {
        "supply_point_id": acc.supply_point_id,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "total": total,
        "next": nxt,
        "items": items,
    }


# -- endpoints -------------------------------------------------------------------------------
@router.get("/v1/supply-points", response_model=PointsPage, responses=_ERRORS)
def supply_points(
    context: Annotated[HubContext, Depends(ctx)],
    party: Annotated[Party, Depends(current_party)],
    request: Request,
    first: FromQ = None,
    last: ToQ = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: OffsetQ = 0,
) -> PointsPage:
    """Supply points the caller may read in ``[from, to]``, each with its periods."""
    first, last = _day_range(context, first, last)
    if party.client.role == "retailer":
        rows = context.registry.supplied_points(
            party.client.party_id, first, last, limit + 1, offset
        )
        periods: dict[str, list[dict[str, str]]] = defaultdict(list)
        for _key, sp, a, b in rows:
            periods[sp].append({"from": a.isoformat(), "to": (b - timedelta(days=1)).isoformat()})
        ids = list(periods)
    elif party.consent_id is not None:
        consent = consent_store(context).get(party.consent_id)
        now_s = context.clock.timestamp()
        if consent is None or not consent.is_live(now_s):
            raise _error(403, "consent_not_live", "the consent is not live")
        ids = list(consent.supply_point_ids)[offset : offset + limit + 1]
        span = {"from": consent.period_from.isoformat(), "to": consent.period_to.isoformat()}
        periods = {sp: [span] for sp in ids}
    else:
        raise _error(403, "no_consent", "no live consent behind this token")
    more = len(ids) > limit
    items = [{"supply_point_id": sp, "periods": periods[sp]} for sp in ids[:limit]]
    nxt = str(request.url.include_query_params(offset=offset + limit)) if more else None
    return PointsPage(items=items, next=nxt)


@router.get(
    "/v1/supply-points/{supply_point_id}/intervals",
    response_model=Page[IntervalValue],
    responses=_ERRORS,
)
def intervals(
    context: Annotated[HubContext, Depends(ctx)],
    party: Annotated[Party, Depends(current_party)],
    request: Request,
    supply_point_id: SpPath,
    first: FromQ = None,
    last: ToQ = None,
    updated_since: SinceQ = None,
    limit: LimitQ = 480,
    offset: OffsetQ = 0,
) -> dict[str, Any]:
    """Half-hour values (import, export [Wh]) with quality, final flag and version."""
    first, last = _day_range(context, first, last)
    acc = access(context, party, supply_point_id, "half_hour", first, last)
    table = recorded_after(_visible(context, acc), _since(updated_since))
    total = table.num_rows
    _audit(context, party, "intervals", acc)
    return _page(
        acc,
        first,
        last,
        total,
        _next(request, offset, limit, total),
        interval_items(table.slice(offset, limit)),
    )


def interval_items(table: pa.Table) -> list[dict[str, Any]]:
    """The API's items of current values (columns of ``Mdms.current_values``)."""
    return [
        {
            "slot_start": slot_start(int(r["slot"])).isoformat(),
            "import_wh": r["import_wh"],
            "export_wh": r["export_wh"],
            "quality": r["quality"],
            "method": r["method"],
            "final": bool(r["final"]),
            "version": r["version"],
            "updated_at": _iso(r["recorded_at"]),
        }
        for r in table.select(_ITEM_COLUMNS).to_pylist()
    ]


@router.get(
    "/v1/supply-points/{supply_point_id}/half-hour-values",
    response_model=HalfHourDay,
    responses=_ERRORS,
)
async def half_hour_values(
    context: Annotated[HubContext, Depends(ctx)],
    party: Annotated[Party, Depends(current_party)],
    supply_point_id: SpPath,
    day: Annotated[date, Query(alias="date", description="JST day, YYYY-MM-DD")],
) -> Response:
    """The 48 half-hour values of one JST day, slots without a value yet marked
    ``not_yet_available``: the values of ``/intervals?from=D&to=D`` (same access rules),
    in the older one-day shape."""
    return await in_quick_lane(context, _half_hour_day, context, party, supply_point_id, day)


def _half_hour_day(context: HubContext, party: Party, supply_point_id: str, day: date) -> Response:
    acc = access(context, party, supply_point_id, "half_hour", day, day)
    record_reads(
        context,
        party.client.client_id,
        "half-hour-values",
        [(supply_point_id, str(day))],
        acc.purpose,
    )
    values = _visible(context, acc)
    first_slot = day_first_slot(day)
    position = np.asarray(values.column("slot").to_numpy(), dtype=np.int64) - first_slot
    imports: list[int | None] = [None] * SLOTS_PER_DAY
    exports: list[int | None] = [None] * SLOTS_PER_DAY
    qualities = ["not_yet_available"] * SLOTS_PER_DAY
    for pos, imp, exp, quality in zip(
        position.tolist(),
        values.column("import_wh").to_pylist(),
        values.column("export_wh").to_pylist(),
        values.column("quality").to_pylist(),
        strict=True,
    ):
        imports[pos], exports[pos], qualities[pos] = imp, exp, quality
    starts = _slot_starts(first_slot)
    slots = [
        {
            "slot_start": starts[pos],
            "import_wh": imports[pos],
            "export_wh": exports[pos],
            "quality": qualities[pos],
        }
        for pos in range(SLOTS_PER_DAY)
    ]
    body = {"supply_point_id": supply_point_id, "date": day.isoformat(), "slots": slots}
    # the shape of HalfHourDay, built here: serialised at once, not validated again
    return Response(to_json(body), media_type="application/json")


@lru_cache(maxsize=1024)
def _slot_starts(first_slot: int) -> tuple[str, ...]:
    """ISO starts (JST) of the 48 slots of the day that begins at ``first_slot``."""
    return tuple(slot_start(first_slot + pos).isoformat() for pos in range(SLOTS_PER_DAY))


@router.get(
    "/v1/supply-points/{supply_point_id}/register-reads",
    response_model=Page[RegisterRead],
    responses=_ERRORS,
)
def register_reads(
    context: Annotated[HubContext, Depends(ctx)],
    party: Annotated[Party, Depends(current_party)],
    request: Request,
    supply_point_id: SpPath,
    first: FromQ = None,
    last: ToQ = None,
    updated_since: SinceQ = None,
    limit: LimitQ = 480,
    offset: OffsetQ = 0,
) -> dict[str, Any]:
    """Register reads (import/export registers [Wh]) at :00/:30 of the meters installed."""
    first, last = _day_range(context, first, last)
    acc = access(context, party, supply_point_id, "register_reads", first, last)
    table, total = MdmsReports(context.mdms).register_reads_page(
        acc.key, acc.ranges(), _since(updated_since), limit, offset
    )
    _audit(context, party, "register-reads", acc)
    items = [
        {
            "at": slot_start(int(r["boundary"])).isoformat(),
            "meter_id": r["meter_id"],
            "import_register_wh": r["import_register_wh"],
            "export_register_wh": r["export_register_wh"],
            "quality": "measured",
            "source": read_source_name(r["source"]),
            "final": bool(r["final"]),
            "updated_at": _iso(r["updated_at"]),
        }
        for r in table.to_pylist()
    ]
    return _page(acc, first, last, total, _next(request, offset, limit, total), items)


def _quality(present: int, expected: int, estimated: int, edited: int) -> str:
    if present < expected:
        return "incomplete"
    if estimated:
        return "estimated"
    return "edited" if edited else "measured"


def _days(context: HubContext, acc: Access, since: float | None) -> list[dict[str, Any]]:
    """Daily sums of the values the caller may see (the same values as ``/intervals``)."""
    rows = daily_sums(_visible(context, acc), since).to_pylist()
    return [
        {
            "date": r["day"].isoformat(),
            "import_wh": r["import_wh"],
            "export_wh": r["export_wh"],
            "slots_with_values": r["values_present"],
            "quality": _quality(r["values_present"], SLOTS_PER_DAY, r["estimated"], r["edited"]),
            "final": r["final_slots"] == SLOTS_PER_DAY,
            "updated_at": r["updated_at"],
        }
        for r in rows
    ]


@router.get(
    "/v1/supply-points/{supply_point_id}/daily",
    response_model=Page[DailySum],
    responses=_ERRORS,
)
def daily(
    context: Annotated[HubContext, Depends(ctx)],
    party: Annotated[Party, Depends(current_party)],
    request: Request,
    supply_point_id: SpPath,
    first: FromQ = None,
    last: ToQ = None,
    updated_since: SinceQ = None,
    limit: Annotated[int, Query(ge=1, le=MAX_DAYS)] = 31,
    offset: OffsetQ = 0,
) -> dict[str, Any]:
    """Daily sums per JST day: ``quality`` incomplete (fewer than 48 values), estimated,
    edited or measured; ``final`` when all 48 values are final."""
    first, last = _day_range(context, first, last)
    acc = access(context, party, supply_point_id, "daily", first, last)
    rows = _days(context, acc, _since(updated_since))
    _audit(context, party, "daily", acc)
    for r in rows:
        r["updated_at"] = _iso(r["updated_at"])
    items = rows[offset : offset + limit]
    return _page(acc, first, last, len(rows), _next(request, offset, limit, len(rows)), items)


def _month(text: str | None, default: date) -> date:
    if text is None:
        return default.replace(day=1)
    try:
        parsed = datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise _error(400, "invalid_month", f"{text!r} is not YYYY-MM") from None
    if not FIRST_DAY.year <= parsed.year <= LAST_DAY.year:
        raise _error(400, "invalid_month", "months must lie in 2000-2099")
    return parsed


@router.get(
    "/v1/supply-points/{supply_point_id}/monthly",
    response_model=Page[MonthlySum],
    responses=_ERRORS,
)
def monthly(
    context: Annotated[HubContext, Depends(ctx)],
    party: Annotated[Party, Depends(current_party)],
    supply_point_id: SpPath,
    first_month: Annotated[str | None, Query(alias="from", description="YYYY-MM")] = None,
    last_month: Annotated[str | None, Query(alias="to", description="YYYY-MM")] = None,
    updated_since: SinceQ = None,
) -> dict[str, Any]:
    """Monthly sums over the days the caller may see in each month (``days`` with values,
    ``days_visible``); quality and final as for daily sums, over the whole month."""
    today = datetime.fromtimestamp(context.clock.timestamp(), JST).date()
    start = _month(first_month, today)
    end_month = _month(last_month, today)
    end = (end_month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    first, last = _day_range(context, start, end)
    acc = access(context, party, supply_point_id, "monthly", first, last)
    by_month: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for r in _days(context, acc, None):
        d = date.fromisoformat(r["date"])
        by_month[(d.year, d.month)].append(r)
    since = _since(updated_since)
    items = []
    for (y, m), days in sorted(by_month.items()):
        updated = max(r["updated_at"] for r in days)
        if since is not None and updated <= since:
            continue
        visible = acc.day_count((y, m))
        complete = sum(r["quality"] != "incomplete" for r in days)
        items.append(
            {
                "month": f"{y:04d}-{m:02d}",
                "import_wh": sum(r["import_wh"] or 0 for r in days),
                "export_wh": sum(r["export_wh"] or 0 for r in days),
                "days": len(days),
                "days_visible": visible,
                "quality": _quality(
                    complete,
                    visible,
                    sum(r["quality"] == "estimated" for r in days),
                    sum(r["quality"] == "edited" for r in days),
                ),
                "final": len(days) == visible and all(r["final"] for r in days),
                "updated_at": _iso(updated),
            }
        )
    _audit(context, party, "monthly", acc)
    return _page(acc, first, last, len(items), None, items)
