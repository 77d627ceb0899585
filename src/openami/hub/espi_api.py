"""Green Button ESPI on the C route: ``/espi/1_1/resource/...`` Atom feeds.

Same bearer tokens, rate limits and retailer authorization as ``/v1/...``: a retailer sees a
supply point only for the JST days it supplies it. Until per-customer consent exists, each
retailer client has one subscription (and one bulk id) whose id is its ``client_id``.

Resource ids never contain the 22-digit supply point ID (personal data): a UsagePoint id is
an HMAC-SHA256 of the ID under a deployment key (``HubContext.espi_id_key``, else the
``OPENAMI_ESPI_ID_KEY`` environment variable (hex), else a random key kept in the registry
database), shaped as a UUID. The ID itself is only inside the content
(``serviceDeliveryPoint/name``), which only the authorized retailer receives.

Query parameters (ESPI FB_37): ``published-min``/``published-max`` choose the period of
interval data (IntervalBlocks whose JST day overlaps it; default: yesterday and today,
at most 31 days); ``updated-min``/``updated-max`` keep only IntervalBlocks whose latest
value was recorded in that window (incremental pulls); ``max-results``/``start-index``
page the UsagePoints (Atom ``next`` link when more remain).
"""

from __future__ import annotations

import os
import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from openami.clock import JST, SLOT_SECONDS, day_first_slot
from openami.hub.api import ApiError, ctx, current_client
from openami.hub.audit import AuditedRoute, record_reads
from openami.hub.context import HubContext
from openami.protocols.espi import (
    ATOM_MEDIA_TYPE,
    Entry,
    Feed,
    Link,
    ServiceStatus,
    jp,
    write_entry,
    write_feed,
    write_service_status,
)
from openami.protocols.espi.feeds import (
    BASE,
    FeedBuilder,
    local_time_entry,
    reading_type_entry,
    urn,
)
from openami.protocols.espi.query import QueryError, aware, check_bounds, period_days
from openami.storage.repositories.clients import ApiClient
from openami.storage.repositories.settings import SettingsStore

MAX_WINDOW_DAYS = 31
MAX_POINT_DAYS_PER_PAGE = 3100  # 100 supply points × 31 days ≈ 300k readings

router = APIRouter(prefix=BASE, tags=["espi"], route_class=AuditedRoute)

_ATOM_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Atom document (application/atom+xml)",
        "content": {ATOM_MEDIA_TYPE: {"schema": {"type": "string"}}},
    },
    400: {"model": ApiError},
    401: {"model": ApiError},
    403: {"model": ApiError},
    404: {"model": ApiError},
    422: {"model": ApiError},
    429: {"model": ApiError},
}


def _error(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail={"code": code, "message": message})


def _atom(body: bytes) -> Response:
    return Response(content=body, media_type=ATOM_MEDIA_TYPE)


def _feed(
    feed_id: object, title: str, now: datetime, links: tuple[Link, ...], entries: Iterable[Entry]
) -> Response:
    return _atom(write_feed(Feed(urn(feed_id), title, now, links, tuple(entries))))


# -- opaque ids ------------------------------------------------------------------------------
@dataclass
class _Index:
    key: bytes
    by_uuid: dict[str, tuple[int, str]]  # usage point id -> (supply_point_key, supply point ID)
    by_key: dict[int, str]  # supply_point_key -> usage point id
    count: int


def _id_key(context: HubContext) -> bytes:
    if context.espi_id_key is not None:
        return context.espi_id_key
    env = os.environ.get("OPENAMI_ESPI_ID_KEY")
    if env:
        try:
            key = bytes.fromhex(env)
        except ValueError:
            raise RuntimeError("OPENAMI_ESPI_ID_KEY must be hex") from None
        if len(key) < 16:
            raise RuntimeError("OPENAMI_ESPI_ID_KEY must hold at least 16 bytes")
        return key
    settings = SettingsStore(context.clients.database)
    return bytes.fromhex(settings.get_or_set("espi_id_key", secrets.token_hex(32)))


