"""The dashboard's remote switching page (issue #15 §1): the emergency stop and approvals,
by role, CSRF-checked and audited, over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest
from tests.httpserver import serve
from tests.web.conftest import DAY1, operator_client

from openami.clock import JST, ManualClock
from openami.hub.context import HubContext
from openami.hub.switching import switching_control
from openami.registry import Registry
from openami.sim import CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.clients import ClientStore
from openami.web.app import create_app

ADMIN = ("admin", "admin-password-for-tests")
ACCOUNTS = {
    "vera": ("viewer", "viewer-password-for-tests"),
    "otto": ("operator", "operator-password-for-tests"),
    "ann": ("approver", "approver-password-for-tests"),
}


@dataclass
class Site:
    base: str
    context: HubContext


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    database = open_database(":memory:")
    registry = Registry(database)
    city = build_city(CityConfig(meters=8, seed=5, start_day=DAY1), registry)
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    sim = Simulation.create(city, DuckIntervalStore(), clock)
    sim.run_until(datetime(2026, 11, 1, 2, 0, tzinfo=JST).timestamp())
    context = HubContext(
        registry, sim.mdms, ClientStore(database), clock, *ADMIN, audit=AuditLog(database)
    )
    for name, (role, password) in ACCOUNTS.items():
        context.operator_accounts.add(name, role, password, clock.timestamp())
    with serve(create_app(context)) as base:
        yield Site(base, context)


@contextmanager
def _as(site: Site, name: str) -> Iterator[httpx.Client]:
    with operator_client(site.base, name, ACCOUNTS[name][1]) as client:
        yield client


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _actions(site: Site) -> list[tuple[str, str]]:
    assert site.context.audit is not None
    return [(e.actor, e.action) for e in site.context.audit.entries()]


def test_viewers_do_not_see_the_page(site: Site) -> None:
    with _as(site, "vera") as http:
        assert http.get("/switching").status_code == 403
        assert 'href="/switching"' not in http.get("/").text


def test_an_operator_halts_and_an_approver_resumes(site: Site) -> None:
    control = switching_control(site.context)
    with _as(site, "otto") as http:
        page = http.get("/switching")
        assert page.status_code == 200 and 'data-halted="false"' in page.text
        refused = http.post("/switching/halt", data={"reason": "drill", "csrf_token": "x"})
        assert refused.status_code == 403 and not control.halted()
        done = http.post(
            "/switching/halt", data={"reason": "drill", "csrf_token": _csrf(page.text)}
        )
        assert done.status_code == 200 and 'data-halted="true"' in done.text
        assert control.halted()
        again = http.post("/switching/resume", data={"csrf_token": _csrf(done.text)})
        assert again.status_code == 403 and "E_" in again.text  # operators cannot resume
        assert control.halted()
    with _as(site, "ann") as http:
        page = http.get("/switching")
        resumed = http.post("/switching/resume", data={"csrf_token": _csrf(page.text)})
        assert resumed.status_code == 200 and 'data-halted="false"' in resumed.text
    assert not control.halted()
    with _as(site, "ann") as http:
        metrics = http.get("/metrics").text
    assert "openami_switching_halted 0.0" in metrics
    assert "openami_switching_cap_alerts_total" in metrics
    actions = _actions(site)
    assert any(actor.endswith("otto") and "halt" in action for actor, action in actions)
    assert any(actor.endswith("ann") and "resume" in action for actor, action in actions)


def test_approving_needs_the_approver_role_and_a_held_request(site: Site) -> None:
    with _as(site, "otto") as http:
        page = http.get("/switching")
        refused = http.post(
            "/switching/approve", data={"request_id": "R-1", "csrf_token": _csrf(page.text)}
        )
        assert refused.status_code == 403 and "E_NOT_APPROVER" in refused.text
        assert "switching/approve" not in page.text  # no approve buttons for operators
    with _as(site, "ann") as http:
        page = http.get("/switching")
        unknown = http.post(
            "/switching/approve", data={"request_id": "R-404", "csrf_token": _csrf(page.text)}
        )
        assert unknown.status_code == 404 and "E_UNKNOWN_REQUEST" in unknown.text
