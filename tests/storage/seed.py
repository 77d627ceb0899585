"""A few registry rows the C-route repository tests refer to (supply points 1 and 2)."""

from __future__ import annotations

from datetime import date

from openami.registry import BalancingGroup, Registry, Retailer, make_supply_point_id
from openami.storage.repositories import Database
from openami.storage.repositories.clients import ApiClient

SECRET = "a-client-secret-of-some-length"
SP1, SP2 = make_supply_point_id("03", 1), make_supply_point_id("03", 2)


def seed(database: Database) -> None:
    registry = Registry(database)
    registry.add_balancing_groups([BalancingGroup("BG1", "group")])
    registry.add_retailers([Retailer("R1", "Alpha", "BG1")])
    registry.add_supply_points([SP1, SP2])
    registry.add_supply_contracts([(1, "R1", date(2026, 1, 1), None)])
    database.clients.register(ApiClient("retailer-1", "retailer", "R1"), SECRET)
    database.clients.register(ApiClient("tp-1", "third_party", "TP"), SECRET)
