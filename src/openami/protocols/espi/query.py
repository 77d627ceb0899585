"""ESPI query parameters (FB_37 ``published-*``/``updated-*``) as openami reads them.

``published-min``/``published-max`` choose the period of data: the JST days overlapping
``[min, max)``; without them, yesterday and today (JST) of ``now``. Times without a zone
are UTC. Times outside 1970–2200 and periods longer than ``max_days`` are refused.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from openami.clock import JST

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
MAX_PERIOD_DAYS = 31


class QueryError(ValueError):
    """A query parameter openami cannot serve; ``code`` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def check_bounds(named: dict[str, datetime | None]) -> None:
    for name, moment in named.items():
        moment = aware(moment)
        if moment is not None and not EARLIEST <= moment <= LATEST:
            raise QueryError("invalid_period", f"{name} must lie between 1970 and 2200")


def period_days(
    published_min: datetime | None,
    published_max: datetime | None,
    now: datetime,
    max_days: int = MAX_PERIOD_DAYS,
) -> list[date]:
    """The JST days of the requested data period, oldest first."""
    check_bounds({"published-min": published_min, "published-max": published_max})
    p_min, p_max = aware(published_min), aware(published_max)
    if p_max is None:
        p_max = max(now, p_min + timedelta(days=1)) if p_min is not None else now
    if p_min is None:
        today = p_max.astimezone(JST).date()
        p_min = datetime.combine(today - timedelta(days=1), time(0), JST)
    if p_min >= p_max:
        raise QueryError("invalid_period", "published-min must be before published-max")
    first = p_min.astimezone(JST).date()
    last = (p_max - timedelta(microseconds=1)).astimezone(JST).date()
    n_days = (last - first).days + 1
    if n_days > max_days:
        raise QueryError(
            "period_too_long",
            f"the data period spans {n_days} JST days; at most {max_days} per request",
        )
    return [first + timedelta(days=i) for i in range(n_days)]
