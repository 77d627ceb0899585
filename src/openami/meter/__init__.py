"""The smart meter: registers, half-hour log, switch, limiter and load/PV models."""

from openami.meter.fleet import DEFAULT_RETENTION_DAYS, MeterFleet
from openami.meter.load import HouseholdParams, interval_energy_wh
from openami.meter.view import MeterView

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "HouseholdParams",
    "MeterFleet",
    "MeterView",
    "interval_energy_wh",
]
