"""The ESPI query window (FB_37): which days of interval data, which updates, which page.

``published-min``/``published-max`` choose the period of interval data (IntervalBlocks
whose JST day overlaps it; default: yesterday and today, at most 31 days);
``updated-min``/``updated-max`` keep only IntervalBlocks whose latest value was recorded in
that window (incremental pulls); ``max-results``/``start-index`` page the UsagePoints (Atom
``next`` link when more remain).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request

from openami.hub.api import ctx
from openami.hub.context import HubContext
from openami.protocols.espi import Link
from openami.protocols.espi.query import QueryError, aware, check_bounds, period_days

MAX_WINDOW_DAYS = 31
MAX_POINT_DAYS_PER_PAGE = 3100  # 100 supply points × 31 days ≈ 300k readings


def espi_error(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail={"code": code, "message": message})


@dataclass
class Window:
    days: list[date]
    updated_min: datetime | None
    updated_max: datetime | None
    max_results: int
    start_index: int

    @property
    def incremental(self) -> bool:
        return self.updated_min is not None or self.updated_max is not None

    def admits(self, updated: datetime) -> bool:
        """Whether a block last updated at ``updated`` is in the updated-min/max window."""
        if self.updated_min is not None and updated < self.updated_min:
            return False
        return self.updated_max is None or updated < self.updated_max

    def page_size(self) -> int:
        """UsagePoints per page: ``max-results``, fewer for long periods."""
        per_page = MAX_POINT_DAYS_PER_PAGE // max(1, len(self.days))
        return min(self.max_results, max(1, per_page))


async def window(
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
) -> Window:
    try:
        check_bounds({"updated-min": updated_min, "updated-max": updated_max})
        days = period_days(published_min, published_max, context.clock.now(), MAX_WINDOW_DAYS)
    except QueryError as exc:
        raise espi_error(400, exc.code, str(exc)) from None
    return Window(days, aware(updated_min), aware(updated_max), max_results, start_index)


def feed_links(request: Request, more: bool, win: Window, page_len: int) -> tuple[Link, ...]:
    """``self``, and ``next`` when more UsagePoints follow."""
    self_href = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    links = [Link("self", self_href)]
    if more:
        nxt = request.url.include_query_params(**{"start-index": win.start_index + page_len})
        links.append(Link("next", f"{nxt.path}?{nxt.query}"))
    return tuple(links)
