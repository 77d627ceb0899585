"""A-route communication methods as a statistical model (mesh, cellular, PLC)."""

from openami.network.config import (
    ClockParams,
    load_clock_params,
    load_params,
)
from openami.network.meter_clock import MeterClocks
from openami.network.model import (
    DEFAULT_PARAMS,
    METHOD_CODES,
    DeviceEvents,
    Interference,
    MethodParams,
    NetworkModel,
    Outage,
)

__all__ = [
    "DEFAULT_PARAMS",
    "METHOD_CODES",
    "ClockParams",
    "DeviceEvents",
    "Interference",
    "MeterClocks",
    "MethodParams",
    "NetworkModel",
    "Outage",
    "load_clock_params",
    "load_params",
]
