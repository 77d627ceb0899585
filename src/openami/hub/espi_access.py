"""Who sees which UsagePoint on the ESPI feeds: a retailer client, the points its retailer
supplies, for the JST days it supplies them (the registry service's rule). Until
per-customer consent exists on ESPI, each retailer client has one subscription (and one
bulk id) whose id is its ``client_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from openami.hub.context import HubContext
from openami.hub.espi_ids import UsagePointIndex, usage_point_index
from openami.hub.espi_window import Window, espi_error
from openami.storage.repositories.clients import ApiClient


@dataclass
class Point:
    """One UsagePoint as a feed shows it, with the days the client may see."""

    key: int
    supply_point_id: str
    usage_point_id: str
    days: list[date]
    rated_current_a: int | None = None


def supplied(
    context: HubContext,
    index: UsagePointIndex,
    client: ApiClient,
    days: list[date],
    only_key: int | None = None,
    win: Window | None = None,
) -> tuple[list[Point], bool]:
    """Supply points the client's retailer supplies on some of ``days``, with those days.

    With ``win``, one page of points (by supply point key) and whether more follow; the
    paging happens in the registry, so a retailer with a million points costs one page.
    """
    if client.role != "retailer" or not days:
        return [], False
    size = win.page_size() if win is not None else None
    rows = context.registry.supplied_points(
        client.party_id,
        days[0],
        days[-1],
        limit=size + 1 if size is not None else None,
        offset=win.start_index - 1 if win is not None else 0,
        supply_point_key=only_key,
    )
    points: dict[int, Point] = {}
    for key, sp, first, last in rows:
        covered = [d for d in days if first <= d < last]
        if covered:
            point = points.setdefault(
                int(key), Point(int(key), str(sp), index.usage_point_id(int(key), str(sp)), [])
            )
            point.days = sorted(set(point.days) | set(covered))
    page = list(points.values())
    if size is not None and len(page) > size:
        return page[:size], True
    return page, False


def with_rated_current(context: HubContext, page: list[Point]) -> list[Point]:
    """Fill in the contract amperage of the meter installed now (ESPI ratedCurrent), where
    not filled in yet."""
    missing = [p for p in page if p.rated_current_a is None]
    if missing:
        amps = context.registry.current_amperages([p.key for p in missing])
        for point in missing:
            point.rated_current_a = amps.get(point.key)
    return page


def check_subscription(client: ApiClient, subscription_id: str) -> None:
    if subscription_id != client.client_id:
        raise espi_error(
            403,
            "not_your_subscription",
            f"subscription {subscription_id} does not belong to this client "
            "(each retailer client's subscription and bulk id is its client_id)",
        )


def one_point(
    state: Any, context: HubContext, client: ApiClient, usage_point_id: str, days: list[date]
) -> Point:
    """The UsagePoint ``usage_point_id`` if the client may see it on some of ``days``,
    else 404 (unknown id) or 403 (not supplied then)."""
    index = usage_point_index(state, context)
    found = index.by_uuid.get(usage_point_id)
    if found is None:
        index = usage_point_index(state, context, refresh=True)
        found = index.by_uuid.get(usage_point_id)
    if found is None:
        raise espi_error(404, "unknown_usage_point", f"no UsagePoint {usage_point_id}")
    points, _ = supplied(context, index, client, days, only_key=found[0])
    if points:
        return with_rated_current(context, points)[0]
    raise espi_error(
        403,
        "not_supplied_by_client",
        f"UsagePoint {usage_point_id} is not supplied by {client.party_id} "
        f"between {days[0]} and {days[-1]}",
    )
