"""Message bus. In-process by default, NATS JetStream across processes (``--bus nats://…``);
every message is a typed, columnar batch."""

from openami.bus.inprocess import InProcessBus
from openami.bus.port import Bus, Handler

__all__ = ["Bus", "Handler", "InProcessBus"]