def _index(request: Request, context: HubContext, refresh: bool = False) -> _Index:
    index: _Index | None = getattr(request.app.state, "espi_index", None)
    if index is not None and not refresh:
        return index
    if index is not None and context.registry.supply_point_count() == index.count:
        return index
    key = index.key if index is not None else _id_key(context)
    rows = context.registry.all_supply_point_ids().items()
    by_uuid = {str(jp.opaque_uuid(key, "UsagePoint", str(sp))): (int(k), str(sp)) for k, sp in rows}
    by_key = {k: up for up, (k, _) in by_uuid.items()}
    index = _Index(key, by_uuid, by_key, len(rows))
    request.app.state.espi_index = index
    return index


def _up_id(index: _Index, key: int, supply_point_id: str) -> str:
    cached = index.by_key.get(key)
    return (
        cached
        if cached is not None
        else str(jp.opaque_uuid(index.key, "UsagePoint", supply_point_id))
    )


# -- who may see what ------------------------------------------------------------------------
@dataclass
class _Point:
    key: int
    supply_point_id: str
    usage_point_id: str
    days: list[date]
    rated_current_a: int | None = None


def _supplied(
    context: HubContext,
    index: _Index,
    client: ApiClient,
    days: list[date],
    only_key: int | None = None,
    win: _Window | None = None,
) -> tuple[list[_Point], bool]:
    """Supply points the client's retailer supplies on some of ``days``, with those days.

    With ``win``, one page of points (by supply point key) and whether more follow; the
    paging happens in SQL, so a retailer with a million points costs one page of work.
    """
    if client.role != "retailer" or not days:
        return [], False
    size = _page_size(win) if win is not None else None
    rows = context.registry.supplied_points(
        client.party_id,
        days[0],
        days[-1],
        limit=size + 1 if size is not None else None,
        offset=win.start_index - 1 if win is not None and size is not None else 0,
        supply_point_key=only_key,
    )
    points: dict[int, _Point] = {}
    for key, sp, first, last in rows:
        covered = [d for d in days if first <= d < last]
        if covered:
            point = points.setdefault(
                int(key), _Point(int(key), str(sp), _up_id(index, int(key), str(sp)), [])
            )
            point.days = sorted(set(point.days) | set(covered))
    page = list(points.values())
    if size is not None and len(page) > size:
        return page[:size], True
    return page, False


def _with_rated_current(context: HubContext, page: list[_Point]) -> list[_Point]:
    """Fill in the contract amperage of the meter installed now (ESPI ratedCurrent)."""
    amps = context.registry.current_amperages([p.key for p in page])
    for point in page:
        point.rated_current_a = amps.get(point.key)
    return page


def _check_subscription(client: ApiClient, subscription_id: str) -> None:
    if subscription_id != client.client_id:
        raise _error(
            403,
            "not_your_subscription",
            f"subscription {subscription_id} does not belong to this client "
            "(each retailer client's subscription and bulk id is its client_id)",
        )


def _one_point(
    request: Request,
    context: HubContext,
    client: ApiClient,
    usage_point_id: str,
    days: list[date],
) -> _Point:
    index = _index(request, context)
    found = index.by_uuid.get(usage_point_id)
    if found is None:
        index = _index(request, context, refresh=True)
        found = index.by_uuid.get(usage_point_id)
    if found is None:
        raise _error(404, "unknown_usage_point", f"no UsagePoint {usage_point_id}")
    points, _ = _supplied(context, index, client, days, only_key=found[0])
    if points:
        return _with_rated_current(context, points)[0]
    raise _error(
        403,
        "not_supplied_by_client",
        f"UsagePoint {usage_point_id} is not supplied by {client.party_id} "
        f"between {days[0]} and {days[-1]}",
    )


