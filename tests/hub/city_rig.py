"""The small simulated city the hub's end-to-end tests stand on (not a test module): a
registry, a city whose every communication method always succeeds, a manual clock at DAY1
00:00 JST, a simulation storing into DuckDB, and one API client per retailer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from openami.clock import JST, ManualClock
from openami.network import MethodParams, NetworkModel
from openami.registry import Registry
from openami.sim import City, CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import Database, open_database
from openami.storage.repositories.clients import ApiClient, ClientStore

DAY1 = date(2026, 11, 1)
PERFECT = MethodParams(attempt_success=1.0, median_delay_s=30.0, delay_sigma=0.3)


@dataclass
class CityParts:
    database: Database
    registry: Registry
    city: City
    clock: ManualClock
    sim: Simulation
    clients: ClientStore
    secrets: dict[str, tuple[str, str]]  # retailer ID → (client ID, client secret)


def perfect_city(tmp: Path, *, meters: int, seed: int) -> CityParts:
    """A city of ``meters`` meters under ``tmp`` whose reads always arrive, with a
    registered API client for every retailer."""
    database = open_database(tmp / "registry.sqlite")
    registry = Registry(database)
    city = build_city(CityConfig(meters=meters, seed=seed, start_day=DAY1), registry)
    city.network = NetworkModel(
        city.fleet.meter_ids,
        city.method_codes,
        seed=seed,
        params=dict.fromkeys(("mesh", "cellular", "plc"), PERFECT),
    )
    clock = ManualClock(datetime(DAY1.year, DAY1.month, DAY1.day, tzinfo=JST))
    sim = Simulation.create(city, DuckIntervalStore(tmp / "interval.duckdb"), clock)
    clients = ClientStore(database)
    secrets = {}
    for r in registry.retailers():
        secrets[r.retailer_id] = (f"c-{r.retailer_id}", f"secret-for-tests-{r.retailer_id}")
        clients.register(
            ApiClient(secrets[r.retailer_id][0], "retailer", r.retailer_id),
            secrets[r.retailer_id][1],
        )
    return CityParts(database, registry, city, clock, sim, clients, secrets)
