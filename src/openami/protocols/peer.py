"""What every stateful protocol peer under :mod:`openami.protocols` shares.

A peer (a DLMS association, an ECHONET Lite node, a SKSTACK module or host) is a sans-I/O
state machine with one shape:

- ``send(event) -> bytes``: turn a typed event into the bytes to write, after checking that
  the peer's state allows it (else the protocol's ``Local…ProtocolError``);
- ``receive_data(data)``: buffer bytes that arrived;
- ``next_event()``: the next typed event, :data:`NEED_DATA` when more bytes are needed, or
  :data:`PAUSED` when a received request must be answered before the next one is read.
  Something the remote peer was not allowed to send raises the protocol's
  ``Remote…ProtocolError``.

Each peer's state is an ``Enum`` and its legal moves a :class:`Transitions` table. Randomness
(challenges, nonces) and time (timeouts) are injected as :data:`RandomBytes` and
:data:`MonotonicClock`, so nothing here reads ``os.urandom`` or the system clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Final, Generic, TypeVar

RandomBytes = Callable[[int], bytes]
"""``random_bytes(n)``: n unpredictable bytes (``os.urandom`` or ``secrets.token_bytes`` in a
transport, a seeded generator in tests)."""

MonotonicClock = Callable[[], float]
"""Seconds from any fixed origin that never go backwards (``time.monotonic`` in a transport)."""


class Wait(Enum):
    """What ``next_event()`` returns when it has no event (an enum, so ``is`` narrows types)."""

    NEED_DATA = "need-data"
    PAUSED = "paused"

    def __repr__(self) -> str:
        return self.name


NEED_DATA: Final = Wait.NEED_DATA
"""No complete event is buffered: feed more bytes with ``receive_data``."""

PAUSED: Final = Wait.PAUSED
"""The peer will not read on until our side answers the event it gave last."""

State = TypeVar("State", bound=Enum)


class Transitions(Generic[State]):
    """A transition table: ``(state, event type) -> next state``.

    Where the next state depends on the event's content (an AARQ accepted or refused, the
    last block of a long GET or not) the table lists every possible next state as a tuple,
    and the peer names the one that applies with ``outcome``. ``after`` returns None when the
    table has no such move: the peer then raises its own protocol error (local when our side
    asked for it, remote when the peer sent it).
    """

    def __init__(self, table: Mapping[tuple[State, type], State | tuple[State, ...]]) -> None:
        self._table: dict[tuple[State, type], tuple[State, ...]] = {
            key: targets if isinstance(targets, tuple) else (targets,)
            for key, targets in table.items()
        }
        # keyed by the member's identity: hashing an Enum member runs Python code, and this
        # lookup is on every message's path
        self._first = {(id(at), kind): targets[0] for (at, kind), targets in self._table.items()}

    def after(self, state: State, event_type: type, outcome: State | None = None) -> State | None:
        """The next state (the first listed, or ``outcome`` where several are listed)."""
        if outcome is None:
            return self._first.get((id(state), event_type))
        targets = self._table.get((state, event_type))
        if targets is None:
            return None
        if outcome not in targets:
            raise ValueError(
                f"the table does not lead from {state} on {event_type.__name__} to {outcome}"
            )
        return outcome

    def allows(self, state: State, event_type: type) -> bool:
        return (id(state), event_type) in self._first

    def allowed_in(self, state: State) -> list[str]:
        """Names of the event types allowed in ``state`` (for error messages)."""
        return sorted(kind.__name__ for (at, kind) in self._table if at is state)


__all__ = ["NEED_DATA", "PAUSED", "MonotonicClock", "RandomBytes", "Transitions", "Wait"]