# -- query parameters ------------------------------------------------------------------------
@dataclass
class _Window:
    days: list[date]
    updated_min: datetime | None
    updated_max: datetime | None
    max_results: int
    start_index: int


def window(
    context: Annotated[HubContext, Depends(ctx)],
    published_min: Annotated[
        datetime | None,
        Query(alias="published-min", description="start of the data period (xs:dateTime)"),
    ] = None,
    published_max: Annotated[
        datetime | None,
        Query(alias="published-max", description="end of the data period, exclusive"),
    ] = None,
    updated_min: Annotated[
        datetime | None,
        Query(alias="updated-min", description="only blocks updated at or after this time"),
    ] = None,
    updated_max: Annotated[
        datetime | None,
        Query(alias="updated-max", description="only blocks updated before this time"),
    ] = None,
    max_results: Annotated[
        int, Query(alias="max-results", ge=1, le=1000, description="UsagePoints per page")
    ] = 100,
    start_index: Annotated[
        int, Query(alias="start-index", ge=1, le=10_000_000, description="1-based")
    ] = 1,
) -> _Window:
    try:
        check_bounds({"updated-min": updated_min, "updated-max": updated_max})
        days = period_days(published_min, published_max, context.clock.now(), MAX_WINDOW_DAYS)
    except QueryError as exc:
        raise _error(400, exc.code, str(exc)) from None
    return _Window(days, aware(updated_min), aware(updated_max), max_results, start_index)


# rows per (key, day): (slot, import_wh, export_wh, quality, recorded_at)
_Rows = dict[tuple[int, date], list[tuple[int, Any, Any, str, float]]]


def _values(context: HubContext, points: list[_Point]) -> _Rows:
    """Current half-hour values of the points on their visible days, in one query."""
    out: _Rows = defaultdict(list)
    if not points:
        return out
    all_days = sorted({d for p in points for d in p.days})
    first_slot = day_first_slot(all_days[0])
    last_slot = day_first_slot(all_days[-1]) + 47
    keys = pa.table({"k": pa.array([p.key for p in points], pa.int64())})
    table = context.mdms.store.query(
        "SELECT supply_point_key, slot, import_wh, export_wh, quality, recorded_at "
        "FROM hh_slots(?, ?) WHERE supply_point_key IN (SELECT k FROM keys) "
        "QUALIFY row_number() OVER (PARTITION BY supply_point_key, slot "
        "ORDER BY version DESC) = 1 ORDER BY supply_point_key, slot",
        [first_slot, last_slot],
        keys=keys,
    ).to_pydict()
    visible = {(p.key, d) for p in points for d in p.days}
    for key, slot, imp, exp, quality, recorded in zip(
        table["supply_point_key"],
        table["slot"],
        table["import_wh"],
        table["export_wh"],
        table["quality"],
        table["recorded_at"],
        strict=True,
    ):
        day = datetime.fromtimestamp(int(slot) * SLOT_SECONDS, JST).date()
        if (int(key), day) in visible:
            out[(int(key), day)].append((int(slot), imp, exp, str(quality), float(recorded)))
    return out


def _blocks(b: FeedBuilder, p: _Point, direction: str, rows: _Rows, win: _Window) -> list[Entry]:
    col = 1 if direction == "import" else 2
    out = []
    for day in p.days:
        day_rows = rows.get((p.key, day))
        if not day_rows:
            continue
        entry = b.interval_block(p, direction, day, [(r[0], r[col], r[3], r[4]) for r in day_rows])
        if win.updated_min is not None and entry.updated < win.updated_min:
            continue
        if win.updated_max is not None and entry.updated >= win.updated_max:
            continue
        out.append(entry)
    return out


