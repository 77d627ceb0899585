"""The half-hour service start as the hub asks it: the registry every time by default, or a
per-process memory of ``service_start_cache_s`` seconds (``hub.values``)."""

from __future__ import annotations

import time
from datetime import date, datetime

from openami.clock import JST, ManualClock
from openami.hub.values import CachedServiceStarts, service_starts
from openami.registry import Meter, Registry, make_supply_point_id
from openami.registry.opening import HalfHourService


def _registry() -> tuple[Registry, int]:
    registry = Registry.open(":memory:")
    (key,) = registry.add_supply_points([make_supply_point_id("03", 1)])
    registry.add_meters([Meter(1, "M", "S1", 30, "mesh", None, date(2030, 1, 1))])
    registry.install_meters([(key, 1)], 1.6e9)
    return registry, key


def test_the_cache_answers_for_its_time_then_asks_again() -> None:
    registry, key = _registry()
    service = HalfHourService(registry)
    cached = CachedServiceStarts(service, ttl_s=0.3)
    start = service.start_slot(key)
    assert start is not None and cached.start_slot(key) == start
    registry.kinds.set_meter_kinds([(1, "conventional", 1)])
    assert service.start_slot(key) is None  # the registry says so at once …
    assert cached.start_slot(key) == start  # … the cache within its time
    time.sleep(0.35)
    assert cached.start_slot(key) is None
    assert cached.start_slot(12345) is None  # unknown points too


def test_the_cache_forgets_the_oldest_points_first() -> None:
    registry, key = _registry()
    cached = CachedServiceStarts(HalfHourService(registry), ttl_s=60, max_points=2)
    for k in (key, 1001, 1002):
        cached.start_slot(k)
    assert list(cached._starts) == [1001, 1002]


def test_without_a_cache_time_the_registry_answers() -> None:
    from openami.hub.context import HubContext
    from openami.mdms import Mdms
    from openami.storage.duckdb_interval import DuckIntervalStore
    from openami.storage.repositories import open_database
    from openami.storage.repositories.clients import ClientStore

    database = open_database(":memory:")
    registry = Registry(database)
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=JST))
    mdms = Mdms(DuckIntervalStore(), registry, clock)
    context = HubContext(registry, mdms, ClientStore(database), clock, "op", "")
    assert isinstance(service_starts(context), HalfHourService)
    context.service_start_cache_s = 5.0
    first = service_starts(context)
    assert isinstance(first, CachedServiceStarts) and service_starts(context) is first
