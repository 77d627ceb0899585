"""Two sans-I/O peers wired together in memory, for tests (in the spirit of h11's
``ConnectionPair``): what one side's ``send`` returns is fed to the other side's
``receive_data``, and the other side's events come back to the test.

    pair = PeerPair(client, server)
    assert pair.send(client, Get(ref)) == [GetRequest(...)]      # the server's events
    assert pair.send(server, GetResponse(value)) == [Value(...)]  # the client's events

Errors the receiving peer raises propagate to the test, so illegal exchanges are asserted
with ``pytest.raises``. ``forward`` lets a peer hand bytes on through its events (the SKSTACK
module prints ``Output`` events for the host).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from openami.protocols.peer import Wait


class Peer(Protocol):
    def receive_data(self, data: bytes) -> None: ...

    def next_event(self) -> Any: ...


def drain(peer: Peer) -> list[Any]:
    """Every event ``peer`` has ready, until it needs data."""
    events: list[Any] = []
    while not isinstance(event := peer.next_event(), Wait):
        events.append(event)
    return events


class PeerPair:
    """``client`` and ``server`` connected back to back."""

    def __init__(
        self,
        client: Any,
        server: Any,
        *,
        forward: Callable[[Any], bytes | None] | None = None,
    ) -> None:
        self.client = client
        self.server = server
        self.forward = forward
        self.sent: dict[int, list[bytes]] = {id(client): [], id(server): []}

    def other(self, peer: Any) -> Any:
        if peer is self.client:
            return self.server
        if peer is self.server:
            return self.client
        raise ValueError("not a peer of this pair")

    def send(self, sender: Any, event: Any) -> list[Any]:
        """``sender.send(event)``, delivered; the receiver's events."""
        return self.deliver(self.other(sender), sender.send(event), sender=sender)

    def deliver(self, receiver: Any, data: bytes, *, sender: Any | None = None) -> list[Any]:
        """Feed ``data`` to ``receiver``; its events (bytes it forwards are delivered too)."""
        source = sender if sender is not None else self.other(receiver)
        self.sent[id(source)].append(data)
        receiver.receive_data(data)
        events = drain(receiver)
        if self.forward is not None:
            onward = b"".join(d for e in events if (d := self.forward(e)) is not None)
            if onward:
                return [*events, *self.deliver(self.other(receiver), onward, sender=receiver)]
        return events
