"""The home behind the meter: appliances with small physical models (air conditioner,
storage battery, EV charger, water heater, PV) driven by the meter's seeded household model,
and the ECHONET Lite node that serves them to a HEMS."""

from openami.home.model import HomeFleet
from openami.home.params import HomeParams

__all__ = ["HomeFleet", "HomeParams"]
