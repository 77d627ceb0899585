"""The web application: C-route API and the operator dashboard, in one FastAPI app.

Each area (hub API, ESPI, metrics, dashboard pages) lives in its own module exposing a
``router``; they are imported here by name, so a missing module fails at start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio.to_thread
import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from openami import __version__
from openami.hub import (
    api,
    balancing_api,
    broute_applications_api,
    consent_api,
    data_api,
    demand_api,
    dr_api,
    espi_api,
    jobs_api,
    meter_operator_api,
    oauth,
    requests_api,
    slo_api,
    slot_files_api,
    sub_meter_api,
    webhooks_api,
    wheeling_api,
)
from openami.hub.api import install_error_handlers
from openami.hub.body_limit import BodyLimit
from openami.hub.context import HubContext
from openami.web import (
    croute_page,
    login,
    metrics,
    network,
    operators_page,
    pages,
    portal,
    portal_auth,
    portal_broute,
    portal_consents,
    portal_downloads,
    portal_dr,
    rollout,
    supply_points,
    switching_page,
    third_party_page,
    work_orders_api,
    work_orders_page,
)
from openami.web.headers import SecurityHeaders

HERE = Path(__file__).parent

#: matched in this order, so the busiest routes come first (no path of one router matches a
#: route of another: tests/web/test_app.py)
ROUTERS: tuple[APIRouter, ...] = (
    data_api.router,
    espi_api.router,
    api.router,
    oauth.router,
    consent_api.router,
    demand_api.router,
    requests_api.router,
    jobs_api.router,
    webhooks_api.router,
    slot_files_api.router,
    slo_api.router,
    balancing_api.router,
    meter_operator_api.router,
    sub_meter_api.router,
    broute_applications_api.router,
    wheeling_api.router,
    dr_api.router,
    metrics.router,
    pages.router,
    network.router,
    supply_points.router,
    rollout.router,
    croute_page.router,
    login.router,
    operators_page.router,
    switching_page.router,
    third_party_page.router,
    work_orders_api.router,
    work_orders_page.router,
    portal_auth.router,
    portal.router,
    portal_downloads.router,
    portal_consents.router,
    portal_broute.router,
    portal_dr.router,
)


def create_app(context: HubContext) -> FastAPI:
    app = FastAPI(
        title="openami",
        version=__version__,
        description="C-route API of openami: half-hour values for retailers (OAuth 2.0).",
    )
    app.state.hub = context
    for router in ROUTERS:
        app.include_router(router)
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_body_bytes=context.max_body_bytes)
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, the 413 too
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    return app


class ThreadPoolCap:
    """ASGI middleware: caps the event loop's worker threads (where FastAPI runs the plain
    endpoints and dependencies) at ``threads``, set at the first event the server sends.
    Fewer threads contend less for the GIL: one hub process answered 351 JSON point-days/s
    (p99 30 ms, 2.8 ms CPU each) with one thread against 249/s (p99 51 ms, 4.9 ms) with
    anyio's default 40 (docs/croute.md); a slow request then holds the others up, though."""

    def __init__(self, app: Any, threads: int) -> None:
        if threads < 1:
            raise ValueError("threads must be at least 1")
        self.app = app
        self.threads = threads
        self._set = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not self._set:
            anyio.to_thread.current_default_thread_limiter().total_tokens = self.threads
            self._set = True
        await self.app(scope, receive, send)


def server_config(app: FastAPI, host: str, port: int, **options: Any) -> uvicorn.Config:
    """How to serve the app with uvicorn: forwarded headers are the hub's business
    (``HubContext.trusted_proxies``, :mod:`openami.hub.client_address`), so uvicorn's own
    ``X-Forwarded-For`` handling, which trusts 127.0.0.1 by default, is off; no Server header.
    Run it with ``uvicorn.Server(server_config(app, host, port, log_level="info")).run()``."""
    return uvicorn.Config(
        app, host=host, port=port, proxy_headers=False, server_header=False, **options
    )
