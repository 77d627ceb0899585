"""The web application: C-route API and the operator dashboard, in one FastAPI app.

Routers are collected from the modules in ``ROUTER_MODULES`` that exist (each exposes
``router``), so each area (hub API, ESPI, metrics, dashboard pages) lives in its own module.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from openami import __version__
from openami.hub.api import install_error_handlers
from openami.hub.context import HubContext

HERE = Path(__file__).parent

ROUTER_MODULES = (
    "openami.hub.api",
    "openami.hub.espi_api",
    "openami.hub.audit_api",
    "openami.hub.oauth",
    "openami.hub.consent_api",
    "openami.hub.data_api",
    "openami.hub.requests_api",
    "openami.hub.jobs_api",
    "openami.hub.webhooks_api",
    "openami.hub.slo_api",
    "openami.web.metrics",
    "openami.web.pages",
    "openami.web.network",
    "openami.web.supply_points",
    "openami.web.rollout",
    "openami.web.croute_page",
)


def create_app(context: HubContext) -> FastAPI:
    app = FastAPI(
        title="openami",
        version=__version__,
        description="C-route API of openami: half-hour values for retailers (OAuth 2.0).",
    )
    app.state.hub = context
    for name in ROUTER_MODULES:
        if importlib.util.find_spec(name) is not None:
            app.include_router(importlib.import_module(name).router)
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    return app
