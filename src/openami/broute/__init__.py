"""B-route services: the ECHONET Lite smart meter node (UDP), the virtual Wi-SUN module and
the HEMS side. ``MeterResponder`` is the transport-free meter node both transports share."""

from openami.broute.responder import MeterResponder, ResponderStats

__all__ = ["MeterResponder", "ResponderStats"]
