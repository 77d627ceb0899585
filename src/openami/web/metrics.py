"""``GET /metrics``: the A-route KPIs and HES counters in Prometheus text format
(rendered by prometheus-client from a collector that reads them at scrape time).

Authentication (either):
- the operator's HTTP Basic credentials (as for the dashboard), or
- ``Authorization: Bearer <token>`` where the token is ``app.state.metrics_token`` or, when
  that is unset, the environment variable ``OPENAMI_METRICS_TOKEN`` (for a Prometheus
  scraper; compared in constant time, never logged). With neither set, only Basic works.

Figures (gauges) are for one JST day: ``?date=YYYY-MM-DD``, by default the day before the
clock's current JST day (the latest complete day). Every KPI of
:data:`openami.mdms.kpi.KPI_NAMES` is exported as ``openami_kpi_<name>`` with labels
``day``, ``dimension`` (``method``, ``area``, ``concentrator`` or ``all``) and ``group``;
KPIs without data (e.g. no remote operations that day) are left out. When the app carries
the head-end (``app.state.hes``, a :class:`openami.hes.engine.HeadEnd`), its journal feeds
the remote-operation and clock KPIs and its counters are exported too.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials
from fastapi.security import HTTPBearer as _HTTPBearer
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from openami.clock import JST
from openami.hub.client_address import client_address
from openami.hub.context import HubContext
from openami.hub.guesses import locked_out
from openami.hub.operators import LockedOut
from openami.hub.ratelimit import enforce_token_requests
from openami.hub.switching import switching_control
from openami.mdms.kpi import GROUPINGS, KPI_NAMES
from openami.mdms.reports import MdmsReports
from openami.web.auth import current_session

router = APIRouter(tags=["metrics"])

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # what generate_latest writes
DIMENSIONS = {"comm_method": "method", "area_code": "area", "concentrator_id": "concentrator"}
HELP = {
    "network_connection_rate": "Meters with at least one read received during the day.",
    "collection_30min_rate": "Register reads received within 30 minutes of their boundary.",
    "delivery_60min_rate": "Register reads received within 60 minutes (C-route rule).",
    "collection_48h_rate": "Register reads received within 48 hours (after backfill).",
    "automatic_reading_rate": "Meters whose 48 half-hour values are all measured.",
    "remote_operation_success_rate": "Remote operations confirmed by read-back in time.",
    "clock_compliance_rate": "Meters whose clock was within the threshold at last contact.",
}

_basic = HTTPBasic(auto_error=False)
_bearer = _HTTPBearer(auto_error=False)


def _expected_token(request: Request) -> str | None:
    token = getattr(request.app.state, "metrics_token", None) or os.environ.get(
        "OPENAMI_METRICS_TOKEN"
    )
    return str(token) if token else None


def scraper(
    request: Request,
    basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Dependency: a metrics bearer token, a dashboard session, or an operator account's
    name and password by HTTP Basic (argon2id, throttled and locked like the login page)."""
    context: HubContext = request.app.state.hub
    if bearer is not None:
        expected = _expected_token(request)
        if expected and hmac.compare_digest(bearer.credentials.encode(), expected.encode()):
            return "metrics-token"
    elif (session := current_session(request)) is not None:
        return f"operator:{session.operator.name}"
    elif basic is not None:
        now_s = context.clock.timestamp()
        enforce_token_requests(context.rate_limits, client_address(request), now_s)
        try:
            found = context.operator_accounts.authenticate(basic.username, basic.password, now_s)
        except LockedOut as locked:
            raise locked_out(locked.wait_s, "operator") from None
        if found is not None:
            return f"operator:{found.name}"
    raise HTTPException(
        status_code=401,
        detail={"code": "unauthenticated", "message": "metrics need a token or operator login"},
        headers={"WWW-Authenticate": 'Basic realm="openami operator", Bearer'},
    )


class _KpiCollector(Collector):
    """One scrape's figures: KPIs per grouping for one day, and the HES's counters."""

    def __init__(self, context: HubContext, day: date, hes: Any) -> None:
        self.context, self.day, self.hes = context, day, hes

    def collect(self) -> Iterator[Metric]:
        journal = getattr(self.hes, "journal", None)
        meters = self.context.registry.meters_table()
        labels = ("day", "dimension", "group")
        families = {
            name: GaugeMetricFamily(
                f"openami_kpi_{name}",
                HELP.get(name, "Installed meters in the group."),
                labels=labels,
            )
            for name in ("meters", *KPI_NAMES)
        }
        reports = MdmsReports(self.context.mdms)
        for by in GROUPINGS:
            for row in reports.daily_kpis(self.day, by, journal, meters):
                total = row.group == "all"
                if total and by != GROUPINGS[0]:
                    continue
                values = (self.day.isoformat(), "all" if total else DIMENSIONS[by], row.group)
                families["meters"].add_metric(values, row.meters)
                for name in KPI_NAMES:
                    value = getattr(row, name)
                    if value is not None:
                        families[name].add_metric(values, value)
        yield from (family for family in families.values() if family.samples)
        control = switching_control(self.context)
        yield CounterMetricFamily(
            "openami_switching_cap_alerts",
            "Remote switching requests held because a cap was hit.",
            value=control.alerts_total(),
        )
        yield GaugeMetricFamily(
            "openami_switching_halted",
            "1 while the emergency stop halts all remote switching.",
            value=1.0 if control.halted() else 0.0,
        )
        if self.hes is not None:
            yield from self._hes_figures()

    def _hes_figures(self) -> Iterator[Metric]:
        hes = self.hes
        yield CounterMetricFamily(
            "openami_hes_attempts", "Session attempts made.", value=hes.attempts
        )
        yield CounterMetricFamily(
            "openami_hes_readings_delivered",
            "Register readings published on the bus.",
            value=hes.delivered,
        )
        yield GaugeMetricFamily(
            "openami_hes_commands_queued", "Commands not yet final.", value=len(hes.commands)
        )
        yield GaugeMetricFamily(
            "openami_hes_readings_in_flight",
            "Readings on their way to the HES.",
            value=hes.pending_readings,
        )


def render_metrics(context: HubContext, day: date, hes: Any = None) -> str:
    """The Prometheus text exposition for ``day`` (built by prometheus-client)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_KpiCollector(context, day, hes))
    return generate_latest(registry).decode()


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request, _: Annotated[str, Depends(scraper)]) -> PlainTextResponse:
    """A-route KPIs per method, area and concentrator in Prometheus text format."""
    context: HubContext = request.app.state.hub
    wanted = request.query_params.get("date")
    if wanted:
        try:
            day = date.fromisoformat(wanted)
        except ValueError:
            raise HTTPException(
                status_code=422,
                detail={"code": "invalid_date", "message": f"not a date: {wanted!r}"},
            ) from None
    else:
        day = context.clock.now().astimezone(JST).date() - timedelta(days=1)
    hes = getattr(request.app.state, "hes", None)
    body = render_metrics(context, day, hes)
    return PlainTextResponse(body, media_type=CONTENT_TYPE)
