"""In-process publish/subscribe bus (the embedded default).

Topics carry Arrow tables whose schemas are the contracts of :mod:`openami.bus.messages`;
a batch that does not match its topic's schema is refused on publish. Delivery is
synchronous and in subscription order, so a publish returns after every subscriber has
handled the message; a failing subscriber's error is raised to the publisher (nothing is
silently dropped).
"""

from __future__ import annotations

import threading
from collections import defaultdict

import pyarrow as pa

from openami.bus.messages import check_batch
from openami.bus.port import Bus, Handler

__all__ = ["Bus", "Handler", "InProcessBus"]


class InProcessBus:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[Handler]] = defaultdict(list)
        self._lock = threading.Lock()
        self.published: dict[str, int] = defaultdict(int)

    def subscribe(self, topic: str, handler: Handler) -> None:
        with self._lock:
            self._subscribers[topic].append(handler)

    def publish(self, topic: str, batch: pa.Table) -> None:
        check_batch(topic, batch)
        with self._lock:
            handlers = list(self._subscribers[topic])
            self.published[topic] += batch.num_rows
        for handler in handlers:
            handler(batch)

    def settle(self, timeout_s: float = 60.0) -> None:
        """Nothing to wait for: a publish returns after its subscribers have handled it."""

    def close(self) -> None:
        """Nothing to release."""
