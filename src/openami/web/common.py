"""What every dashboard page shares: templates, language, day selection, targets, KPI cache."""

from __future__ import annotations

import csv
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, TypeVar, cast

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from openami import __version__
from openami.bus.messages import DELIVERY_DEADLINE_S
from openami.clock import DAY_SECONDS, jst_day_start_s
from openami.hub.context import HubContext
from openami.mdms.completeness import load_area_targets
from openami.mdms.kpi import KPI_NAMES, KpiRow
from openami.mdms.reports import MdmsReports, SlotCollection
from openami.registry import AREAS
from openami.web.auth import current_session
from openami.web.i18n import COOKIE, LANGS, pick_language, translator

HERE = Path(__file__).parent
DATA = HERE / "data"
templates = Jinja2Templates(directory=str(HERE / "templates"))
TREND_DAYS = 7
T = TypeVar("T")
log = logging.getLogger(__name__)
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)  # dates the pages accept


def hub(request: Request) -> HubContext:
    context: HubContext = request.app.state.hub
    return context


def render(
    request: Request, name: str, values: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """Render a page in the request's language; ``?lang=`` is remembered in a cookie. The
    logged-in operator and the session's CSRF token (for forms) are in every page."""
    lang = pick_language(request)
    other = "ja" if lang == "en" else "en"
    session = current_session(request)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "current_operator": session.operator if session else None,
            "csrf_token": session.csrf_token if session else "",
            **values,
            "t": translator(lang),
            "lang": lang,
            "switch_url": str(request.url.include_query_params(lang=other)),
            "version": __version__,
            "area_name": lambda code: area_name(code, lang),
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(COOKIE, lang, max_age=365 * DAY_SECONDS, httponly=True, samesite="lax")
    return response


def area_name(code: str, lang: str) -> str:
    names = AREAS.get(code)
    if names is None:
        return code
    return names[1] if lang == "ja" else names[0]


def bad_request(code: str, message: str) -> HTTPException:
    return HTTPException(status_code=422, detail={"code": code, "message": message})


def data_days(context: HubContext) -> list[date]:
    """The JST days for which register reads were received (first to last)."""
    span = MdmsReports(context.mdms).data_day_range()
    if span is None:
        return []
    first, last = span
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def default_day(context: HubContext, days: list[date]) -> date | None:
    """The latest day whose 60-minute delivery deadline has passed, else the latest day."""
    now_s = context.clock.timestamp()
    for day in reversed(days):
        end_s = jst_day_start_s(day + timedelta(days=1))
        if end_s + DELIVERY_DEADLINE_S <= now_s:
            return day
    return days[-1] if days else None


def selected_day(request: Request, context: HubContext, days: list[date]) -> date | None:
    wanted = request.query_params.get("date")
    if wanted:
        try:
            day = date.fromisoformat(wanted)
        except ValueError:
            raise bad_request("invalid_date", f"not a date (YYYY-MM-DD): {wanted[:40]!r}") from None
        if not FIRST_DAY <= day <= LAST_DAY:
            raise bad_request("invalid_date", f"date must be between {FIRST_DAY} and {LAST_DAY}")
        return day
    return default_day(context, days)


def int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request("invalid_parameter", f"{name} must be an integer") from None
    return min(max(value, lo), hi)


# -- reference data shipped in the package ---------------------------------------------------
@lru_cache(maxsize=1)
def amr_targets() -> dict[str, float]:
    """Automatic reading rate target per area code, as a fraction (the MDMS's own table)."""
    return load_area_targets()


@lru_cache(maxsize=1)
def collection_targets() -> dict[str, float]:
    """Targets of the 30-minute, 60-minute and 48-hour collection rates, as fractions."""
    with (DATA / "collection_targets.csv").open(encoding="utf-8") as fh:
        return {r["kpi"]: float(r["target_pct"]) / 100 for r in csv.DictReader(fh)}


@dataclass(frozen=True)
class PlanRow:
    area_code: str
    utility: str
    fiscal_year: int
    planned: int
    excludes_expiry_replacements: bool


@lru_cache(maxsize=1)
def deployment_plan() -> tuple[PlanRow, ...]:
    with (DATA / "deployment_plan.csv").open(encoding="utf-8") as fh:
        return tuple(
            PlanRow(
                r["area_code"],
                r["utility_en"],
                int(r["fiscal_year"]),
                int(r["planned_installations"]),
                r["excludes_expiry_replacements"].strip().lower() == "yes",
            )
            for r in csv.DictReader(fh)
        )


def kpi_value(row: KpiRow, key: str) -> float | None:
    """One KPI of a row as a float, or None where the KPI does not apply (no data)."""
    value = getattr(row, key, None)
    return None if value is None else float(value)


def visible_kpis(rows: list[KpiRow]) -> list[str]:
    """The KPIs that have a value in at least one row (others would be a column of dashes)."""
    return [k for k in KPI_NAMES if any(kpi_value(r, k) is not None for r in rows)]


def kpi_targets(request: Request, day: date | None) -> dict[str, float]:
    """Collection targets, plus the fleet's automatic reading rate target (meter-weighted
    over the areas' targets) for ``day``."""
    targets: dict[str, float] = dict(collection_targets())
    if day is not None:
        fleet_target = fleet_amr_target(kpis(request, day, "area_code")[:-1])
        if fleet_target is not None:
            targets["automatic_reading_rate"] = fleet_target
    return targets


def fleet_amr_target(rows: list[KpiRow]) -> float | None:
    """Meter-weighted AMR target of the areas in ``rows`` (grouped by area_code)."""
    targets = amr_targets()
    weighted = [(r.meters, targets[r.group]) for r in rows if r.group in targets]
    total = sum(n for n, _ in weighted)
    return sum(n * t for n, t in weighted) / total if total else None


# -- cache of aggregates ---------------------------------------------------------------------
RECENT_DAYS_S = 3.0 * DAY_SECONDS


def watermark(context: HubContext, day: date | None) -> tuple[object, ...]:
    """What an aggregate depends on. For an old day: the data about that day and the
    installations, so it stays cached while today's data flows in. For a recent day (or no
    day) also the latest ingest, so anything new recomputes it."""
    reports = MdmsReports(context.mdms)
    installs = context.registry.watermark()
    if day is None:
        return (reports.ingest_watermark(), installs)
    end_s = jst_day_start_s(day + timedelta(days=1))
    recent = context.clock.timestamp() < end_s + RECENT_DAYS_S
    return (
        reports.day_watermark(day),
        installs,
        reports.ingest_watermark() if recent else None,
    )


class AggregateCache:
    """Aggregates (KPIs, timelines) reused while the data they depend on is unchanged
    (see ``watermark``). Bounded (LRU) and thread-safe; a value being computed is computed
    once, whoever else asks for it meanwhile waits for that result."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._values: OrderedDict[tuple[object, ...], object] = OrderedDict()
        self._running: dict[tuple[object, ...], threading.Event] = {}
        self._lock = threading.Lock()

    def has(self, key: tuple[object, ...], mark: tuple[object, ...]) -> bool:
        full = (*key, mark)
        with self._lock:
            return full in self._values

    def get(self, key: tuple[object, ...], mark: tuple[object, ...], compute: Callable[[], T]) -> T:
        """The value under ``key`` computed at data state ``mark`` (see ``watermark``)."""
        full = (*key, mark)
        while True:
            with self._lock:
                if full in self._values:
                    self._values.move_to_end(full)
                    return cast(T, self._values[full])
                running = self._running.get(full)
                if running is None:
                    done = self._running[full] = threading.Event()
                    break
            running.wait()  # someone else computes it; if they failed, try ourselves
        try:
            value = compute()
            with self._lock:
                self._values[full] = value
                while len(self._values) > self._size:
                    self._values.popitem(last=False)
            return value
        finally:
            with self._lock:
                del self._running[full]
            done.set()


_cache_lock = threading.Lock()


def app_cache(request: Request) -> AggregateCache:
    return state_cache(request.app.state)


def state_cache(state: Any) -> AggregateCache:
    """The aggregate cache kept in an app's ``state`` (created on first use)."""
    with _cache_lock:
        cache = getattr(state, "dashboard_cache", None)
        if cache is None:
            cache = AggregateCache()
            state.dashboard_cache = cache
        return cast(AggregateCache, cache)


def cached(
    request: Request, key: tuple[object, ...], compute: Callable[[], T], day: date | None = None
) -> T:
    """``compute()``, or its result from the app's cache while its data is unchanged."""
    return app_cache(request).get(key, request_watermark(request, day), compute)


def request_watermark(request: Request, day: date | None) -> tuple[object, ...]:
    """``watermark`` of a day, looked up once per request."""
    memo: dict[date | None, tuple[object, ...]] | None = getattr(
        request.state, "dashboard_watermarks", None
    )
    if memo is None:
        memo = {}
        request.state.dashboard_watermarks = memo
    if day not in memo:
        memo[day] = watermark(hub(request), day)
    return memo[day]


def kpis(request: Request, day: date, by: str = "comm_method") -> list[KpiRow]:
    """KPI rows of ``day`` grouped ``by``; the last row is the total."""
    reports = MdmsReports(hub(request).mdms)
    return cached(request, ("kpis", day, by), lambda: reports.daily_kpis(day, by), day)


def kpis_ready(request: Request, day: date, by: str = "comm_method") -> bool:
    return app_cache(request).has(("kpis", day, by), request_watermark(request, day))


def timeline(request: Request, day: date) -> list[SlotCollection]:
    context = hub(request)
    reports = MdmsReports(context.mdms)
    return cached(
        request,
        ("timeline", day),
        lambda: reports.slot_timeline(context.registry.meters_table(), day),
        day,
    )


def warm_up(
    request: Request, days: list[date], groupings: tuple[str, ...], with_timeline: bool
) -> None:
    """Compute aggregates the next pages will ask for (run after a response is sent)."""
    for day in days:
        for by in groupings:
            kpis(request, day, by)
        if with_timeline:
            timeline(request, day)


def warm_up_app(state: Any, context: HubContext, stop: threading.Event) -> None:
    """Fill the cache with what the first pages will ask for, most wanted first: the latest
    complete day by method and area, the trend's days, then concentrators and the timeline.
    Runs in a thread from server start; ``stop`` ends it between two computations."""
    cache = state_cache(state)
    days = data_days(context)
    day = default_day(context, days)
    if day is None:
        return
    reports, registry = MdmsReports(context.mdms), context.registry
    trend = [d for d in days if day - timedelta(days=TREND_DAYS) < d < day]
    jobs: list[tuple[tuple[object, ...], date, Callable[[], object]]] = []
    for d, by in [
        (day, "comm_method"),
        (day, "area_code"),
        *((d, "comm_method") for d in reversed(trend)),
        (day, "concentrator_id"),
    ]:
        jobs.append((("kpis", d, by), d, partial(reports.daily_kpis, d, by)))
    jobs.append(
        (("timeline", day), day, lambda: reports.slot_timeline(registry.meters_table(), day))
    )
    for key, d, compute in jobs:
        if stop.is_set():
            return
        try:
            cache.get(key, watermark(context, d), compute)
        except Exception:  # a warm-up is an optimisation: pages compute it again if needed
            log.warning("dashboard warm-up failed for %s", key, exc_info=True)
            return
