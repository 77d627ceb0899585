"""Building ESPI Atom documents from the current half-hour values.

The values are the current values of each point (``Mdms.current_values``, the one rule of
the current value, as ``/v1/.../intervals`` serves them; a page of many points reads them in
one query with the same rule, ``MdmsReports.current_values_of_points``), cut to the JST
days the client may see and grouped per day: one IntervalBlock per direction and day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise

import numpy as np
import pyarrow as pa
from fastapi import Request, Response

from openami.clock import SLOTS_PER_DAY, day_first_slot
from openami.hub.audit import record_reads
from openami.hub.context import HubContext
from openami.hub.espi_access import Point, with_rated_current
from openami.hub.espi_window import Window, feed_links
from openami.hub.values import service_starts
from openami.mdms.reports import MdmsReports
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
from openami.storage.repositories.clients import ApiClient


@dataclass(frozen=True)
class DayRows:
    """The current values of one point on one day, as columns in slot order."""

    slots: list[int]
    import_wh: list[int | None]
    export_wh: list[int | None]
    quality: list[str]
    recorded_s: list[float]

    def __len__(self) -> int:
        return len(self.slots)

    def wh(self, direction: str) -> list[int | None]:
        return self.import_wh if direction == "import" else self.export_wh


PointValues = dict[tuple[int, date], DayRows]


def atom(body: bytes) -> Response:
    return Response(content=body, media_type=ATOM_MEDIA_TYPE)


def feed(
    feed_id: object, title: str, now: datetime, links: tuple[Link, ...], entries: Iterable[Entry]
) -> Response:
    return atom(write_feed(Feed(urn(feed_id), title, now, links, tuple(entries))))


def _current_values(context: HubContext, points: list[Point]) -> pa.Table:
    """Current values of the points over the span of their days: one point's from
    ``Mdms.current_values``, a page's in one query (``MdmsReports.current_values_of_points``,
    the same rule)."""
    first = day_first_slot(min(p.days[0] for p in points))
    last = day_first_slot(max(p.days[-1] for p in points)) + SLOTS_PER_DAY - 1
    if len(points) == 1:
        table = context.mdms.current_values(points[0].key, first, last)
        keys = pa.array(np.full(table.num_rows, points[0].key, dtype=np.int64))
        return table.add_column(0, "supply_point_key", keys)
    return MdmsReports(context.mdms).current_values_of_points([p.key for p in points], first, last)


def _served(context: HubContext, table: pa.Table) -> pa.Table:
    """The rows from each point's half-hour service start on (``HalfHourService``: its
    area's A-route opening and its smart meter; none for a point without one). ``table`` is
    ordered by point, then slot: each point's rows are cut at one index."""
    key = np.asarray(table.column("supply_point_key").to_numpy(), dtype=np.int64)
    slot = np.asarray(table.column("slot").to_numpy(), dtype=np.int64)
    service = service_starts(context)
    bounds = [0, *(np.flatnonzero(key[1:] != key[:-1]) + 1).tolist(), len(key)]
    cuts = []  # per point: (first row, first served row, end)
    for first_row, end in pairwise(bounds):
        start = service.start_slot(int(key[first_row])) if end > first_row else None
        served = int(np.searchsorted(slot[first_row:end], start)) if start is not None else None
        cuts.append((first_row, end if served is None else first_row + served, end))
    if all(cut == first_row for first_row, cut, _ in cuts):
        return table
    return pa.concat_tables([table.slice(cut, end - cut) for _, cut, end in cuts])


def point_values(context: HubContext, points: list[Point]) -> PointValues:
    """Current half-hour values of each point on its visible days, per (key, day)."""
    out: PointValues = {}
    points = [p for p in points if p.days]
    if not points:
        return out
    table = _served(context, _current_values(context, points))  # by point, then slot
    key = np.asarray(table.column("supply_point_key").to_numpy(), dtype=np.int64)
    slot = np.asarray(table.column("slot").to_numpy(), dtype=np.int64)
    columns = [
        slot.tolist(),
        *(
            table.column(n).to_pylist()
            for n in ("import_wh", "export_wh", "quality", "recorded_at")
        ),
    ]
    for point in points:
        first_row = int(np.searchsorted(key, point.key, "left"))
        of_point = slot[first_row : int(np.searchsorted(key, point.key, "right"))]
        for day in point.days:
            day_start = day_first_slot(day)
            start, end = (
                first_row + np.searchsorted(of_point, [day_start, day_start + SLOTS_PER_DAY])
            ).tolist()
            if end > start:
                out[(point.key, day)] = DayRows(*(c[start:end] for c in columns))
    return out


def blocks(
    builder: FeedBuilder, point: Point, direction: str, values: PointValues, win: Window
) -> list[Entry]:
    """The IntervalBlocks of one point and direction, one per visible day with values
    (within the window's updated-min/max)."""
    out = []
    for day in point.days:
        rows = values.get((point.key, day))
        if rows is None:
            continue
        entry = builder.interval_block(
            point, direction, day, rows.slots, rows.wh(direction), rows.quality, rows.recorded_s
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
