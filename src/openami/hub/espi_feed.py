"""Building ESPI Atom documents from the current half-hour values.

The values are ``Mdms.current_values`` of each point (the one rule of the current value,
as ``/v1/.../intervals`` serves them), cut to the JST days the client may see and grouped
per day: one IntervalBlock per direction and day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
from fastapi import Request, Response

from openami.clock import SLOTS_PER_DAY, day_first_slot, jst_day_number
from openami.hub.audit import record_reads
from openami.hub.context import HubContext
from openami.hub.espi_access import Point, with_rated_current
from openami.hub.espi_window import Window, feed_links
from openami.protocols.espi import (
    ATOM_MEDIA_TYPE,
    Entry,
    Feed,
    Link,
    jp,
    write_feed,
)
from openami.protocols.espi.feeds import (
    FeedBuilder,
    local_time_entry,
    reading_type_entry,
    urn,
)
from openami.storage.sqlite_clients import ApiClient

# one day of one point: (slot, import_wh, export_wh, quality, recorded_at) per value
DayRows = list[tuple[int, Any, Any, str, float]]
PointValues = dict[tuple[int, date], DayRows]
_DIRECTION_COLUMN = {"import": 1, "export": 2}


def atom(body: bytes) -> Response:
    return Response(content=body, media_type=ATOM_MEDIA_TYPE)


def feed(
    feed_id: object, title: str, now: datetime, links: tuple[Link, ...], entries: Iterable[Entry]
) -> Response:
    return atom(write_feed(Feed(urn(feed_id), title, now, links, tuple(entries))))


def _day_rows(table: pa.Table, rows: np.ndarray) -> DayRows:
    picked = table.take(pa.array(rows))
    return list(
        zip(
            picked.column("slot").to_pylist(),
            picked.column("import_wh").to_pylist(),
            picked.column("export_wh").to_pylist(),
            picked.column("quality").to_pylist(),
            picked.column("recorded_at").to_pylist(),
            strict=True,
        )
    )


def point_values(context: HubContext, points: list[Point]) -> PointValues:
    """Current half-hour values of each point on its visible days, per (key, day)."""
    out: PointValues = {}
    for point in points:
        if not point.days:
            continue
        table = context.mdms.current_values(
            point.key,
            day_first_slot(point.days[0]),
            day_first_slot(point.days[-1]) + SLOTS_PER_DAY - 1,
        )
        day_number = jst_day_number(np.asarray(table.column("slot").to_numpy(), dtype=np.int64))
        for day in point.days:
            rows = np.flatnonzero(day_number == jst_day_number(day_first_slot(day)))
            if len(rows):
                out[(point.key, day)] = _day_rows(table, rows)
    return out


def blocks(
    builder: FeedBuilder, point: Point, direction: str, values: PointValues, win: Window
) -> list[Entry]:
    """The IntervalBlocks of one point and direction, one per visible day with values
    (within the window's updated-min/max)."""
    column = _DIRECTION_COLUMN[direction]
    out = []
    for day in point.days:
        day_rows = values.get((point.key, day))
        if not day_rows:
            continue
        entry = builder.interval_block(
            point, direction, day, [(r[0], r[column], r[3], r[4]) for r in day_rows]
        )
        if win.admits(entry.updated):
            out.append(entry)
    return out


def audit_points(
    context: HubContext, client: ApiClient, resource: str, points: list[Point]
) -> None:
    record_reads(
        context,
        client.client_id,
        resource,
        [(p.supply_point_id, f"{p.days[0]}..{p.days[-1]}") for p in points if p.days],
    )


def batch_feed(
    request: Request,
    context: HubContext,
    client: ApiClient,
    subscription_id: str,
    page: list[Point],
    more: bool,
    win: Window,
    title: str,
) -> Response:
    """UsagePoints with their MeterReadings, ReadingTypes, LocalTimeParameters and
    IntervalBlocks; in an incremental pull, only the points with blocks in the window."""
    now = context.clock.now()
    builder = FeedBuilder(subscription_id, now)
    page = with_rated_current(context, page)
    values = point_values(context, page)
    entries: list[Entry] = [local_time_entry(now)]
    entries += [reading_type_entry(d, now) for d in jp.DIRECTIONS]
    shown: list[Point] = []
    for point in page:
        per_direction = {d: blocks(builder, point, d, values, win) for d in jp.DIRECTIONS}
        if win.incremental and not any(per_direction.values()):
            continue
        shown.append(point)
        entries.append(builder.usage_point(point))
        for d in jp.DIRECTIONS:
            entries.append(builder.meter_reading(point, d))
            entries.extend(per_direction[d])
    audit_points(context, client, request.url.path, shown)
    return feed(
        jp.child_uuid(jp.OPENAMI_NAMESPACE, request.url.path + request.url.query),
        title,
        now,
        feed_links(request, more, win, len(page)),
        tuple(entries),
    )