def _page_size(win: _Window) -> int:
    return min(win.max_results, max(1, MAX_POINT_DAYS_PER_PAGE // max(1, len(win.days))))


def _feed_links(request: Request, more: bool, win: _Window, page_len: int) -> tuple[Link, ...]:
    self_href = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    links = [Link("self", self_href)]
    if more:
        nxt = request.url.include_query_params(**{"start-index": win.start_index + page_len})
        links.append(Link("next", f"{nxt.path}?{nxt.query}"))
    return tuple(links)


def _audit(context: HubContext, client: ApiClient, resource: str, points: list[_Point]) -> None:
    record_reads(
        context,
        client.client_id,
        resource,
        [(p.supply_point_id, f"{p.days[0]}..{p.days[-1]}") for p in points if p.days],
    )


def _batch_feed(
    request: Request,
    context: HubContext,
    client: ApiClient,
    subscription_id: str,
    page: list[_Point],
    more: bool,
    win: _Window,
    title: str,
) -> Response:
    now = context.clock.now()
    b = FeedBuilder(subscription_id, now)
    page = _with_rated_current(context, page)
    rows = _values(context, page)
    entries: list[Entry] = [local_time_entry(now)]
    entries += [reading_type_entry(d, now) for d in jp.DIRECTIONS]
    shown: list[_Point] = []
    for p in page:
        blocks = {d: _blocks(b, p, d, rows, win) for d in jp.DIRECTIONS}
        incremental = win.updated_min is not None or win.updated_max is not None
        if incremental and not any(blocks.values()):
            continue
        shown.append(p)
        entries.append(b.usage_point(p))
        for d in jp.DIRECTIONS:
            entries.append(b.meter_reading(p, d))
            entries.extend(blocks[d])
    _audit(context, client, request.url.path, shown)
    return _feed(
        jp.child_uuid(jp.OPENAMI_NAMESPACE, request.url.path + request.url.query),
        title,
        now,
        _feed_links(request, more, win, len(page)),
        tuple(entries),
    )


Ctx = Annotated[HubContext, Depends(ctx)]
Client = Annotated[ApiClient, Depends(current_client)]
Win = Annotated[_Window, Depends(window)]
SubId = Annotated[str, Path(description="subscription id (the retailer client's client_id)")]
UpId = Annotated[str, Path(description="opaque UsagePoint id (UUID)")]
MrId = Annotated[str, Path(description="MeterReading id (UUID)")]


# -- endpoints: batch ------------------------------------------------------------------------
@router.get("/Batch/Subscription/{subscription_id}", responses=_ATOM_OK)
def batch_subscription(
    request: Request, context: Ctx, client: Client, win: Win, subscription_id: SubId
) -> Response:
    """Everything of the subscription in one feed: UsagePoints, MeterReadings, ReadingTypes,
    LocalTimeParameters and one IntervalBlock per JST day of the period."""
    _check_subscription(client, subscription_id)
    page, more = _supplied(context, _index(request, context), client, win.days, win=win)
    return _batch_feed(
        request, context, client, subscription_id, page, more, win, "Green Button Subscription"
    )


@router.get("/Batch/Subscription/{subscription_id}/UsagePoint", responses=_ATOM_OK)
def batch_subscription_usage_points(
    request: Request, context: Ctx, client: Client, win: Win, subscription_id: SubId
) -> Response:
    """All UsagePoints of the subscription with their readings (same as the subscription)."""
    return batch_subscription(request, context, client, win, subscription_id)


@router.get("/Batch/Subscription/{subscription_id}/UsagePoint/{usage_point_id}", responses=_ATOM_OK)
def batch_usage_point(
    request: Request,
    context: Ctx,
    client: Client,
    win: Win,
    subscription_id: SubId,
    usage_point_id: UpId,
) -> Response:
    """One UsagePoint with its MeterReadings and IntervalBlocks of the period."""
    _check_subscription(client, subscription_id)
    point = _one_point(request, context, client, usage_point_id, win.days)
    return _batch_feed(
        request, context, client, subscription_id, [point], False, win, "Green Button UsagePoint"
    )


@router.get("/Batch/Bulk/{bulk_id}", responses=_ATOM_OK)
def batch_bulk(
    request: Request, context: Ctx, client: Client, win: Win, bulk_id: SubId
) -> Response:
    """Bulk download (client-credentials access): every supplied UsagePoint, paged."""
    _check_subscription(client, bulk_id)
    page, more = _supplied(context, _index(request, context), client, win.days, win=win)
    return _batch_feed(request, context, client, bulk_id, page, more, win, "Green Button Bulk")


# -- endpoints: single resources -------------------------------------------------------------
@router.get("/Subscription/{subscription_id}/UsagePoint", responses=_ATOM_OK)
def usage_points(
    request: Request, context: Ctx, client: Client, win: Win, subscription_id: SubId
) -> Response:
    """The UsagePoints supplied in the period (entries only, no readings)."""
    _check_subscription(client, subscription_id)
    now = context.clock.now()
    b = FeedBuilder(subscription_id, now)
    page, more = _supplied(context, _index(request, context), client, win.days, win=win)
    page = _with_rated_current(context, page)
    _audit(context, client, request.url.path, page)
    return _feed(
        jp.child_uuid(jp.OPENAMI_NAMESPACE, request.url.path),
        "UsagePoints",
        now,
        _feed_links(request, more, win, len(page)),
        tuple(b.usage_point(p) for p in page),
    )


@router.get("/Subscription/{subscription_id}/UsagePoint/{usage_point_id}", responses=_ATOM_OK)
def usage_point(
    request: Request,
    context: Ctx,
    client: Client,
    win: Win,
    subscription_id: SubId,
    usage_point_id: UpId,
) -> Response:
    _check_subscription(client, subscription_id)
    point = _one_point(request, context, client, usage_point_id, win.days)
    _audit(context, client, request.url.path, [point])
    return _atom(write_entry(FeedBuilder(subscription_id, context.clock.now()).usage_point(point)))


@router.get(
    "/Subscription/{subscription_id}/UsagePoint/{usage_point_id}/MeterReading",
    responses=_ATOM_OK,
)
def meter_readings(
    request: Request,
    context: Ctx,
    client: Client,
    win: Win,
    subscription_id: SubId,
    usage_point_id: UpId,
) -> Response:
    _check_subscription(client, subscription_id)
    point = _one_point(request, context, client, usage_point_id, win.days)
    now = context.clock.now()
    b = FeedBuilder(subscription_id, now)
    return _feed(
        jp.child_uuid(point.usage_point_id, "MeterReading"),
        "MeterReadings",
        now,
        (Link("self", request.url.path),),
        tuple(b.meter_reading(point, d) for d in jp.DIRECTIONS),
    )


def _direction(b: FeedBuilder, point: _Point, meter_reading_id: str) -> str:
    for d in jp.DIRECTIONS:
        if b.mr_id(point, d) == meter_reading_id:
            return d
    raise _error(404, "unknown_meter_reading", f"no MeterReading {meter_reading_id}")


@router.get(
    "/Subscription/{subscription_id}/UsagePoint/{usage_point_id}/MeterReading/{meter_reading_id}",
    responses=_ATOM_OK,
)
def meter_reading(
    request: Request,
    context: Ctx,
    client: Client,
    win: Win,
    subscription_id: SubId,
    usage_point_id: UpId,
    meter_reading_id: MrId,
) -> Response:
    _check_subscription(client, subscription_id)
    point = _one_point(request, context, client, usage_point_id, win.days)
    b = FeedBuilder(subscription_id, context.clock.now())
    return _atom(write_entry(b.meter_reading(point, _direction(b, point, meter_reading_id))))


@router.get(
    "/Subscription/{subscription_id}/UsagePoint/{usage_point_id}/MeterReading/"
    "{meter_reading_id}/IntervalBlock",
    responses=_ATOM_OK,
)
def interval_blocks(
    request: Request,
    context: Ctx,
    client: Client,
    win: Win,
    subscription_id: SubId,
    usage_point_id: UpId,
    meter_reading_id: MrId,
) -> Response:
    """One IntervalBlock per JST day of the period on which the client supplies the point."""
    _check_subscription(client, subscription_id)
    point = _one_point(request, context, client, usage_point_id, win.days)
    now = context.clock.now()
    b = FeedBuilder(subscription_id, now)
    direction = _direction(b, point, meter_reading_id)
    blocks = _blocks(b, point, direction, _values(context, [point]), win)
    _audit(context, client, request.url.path, [point])
    return _feed(
        jp.child_uuid(b.mr_id(point, direction), "IntervalBlock"),
        f"IntervalBlocks ({direction})",
        now,
        _feed_links(request, False, win, 1),
        tuple(blocks),
    )


@router.get(
    "/Subscription/{subscription_id}/UsagePoint/{usage_point_id}/MeterReading/"
    "{meter_reading_id}/IntervalBlock/{day}",
    responses=_ATOM_OK,
)
def interval_block(
    request: Request,
    context: Ctx,
    client: Client,
    subscription_id: SubId,
    usage_point_id: UpId,
    meter_reading_id: MrId,
    day: Annotated[date, Path(description="the JST day of the block, YYYY-MM-DD")],
) -> Response:
    _check_subscription(client, subscription_id)
    point = _one_point(request, context, client, usage_point_id, [day])
    b = FeedBuilder(subscription_id, context.clock.now())
    direction = _direction(b, point, meter_reading_id)
    win = _Window([day], None, None, 1, 1)
    blocks = _blocks(b, point, direction, _values(context, [point]), win)
    if not blocks:
        raise _error(404, "no_data", f"no values for {day} yet")
    _audit(context, client, request.url.path, [point])
    return _atom(write_entry(blocks[0]))


@router.get("/ReadingType", responses=_ATOM_OK)
def reading_types(request: Request, context: Ctx, client: Client) -> Response:
    now = context.clock.now()
    return _feed(
        jp.child_uuid(jp.OPENAMI_NAMESPACE, "ReadingType"),
        "ReadingTypes",
        now,
        (Link("self", request.url.path),),
        tuple(reading_type_entry(d, now) for d in jp.DIRECTIONS),
    )


@router.get("/ReadingType/{reading_type_id}", responses=_ATOM_OK)
def reading_type(context: Ctx, client: Client, reading_type_id: Annotated[str, Path()]) -> Response:
    for d, rt_id in jp.READING_TYPE_IDS.items():
        if str(rt_id) == reading_type_id:
            return _atom(write_entry(reading_type_entry(d, context.clock.now())))
    raise _error(404, "unknown_reading_type", f"no ReadingType {reading_type_id}")


@router.get("/LocalTimeParameters", responses=_ATOM_OK)
def local_time_parameters_all(request: Request, context: Ctx, client: Client) -> Response:
    now = context.clock.now()
    return _feed(
        jp.child_uuid(jp.OPENAMI_NAMESPACE, "LocalTimeParameters"),
        "LocalTimeParameters",
        now,
        (Link("self", request.url.path),),
        (local_time_entry(now),),
    )


@router.get("/LocalTimeParameters/{local_time_parameters_id}", responses=_ATOM_OK)
def local_time_parameters(
    context: Ctx, client: Client, local_time_parameters_id: Annotated[str, Path()]
) -> Response:
    if local_time_parameters_id != str(jp.LOCAL_TIME_PARAMETERS_ID):
        raise _error(404, "unknown_local_time_parameters", f"no {local_time_parameters_id}")
    return _atom(write_entry(local_time_entry(context.clock.now())))


@router.get("/ReadServiceStatus", responses=_ATOM_OK)
def read_service_status(client: Client) -> Response:
    """ESPI service status: 1 = normal."""
    return Response(content=write_service_status(ServiceStatus(1)), media_type="application/xml")
