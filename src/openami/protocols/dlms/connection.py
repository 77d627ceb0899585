"""A server-side wrapper connection as a sans-I/O peer: stream bytes in, requests out, routed
by wPort to one :class:`ServerAssociation` per (server wPort, client wPort) pair.

``receive_data`` buffers stream bytes; ``next_event`` gives the next request of any
association (``current`` is the association it came from); ``send(response)`` answers it and
returns the wrapper frame to write. A request that association refuses raises
:class:`RemoteDlmsProtocolError` with the framed ``reply`` to write; a stream that is not a
wrapper stream raises it with ``fatal`` set (close the connection).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import Enum

from openami.protocols.dlms import acse
from openami.protocols.dlms.acse import AcseDiagnostic, AssociationResult
from openami.protocols.dlms.errors import (
    DlmsCodecError,
    LocalDlmsProtocolError,
    RemoteDlmsProtocolError,
)
from openami.protocols.dlms.events import ServerEvent
from openami.protocols.dlms.server_session import (
    ServerAssociation,
    ServerResponse,
    exception_response,
)
from openami.protocols.dlms.wrapper import WrapperDecoder, WrapperFrame, encode_wrapper
from openami.protocols.peer import NEED_DATA, PAUSED, Transitions, Wait

MAX_ASSOCIATIONS_PER_CONNECTION = 64

AssociationFactory = Callable[[int, int], ServerAssociation | None]


class ConnectionState(Enum):
    READY = "ready"
    ANSWERING = "answering"  # a request was handed out: its answer is due
    CLOSED = "closed"  # the stream broke: nothing more is read


class _Request:
    """Marker event types for the connection's own transition table."""


class _Answer:
    pass


class _Broken:
    pass


TRANSITIONS: Transitions[ConnectionState] = Transitions(
    {
        (ConnectionState.READY, _Request): ConnectionState.ANSWERING,
        (ConnectionState.ANSWERING, _Answer): ConnectionState.READY,
        (ConnectionState.READY, _Broken): ConnectionState.CLOSED,
    }
)


class ServerConnection:
    """One TCP connection of the wrapper transport.

    ``factory(server_wport, client_wport)`` creates the association for a new pair of
    wPorts (None when the destination logical device does not exist).
    """

    def __init__(self, factory: AssociationFactory) -> None:
        self._factory = factory
        self._decoder = WrapperDecoder()
        self._frames: deque[WrapperFrame] = deque()
        self._associations: dict[tuple[int, int], ServerAssociation | None] = {}
        self.state = ConnectionState.READY
        self.current: ServerAssociation | None = None
        self._current_frame: WrapperFrame | None = None

    def _move(self, marker: type, what: str) -> None:
        after = TRANSITIONS.after(self.state, marker)
        if after is None:
            raise LocalDlmsProtocolError(f"cannot {what} in state {self.state.value}")
        self.state = after

    def receive_data(self, data: bytes) -> None:
        if self.state is ConnectionState.CLOSED:
            raise LocalDlmsProtocolError("the connection is closed")
        try:
            self._frames.extend(self._decoder.feed(data))
        except DlmsCodecError as exc:
            self._move(_Broken, "break")
            raise RemoteDlmsProtocolError(f"not a wrapper stream: {exc}", fatal=True) from exc

    def next_event(self) -> ServerEvent | Wait:
        if self.state is ConnectionState.ANSWERING:
            return PAUSED  # the request handed out last is answered first
        while self._frames:
            frame = self._frames.popleft()
            association = self._association(frame)
            self.current = association
            if association is None:
                raise RemoteDlmsProtocolError(
                    f"no logical device at wPort {frame.destination}",
                    reply=_framed(frame, _no_device_reply(frame.payload)),
                )
            association.receive_data(frame.payload)
            try:
                event = association.next_event()
            except RemoteDlmsProtocolError as exc:
                exc.reply = None if exc.reply is None else _framed(frame, exc.reply)
                raise
            except (ValueError, IndexError, KeyError) as exc:  # never let bad input stop a meter
                raise RemoteDlmsProtocolError(
                    f"request not understood: {exc}", reply=_framed(frame, exception_response(2, 3))
                ) from exc
            if isinstance(event, Wait):  # pragma: no cover - one APDU per frame, nothing pending
                continue
            self._move(_Request, "read a request")
            self._current_frame = frame
            return event
        return NEED_DATA

    def send(self, response: ServerResponse) -> bytes:
        """The wrapper frame answering the request ``next_event`` gave last."""
        frame, association = self._current_frame, self.current
        if self.state is not ConnectionState.ANSWERING or frame is None or association is None:
            raise LocalDlmsProtocolError(f"no request to answer in state {self.state.value}")
        reply = association.send(response)
        self._move(_Answer, "answer")
        self._current_frame = None
        return _framed(frame, reply)

    def _association(self, frame: WrapperFrame) -> ServerAssociation | None:
        key = (frame.destination, frame.source)
        if key not in self._associations:
            if len(self._associations) >= MAX_ASSOCIATIONS_PER_CONNECTION:
                self._associations.clear()  # a peer cycling wPorts: start afresh
            self._associations[key] = self._factory(frame.destination, frame.source)
        return self._associations[key]

    @property
    def associations(self) -> list[ServerAssociation]:
        return [a for a in self._associations.values() if a is not None]


def _framed(request: WrapperFrame, reply: bytes) -> bytes:
    """``reply`` in a wrapper frame going back the way ``request`` came."""
    return encode_wrapper(request.destination, request.source, reply)


def _no_device_reply(payload: bytes) -> bytes:
    if payload[:1] == bytes((acse.AARQ,)):
        return acse.encode_aare(
            acse.Aare(
                acse.LN_NO_CIPHERING,
                AssociationResult.REJECTED_PERMANENT,
                AcseDiagnostic.NO_REASON_GIVEN,
                acse.INITIATE_ERROR_OTHER,
            )
        )
    return exception_response(1, 1)


__all__ = ["MAX_ASSOCIATIONS_PER_CONNECTION", "ConnectionState", "ServerConnection"]
