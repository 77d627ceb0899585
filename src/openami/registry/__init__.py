"""Registry: supply points, meters, retailers, balancing groups, effective-dated links."""

from openami.registry.ids import (
    AREAS,
    InvalidSupplyPointId,
    make_supply_point_id,
    validate_supply_point_id,
)
from openami.registry.model import (
    COMM_METHODS,
    BalancingGroup,
    CommMethod,
    Meter,
    Retailer,
    SupplyContract,
    SupplyPoint,
)
from openami.registry.service import Registry, RegistryError

__all__ = [
    "AREAS",
    "COMM_METHODS",
    "BalancingGroup",
    "CommMethod",
    "InvalidSupplyPointId",
    "Meter",
    "Registry",
    "RegistryError",
    "Retailer",
    "SupplyContract",
    "SupplyPoint",
    "make_supply_point_id",
    "validate_supply_point_id",
]
