"""Registry entities and the effective-dated links between them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# the methods are a message contract (bus.messages); re-exported as part of the model
from openami.bus.messages import COMM_METHODS as COMM_METHODS
from openami.bus.messages import CommMethod as CommMethod


@dataclass(frozen=True)
class BalancingGroup:
    balancing_group_id: str
    name: str


@dataclass(frozen=True)
class Retailer:
    retailer_id: str
    name: str
    balancing_group_id: str


@dataclass(frozen=True)
class Meter:
    meter_id: int
    maker: str
    serial: str
    contract_amperage_a: int
    comm_method: CommMethod
    concentrator_id: str | None
    certification_expiry: date


@dataclass(frozen=True)
class SupplyPoint:
    supply_point_key: int
    supply_point_id: str
    area_code: str


@dataclass(frozen=True)
class SupplyContract:
    """A retailer supplies a supply point over the JST days ``[valid_from, valid_to)``."""

    supply_point_id: str
    retailer_id: str
    valid_from: date
    valid_to: date | None
