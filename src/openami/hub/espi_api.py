"""Green Button ESPI on the C route: ``/espi/1_1/resource/...`` Atom feeds (the routes).

Same bearer tokens, rate limits and retailer authorization as ``/v1/...``: a retailer sees a
supply point only for the JST days it supplies it (:mod:`.espi_access`). Resource ids never
contain the 22-digit supply point ID (:mod:`.espi_ids`); the ID itself is only inside the
content (``serviceDeliveryPoint/name``), which only the authorized retailer receives. The
query window (published-/updated-min/max, paging) is :mod:`.espi_window`; the documents are
built by :mod:`.espi_feed` from ``Mdms.current_values``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from openami.hub.api import ApiError, ctx, current_client
from openami.hub.audit import AuditedRoute
from openami.hub.context import HubContext
from openami.hub.espi_access import (
    Point,
    check_subscription,
    one_point,
    supplied,
    with_rated_current,
)
from openami.hub.espi_feed import atom, audit_points, batch_feed, blocks, feed, point_values
from openami.hub.espi_ids import usage_point_index
from openami.hub.espi_window import Window, espi_error, feed_links, window
from openami.hub.lanes import in_quick_lane
from openami.protocols.espi import (
    ATOM_MEDIA_TYPE,
    Link,
    ServiceStatus,
    jp,
    write_entry,
    write_service_status,
)
from openami.protocols.espi.feeds import (
    BASE,
    FeedBuilder,
    local_time_entry,
    reading_type_entry,
)
from openami.storage.repositories.clients import ApiClient

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


Ctx = Annotated[HubContext, Depends(ctx)]
Client = Annotated[ApiClient, Depends(current_client)]
Win = Annotated[Window, Depends(window)]
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
    check_subscription(client, subscription_id)
    page, more = supplied(
        context, usage_point_index(request.app.state, context), client, win.days, win=win
    )
    return batch_feed(
        request, context, client, subscription_id, page, more, win, "Green Button Subscription"
    )


@router.get("/Batch/Subscription/{subscription_id}/UsagePoint", responses=_ATOM_OK)
def batch_subscription_usage_points(
    request: Request, context: Ctx, client: Client, win: Win, subscription_id: SubId
) -> Response:
    """All UsagePoints of the subscription with their readings (same as the subscription)."""
    return batch_subscription(request, context, client, win, subscription_id)


@router.get("/Batch/Subscription/{subscription_id}/UsagePoint/{usage_point_id}", responses=_ATOM_OK)
async def batch_usage_point(
    request: Request,
    context: Ctx,
    client: Client,
    win: Win,
    subscription_id: SubId,
    usage_point_id: UpId,
) -> Response:
    """One UsagePoint with its MeterReadings and IntervalBlocks of the period."""

    def answer() -> Response:  # in the quick lane (hub/lanes.py)
        point = _the_point(request, context, client, win, subscription_id, usage_point_id)
        return batch_feed(
            request, context, client, subscription_id, [point], False, win,
            "Green Button UsagePoint",
        )  # fmt: skip

    return await in_quick_lane(context, answer)


def _the_point(
    request: Request,
    context: HubContext,
    client: ApiClient,
    win: Window,
    subscription_id: str,
    usage_point_id: str,
) -> Point:
    """The UsagePoint the caller asks for, on the days it may see (or a 4xx)."""
    check_subscription(client, subscription_id)
    return one_point(request.app.state, context, client, usage_point_id, win.days)


@router.get("/Batch/Bulk/{bulk_id}", responses=_ATOM_OK)
def batch_bulk(
    request: Request, context: Ctx, client: Client, win: Win, bulk_id: SubId
) -> Response:
    """Bulk download (client-credentials access): every supplied UsagePoint, paged."""
    check_subscription(client, bulk_id)
    page, more = supplied(
        context, usage_point_index(request.app.state, context), client, win.days, win=win
    )
    return batch_feed(request, context, client, bulk_id, page, more, win, "Green Button Bulk")


# -- endpoints: single resources -------------------------------------------------------------
@router.get("/Subscription/{subscription_id}/UsagePoint", responses=_ATOM_OK)
def usage_points(
    request: Request, context: Ctx, client: Client, win: Win, subscription_id: SubId
) -> Response:
    """The UsagePoints supplied in the period (entries only, no readings)."""
    check_subscription(client, subscription_id)
    now = context.clock.now()
    b = FeedBuilder(subscription_id, now)
    page, more = supplied(
        context, usage_point_index(request.app.state, context), client, win.days, win=win
    )
    page = with_rated_current(context, page)
    audit_points(context, client, request.url.path, page)
    return feed(
        jp.child_uuid(jp.OPENAMI_NAMESPACE, request.url.path),
        "UsagePoints",
        now,
        feed_links(request, more, win, len(page)),
        tuple(b.usage_point(p) for p in page),
    )


@router.get("/Subscription/{subscription_id}/UsagePoint/{usage_point_id}", responses=_ATOM_OK)
async def usage_point(
    request: Request,
    context: Ctx,
    client: Client,
    win: Win,
    subscription_id: SubId,
    usage_point_id: UpId,
) -> Response:
    """One UsagePoint entry (no readings)."""

    def answer() -> Response:  # in the quick lane (hub/lanes.py)
        point = _the_point(request, context, client, win, subscription_id, usage_point_id)
        audit_points(context, client, request.url.path, [point])
        now = context.clock.now()
        return atom(write_entry(FeedBuilder(subscription_id, now).usage_point(point)))

    return await in_quick_lane(context, answer)


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
    check_subscription(client, subscription_id)
    point = one_point(request.app.state, context, client, usage_point_id, win.days)
    now = context.clock.now()
    b = FeedBuilder(subscription_id, now)
    return feed(
        jp.child_uuid(point.usage_point_id, "MeterReading"),
        "MeterReadings",
        now,
        (Link("self", request.url.path),),
        tuple(b.meter_reading(point, d) for d in jp.DIRECTIONS),
    )


def _direction(b: FeedBuilder, point: Point, meter_reading_id: str) -> str:
    for d in jp.DIRECTIONS:
        if b.mr_id(point, d) == meter_reading_id:
            return d
    raise espi_error(404, "unknown_meter_reading", f"no MeterReading {meter_reading_id}")


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
    check_subscription(client, subscription_id)
    point = one_point(request.app.state, context, client, usage_point_id, win.days)
    b = FeedBuilder(subscription_id, context.clock.now())
    return atom(write_entry(b.meter_reading(point, _direction(b, point, meter_reading_id))))


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
    check_subscription(client, subscription_id)
    point = one_point(request.app.state, context, client, usage_point_id, win.days)
    now = context.clock.now()
    b = FeedBuilder(subscription_id, now)
    direction = _direction(b, point, meter_reading_id)
    found = blocks(b, point, direction, point_values(context, [point]), win)
    audit_points(context, client, request.url.path, [point])
    return feed(
        jp.child_uuid(b.mr_id(point, direction), "IntervalBlock"),
        f"IntervalBlocks ({direction})",
        now,
        feed_links(request, False, win, 1),
        tuple(found),
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
    check_subscription(client, subscription_id)
    point = one_point(request.app.state, context, client, usage_point_id, [day])
    b = FeedBuilder(subscription_id, context.clock.now())
    direction = _direction(b, point, meter_reading_id)
    win = Window([day], None, None, 1, 1)
    found = blocks(b, point, direction, point_values(context, [point]), win)
    if not found:
        raise espi_error(404, "no_data", f"no values for {day} yet")
    audit_points(context, client, request.url.path, [point])
    return atom(write_entry(found[0]))


@router.get("/ReadingType", responses=_ATOM_OK)
def reading_types(request: Request, context: Ctx, client: Client) -> Response:
    now = context.clock.now()
    return feed(
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
            return atom(write_entry(reading_type_entry(d, context.clock.now())))
    raise espi_error(404, "unknown_reading_type", f"no ReadingType {reading_type_id}")


@router.get("/LocalTimeParameters", responses=_ATOM_OK)
def local_time_parameters_all(request: Request, context: Ctx, client: Client) -> Response:
    now = context.clock.now()
    return feed(
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
        raise espi_error(404, "unknown_local_time_parameters", f"no {local_time_parameters_id}")
    return atom(write_entry(local_time_entry(context.clock.now())))


@router.get("/ReadServiceStatus", responses=_ATOM_OK)
def read_service_status(client: Client) -> Response:
    """ESPI service status: 1 = normal."""
    return Response(content=write_service_status(ServiceStatus(1)), media_type="application/xml")
