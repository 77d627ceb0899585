"""A small simulated city behind the C route, shared by the hub tests (not a test module)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx

from openami.clock import JST, ManualClock
from openami.hub.context import HubContext
from openami.hub.ratelimit import RateLimiter
from openami.registry import Registry
from openami.sim import City, CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.clients import ApiClient, ClientStore

DAY1 = date(2026, 11, 1)
DAY2 = DAY1 + timedelta(days=1)
ESPI = "/espi/1_1/resource"


@dataclass
class World:
    city: City
    registry: Registry
    clock: ManualClock
    context: HubContext
    secrets: dict[str, tuple[str, str]]  # retailer_id -> (client_id, secret)
    switched_sp: str  # supplied by switch_from on DAY1 and by switch_to from DAY2 on
    switch_from: str
    switch_to: str

    def client_of(self, retailer_id: str) -> str:
        return self.secrets[retailer_id][0]

    def token(self, http: httpx.Client, retailer_id: str) -> str:
        cid, secret = self.secrets[retailer_id]
        resp = http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(cid, secret)
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])


def build_world(
    tmp: Path,
    meters: int = 30,
    audit: bool = True,
    rate_limits: RateLimiter | None = None,
) -> World:
    """Two simulated JST days (DAY1, DAY2) plus one hour; one supply point switches retailer."""
    database = open_database(tmp / "registry.sqlite")
    registry = Registry(database)
    city = build_city(CityConfig(meters=meters, seed=7, start_day=DAY1, pv_share=0.3), registry)
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    sim = Simulation.create(city, DuckIntervalStore(tmp / "interval.duckdb"), clock, tick_s=1800.0)
    sim.run_until(
        datetime.combine(DAY2 + timedelta(days=1), datetime.min.time(), JST).timestamp() + 3600
    )
    clients = ClientStore(database)
    secrets = {}
    for retailer in registry.retailers():
        cid = f"client-{retailer.retailer_id.lower()}"
        secrets[retailer.retailer_id] = (cid, f"secret-for-tests-{retailer.retailer_id}")
        clients.register(
            ApiClient(cid, "retailer", retailer.retailer_id), secrets[retailer.retailer_id][1]
        )
    key, sp = city.supply_point_keys[0], city.supply_point_ids[0]
    before = registry.retailer_on(key, DAY1)
    assert before is not None
    after = next(r for r in secrets if r != before)
    # a switch (スイッチング) effective DAY2
    registry.start_supply_contract(key, after, DAY2, switch=True)
    context = HubContext(
        registry,
        sim.mdms,
        clients,
        clock,
        "operator",
        "operator-test-pw",
        audit=AuditLog(database) if audit else None,
        rate_limits=rate_limits,
        espi_id_key=b"test-key-not-a-secret-0123456789",
    )
    return World(city, registry, clock, context, secrets, sp, before, after)
