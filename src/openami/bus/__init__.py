"""Message bus. In-process by default; every message is a typed, columnar batch."""

from openami.bus.inprocess import Bus, InProcessBus

__all__ = ["Bus", "InProcessBus"]
