"""A small city whose hub takes B-route applications, with the HES writing the credentials
into the simulated meters (not a test module)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
from tests.httpserver import serve
from tests.hub.city_rig import DAY1, perfect_city

from openami.broute.responder import MeterResponder
from openami.broute.wisun import VirtualWisunModule
from openami.clock import JST
from openami.hes.command_port import HesCommandPort
from openami.hub.context import HubContext
from openami.hub.oauth_grants import consent_store
from openami.hub.requests_workers import attach_workers
from openami.hub.webhooks import WebhookConfig, webhook_service
from openami.meter import MeterView
from openami.protocols.skstack import Dialect
from openami.registry import Registry
from openami.sim import City, Simulation
from openami.storage.repositories import Database
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.broute_apps import BrouteApplicationStore
from openami.storage.repositories.clients import ApiClient

CUSTOMER_PASSWORD = "customer-password-for-tests"


@dataclass
class BrouteRig:
    city: City
    sim: Simulation
    registry: Registry
    context: HubContext
    database: Database
    http: httpx.Client
    secrets: dict[str, tuple[str, str]]

    def token(self, client: str) -> dict[str, str]:
        resp = self.http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=self.secrets[client]
        )
        assert resp.status_code == 200, resp.text
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}

    def owner(self, pos: int) -> str:
        retailer = self.registry.retailer_on(self.city.supply_point_keys[pos], DAY1)
        assert retailer is not None
        return retailer

    def other_retailer(self, pos: int) -> str:
        return next(r for r in self.secrets if r != self.owner(pos) and r.startswith("R"))

    def customer(self, pos: int) -> tuple[str, str]:
        """The customer holding the point at ``pos`` (made on first use)."""
        customer = f"cust-{pos}"
        store = consent_store(self.context)
        if not store.customer_points(customer):
            store.add_customer(customer, CUSTOMER_PASSWORD, [self.city.supply_point_keys[pos]])
        return customer, CUSTOMER_PASSWORD

    def run_for(self, seconds: float) -> None:
        """Advance the city (HES ticks, then the hub workers) by ``seconds``."""
        self.sim.run_until(self.context.clock.timestamp() + seconds)

    def module(self, pos: int, link: Path) -> VirtualWisunModule:
        """The virtual Wi-SUN module of the meter at ``pos``: its B-route ID and password
        are whatever the meter was provisioned with."""
        fleet = self.city.fleet
        clock = self.context.clock
        responder = MeterResponder(MeterView(fleet, pos, clock), clock)
        return VirtualWisunModule.for_responder(
            responder,
            dialect=Dialect.BP35C2,
            credentials=lambda: fleet.broute.of(pos),
            link=link,
            notify_delay_s=None,
        )


@contextmanager
def broute_rig(tmp: Path) -> Iterator[BrouteRig]:
    from openami.web.app import create_app

    parts = perfect_city(tmp, meters=8, seed=5)
    database, registry, city = parts.database, parts.registry, parts.city
    clock, sim = parts.clock, parts.sim
    sim.hes.commands.credential_source = BrouteApplicationStore(database).credentials_to_provision
    clients, secrets = parts.clients, parts.secrets
    secrets["MO"] = ("c-mo", "secret-for-tests-mo")
    clients.register(ApiClient("c-mo", "meter_operator", "MO1"), "secret-for-tests-mo")
    context = HubContext(
        registry,
        sim.mdms,
        clients,
        clock,
        "operator",
        "operator-test-pw",
        audit=AuditLog(database),
        rate_limits=None,
        command_port=HesCommandPort(sim.hes),
        bus=sim.bus,
    )
    webhook_service(context, WebhookConfig(allow_private=True))
    attach_workers(context, sim.after_tick)
    sim.run_until(datetime(2026, 11, 1, 1, tzinfo=JST).timestamp())
    with serve(create_app(context)) as base, httpx.Client(base_url=base, timeout=10) as http:
        yield BrouteRig(city, sim, registry, context, database, http, secrets)
