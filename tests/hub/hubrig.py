"""A bare hub (no city) served over real HTTP, with an audit log: for the security tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from tests.httpserver import serve

from openami.clock import JST, ManualClock
from openami.hub.context import HubContext
from openami.mdms import Mdms
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import Database, open_database
from openami.storage.repositories.audit import AuditEntry, AuditLog
from openami.storage.repositories.clients import ApiClient, ClientStore
from openami.web.app import create_app

SECRET = "the-right-client-secret"


@dataclass
class Rig:
    http: httpx.Client
    clock: ManualClock
    context: HubContext
    database: Database

    def audit_entries(self) -> list[AuditEntry]:
        assert self.context.audit is not None
        return list(self.context.audit.entries())


@contextmanager
def hub_rig(**options: Any) -> Iterator[Rig]:
    """Clients ``r1`` (retailer R001) and ``r2`` (R002) with :data:`SECRET`."""
    database = open_database(":memory:")
    registry = Registry(database)
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    clients = ClientStore(database)
    clients.register(ApiClient("r1", "retailer", "R001"), SECRET)
    clients.register(ApiClient("r2", "retailer", "R002"), SECRET)
    options.setdefault("audit", AuditLog(database))
    context = HubContext(
        registry,
        Mdms(DuckIntervalStore(), registry, clock),
        clients,
        clock,
        "op",
        "op-password-for-tests",
        **options,
    )
    with serve(create_app(context)) as base, httpx.Client(base_url=base) as http:
        yield Rig(http, clock, context, database)
