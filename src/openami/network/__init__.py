"""A-route communication methods as a statistical model (mesh, cellular, PLC)."""

from openami.network.model import (
    DEFAULT_PARAMS,
    METHOD_CODES,
    MethodParams,
    NetworkModel,
    Outage,
)

__all__ = ["DEFAULT_PARAMS", "METHOD_CODES", "MethodParams", "NetworkModel", "Outage"]
