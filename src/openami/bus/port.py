"""The bus port: what producers (the HES, bulk import) and consumers (the MDMS, the hub's
request service) need of a message bus, whichever carries the batches.

Two adapters implement it: :class:`openami.bus.inprocess.InProcessBus` (the embedded
default: a publish returns after every subscriber has handled the batch) and
:class:`openami.bus.jetstream.JetStreamBus` (NATS JetStream: batches are stored in streams and
delivered at least once to durable consumers, which acknowledge a batch only after its
handler returned). :meth:`Bus.settle` makes both behave alike for a caller that needs the
effects of what it published (the simulation's tick): it returns once this process's
subscribers have handled everything published so far.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

import pyarrow as pa


class BusUnavailable(RuntimeError):
    """The bus's server cannot be reached, or lacks what the bus needs (JetStream)."""


class BusTimeout(TimeoutError):
    """The bus did not settle in time (a handler keeps failing, or the server is gone)."""


#: a subscriber: called with one batch of its topic's schema; raising asks for redelivery
Handler = Callable[[pa.Table], object]


class Bus(Protocol):
    def publish(self, topic: str, batch: pa.Table) -> None:
        """Send ``batch`` (checked against its topic's schema) to the topic's subscribers."""
        ...

    def subscribe(self, topic: str, handler: Handler) -> None:
        """Call ``handler`` with every batch of ``topic`` from now on."""
        ...

    def settle(self, timeout_s: float = 60.0) -> None:
        """Return once every batch published so far has been handled by this process's
        subscribers (at once for the in-process bus)."""
        ...

    def close(self) -> None:
        """Stop delivering and release connections (nothing for the in-process bus)."""
        ...


class PartitionedBus(Bus, Protocol):
    """A bus whose consumers can take single partitions (JetStream)."""

    def subscribe(
        self, topic: str, handler: Handler, partitions: Iterable[int] | None = None
    ) -> None:
        """Call ``handler`` with every batch of ``topic`` (of ``partitions`` only, if given)."""
        ...

    def unsubscribe(self, topic: str, partition: int | None = None) -> None:
        """Stop handling ``topic`` (one partition's consumer); the rest waits for others."""
        ...
