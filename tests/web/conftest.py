"""A small simulated city with known faults, served over real HTTP for the dashboard tests.

Two areas (03 Tokyo, 06 Kansai), 300 meters, a perfect network except one outage: the first
ten meters (five per area) are unreachable from day 1 10:00 JST to beyond the end, so their
reads from then on never arrive and their half-hour values are marked missing. The clock
stops at day 3 01:30 JST, so day 2 is the latest day whose delivery deadline has passed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from tests.httpserver import serve

from openami.clock import JST, ManualClock
from openami.hub.context import HubContext
from openami.network import MethodParams, NetworkModel, Outage
from openami.registry import Registry
from openami.sim import City, CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.clients import ClientStore
from openami.web.app import create_app

DAY1 = date(2026, 11, 1)
DAY2 = DAY1 + timedelta(days=1)
METERS = 300
DOWN = 10
OPERATOR = ("operator", "dashboard-test-pw")
PERFECT = MethodParams(attempt_success=1.0, median_delay_s=60.0, delay_sigma=0.5)


@contextmanager
def operator_client(
    base: str, user: str = OPERATOR[0], password: str = OPERATOR[1]
) -> Iterator[httpx.Client]:
    """An HTTP client logged in to the dashboard through its login form (session cookie)."""
    with httpx.Client(base_url=base, timeout=30) as client:
        form = client.get("/login")
        found = re.search(r'id="login-form">\s*<input [^>]*value="([^"]+)"', form.text)
        assert found is not None, form.text[:300]
        done = client.post(
            "/login", data={"name": user, "password": password, "csrf_token": found.group(1)}
        )
        assert done.status_code == 303, done.text[:300]
        yield client


def at(day: date, hour: int, minute: int = 0) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=JST).timestamp()


@dataclass
class DashboardWorld:
    base: str
    context: HubContext
    city: City
    down: np.ndarray  # meter indexes in the outage
    app: FastAPI


@pytest.fixture(scope="session")
def world() -> Iterator[DashboardWorld]:
    """The city every web test module shares (tests may add requests, consents, events)."""
    with built_world() as shared:
        yield shared


@contextmanager
def built_world() -> Iterator[DashboardWorld]:
    """A new city served on a free port: the outage, two days of values, nothing else."""
    database = open_database(":memory:")
    registry = Registry(database)
    city = build_city(
        CityConfig(meters=METERS, seed=5, start_day=DAY1, areas=("03", "06"), pv_share=0.3),
        registry,
    )
    city.network = NetworkModel(
        city.fleet.meter_ids,
        city.method_codes,
        seed=5,
        params={"mesh": PERFECT, "cellular": PERFECT, "plc": PERFECT},
    )
    down = np.arange(0, DOWN, dtype=np.int64)
    city.network.add_outage(Outage(down, at(DAY1, 10), at(DAY1 + timedelta(days=9), 0)))
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    sim = Simulation.create(city, DuckIntervalStore(), clock)
    sim.run_until(at(DAY2 + timedelta(days=1), 1, 30))
    # no rate limits: the clock stands still, so login budgets would never refill
    context = HubContext(
        registry, sim.mdms, ClientStore(database), clock, *OPERATOR, rate_limits=None
    )
    app = create_app(context)
    with serve(app) as base:
        yield DashboardWorld(base, context, city, down, app)
