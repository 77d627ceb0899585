"""Simulation: fleets of meters in a city, scenarios and the simulated clock."""

from openami.sim.city import City, CityConfig, build_city
from openami.sim.runner import Simulation

__all__ = ["City", "CityConfig", "Simulation", "build_city"]
