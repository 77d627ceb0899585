"""An ECHONET Lite node as a sans-I/O peer: TIDs, request/response matching, timeouts.

One :class:`EchonetNode` is one end of ECHONET Lite traffic (a HEMS controller, a meter).
``send(event) -> bytes`` gives the datagram to send; ``receive_data(datagram)`` queues one
received datagram; ``next_event()`` gives what happened:

- our requests (:class:`Request`) get a fresh TID and wait for their answer; the answer comes
  back as :class:`ResponseReceived`, or, when ``timeout_s`` of the injected clock pass first,
  as :class:`TimedOut`. A response whose TID names no waiting request, whose ESV does not
  answer it, or that comes from an object the request did not address raises
  :class:`RemoteEchonetProtocolError` (ECHONET Lite drops such frames; so should the caller);
- requests from the peer come as :class:`RequestReceived`, answered with :class:`Response`
  frames (one per addressed object, so several only for a class-wide DEOJ, instance 0);
- notifications (INF) come as :class:`NotificationReceived`; ours go out as
  :class:`Notification`.

The node's own state says whether a received request is being answered; each of our
requests has a :class:`TransactionState`. Both move only along their transition tables.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from openami.protocols.echonet.errors import (
    EchonetDecodeError,
    LocalEchonetProtocolError,
    MalformedFrame,
    RemoteEchonetProtocolError,
)
from openami.protocols.echonet.frame import (
    MAX_TID,
    REQUEST_ESVS,
    RES_FOR_REQUEST,
    SNA_FOR_REQUEST,
    Esv,
    Frame,
    Property,
    decode_frame,
    eoj_class,
    eoj_instance,
)
from openami.protocols.peer import NEED_DATA, MonotonicClock, Transitions, Wait

DEFAULT_TIMEOUT_S = 20.0  # the AIF's timer 1 for a controller waiting for an answer

# the ESVs that answer each request ESV
ANSWERS: dict[int, frozenset[int]] = {
    **{
        int(req): frozenset({int(res), int(SNA_FOR_REQUEST[req])})
        for req, res in RES_FOR_REQUEST.items()
    },
    int(Esv.SETI): frozenset({int(Esv.SETI_SNA)}),
    int(Esv.INFC): frozenset({int(Esv.INFC_RES)}),
}
_INCOMING_REQUESTS = frozenset(int(e) for e in REQUEST_ESVS) | {int(Esv.INFC)}


# -- events ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Request:
    """A request to send (Get, SetC, SetI, INF_REQ, SetGet); the node picks the TID."""

    seoj: int
    deoj: int
    esv: Esv
    properties: tuple[Property, ...]
    get_properties: tuple[Property, ...] = ()


@dataclass(frozen=True, slots=True)
class Response:
    """An answer to the request last received (same TID, EOJs swapped)."""

    frame: Frame


@dataclass(frozen=True, slots=True)
class Notification:
    """A frame the node sends on its own: INF (no answer) or INFC (answered by INFC_Res)."""

    seoj: int
    deoj: int
    properties: tuple[Property, ...]
    esv: Esv = Esv.INF


@dataclass(frozen=True, slots=True)
class RequestReceived:
    frame: Frame


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    frame: Frame
    request: Frame  # the request it answers, as sent


@dataclass(frozen=True, slots=True)
class NotificationReceived:
    frame: Frame


@dataclass(frozen=True, slots=True)
class TimedOut:
    request: Frame  # no answer came within the node's timeout


NodeEvent = RequestReceived | ResponseReceived | NotificationReceived | TimedOut
Sendable = Request | Response | Notification


# -- states ---------------------------------------------------------------------------------------
class NodeState(Enum):
    IDLE = "idle"
    ANSWERING = "answering"  # a request was received and not answered yet
    ANSWERED = "answered"  # at least one answer went out


class TransactionState(Enum):
    WAITING = "waiting"
    ANSWERED = "answered"
    TIMED_OUT = "timed-out"


_ALL = tuple(NodeState)
NODE_TRANSITIONS: Transitions[NodeState] = Transitions(
    {
        **{(s, RequestReceived): NodeState.ANSWERING for s in _ALL},
        (NodeState.ANSWERING, Response): NodeState.ANSWERED,
        (NodeState.ANSWERED, Response): NodeState.ANSWERED,  # class-wide requests only
        **{(s, kind): s for s in _ALL for kind in (Request, Notification)},
        **{(s, kind): s for s in _ALL for kind in (ResponseReceived, NotificationReceived)},
        **{(s, TimedOut): s for s in _ALL},
    }
)
TRANSACTION_TRANSITIONS: Transitions[TransactionState] = Transitions(
    {
        (TransactionState.WAITING, ResponseReceived): TransactionState.ANSWERED,
        (TransactionState.WAITING, TimedOut): TransactionState.TIMED_OUT,
    }
)


@dataclass
class _Transaction:
    request: Frame
    deadline_s: float
    state: TransactionState = TransactionState.WAITING


@dataclass
class _Answering:
    request: Frame
    answered_by: set[int] = field(default_factory=set)  # SEOJs that answered


def addresses(deoj: int, seoj: int) -> bool:
    """True when an object ``seoj`` is one the address ``deoj`` names (instance 0: the class)."""
    if eoj_instance(deoj) == 0:
        return eoj_class(deoj) == eoj_class(seoj)
    return deoj == seoj


class EchonetNode:
    """One ECHONET Lite node. ``clock`` times our requests out after ``timeout_s``."""

    def __init__(
        self,
        clock: MonotonicClock,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        first_tid: int = 0,
        strict: bool = True,
    ) -> None:
        if not 0 <= first_tid <= MAX_TID:
            raise LocalEchonetProtocolError(f"a TID has 16 bits, got {first_tid}")
        self.clock = clock
        self.timeout_s = timeout_s
        self.strict = strict
        self.state = NodeState.IDLE
        self.last_tid: int | None = None  # the TID ``send`` used last
        self._next_tid = first_tid
        self._datagrams: deque[bytes] = deque()
        self._waiting: dict[int, _Transaction] = {}
        self._answering: _Answering | None = None

    # -- the peer shape -------------------------------------------------------------------------
    def send(self, event: Sendable) -> bytes:
        after = NODE_TRANSITIONS.after(self.state, type(event))
        if after is None:
            raise LocalEchonetProtocolError(
                f"cannot send {type(event).__name__} in state {self.state.value}"
            )
        if isinstance(event, Response):
            frame = self._check_answer(event.frame)
        elif isinstance(event, Request):
            frame = self._open(event)
        else:
            frame = self._notification(event)
        data = frame.encode()
        self.state = after
        return data

    def receive_data(self, datagram: bytes) -> None:
        """Queue one received datagram."""
        self._datagrams.append(bytes(datagram))

    def next_event(self) -> NodeEvent | Wait:
        if self._datagrams:
            event = self._classify(self._datagrams.popleft())
        else:
            timed_out = self._first_timeout()
            if timed_out is None:
                return NEED_DATA
            event = timed_out
        after = NODE_TRANSITIONS.after(self.state, type(event))
        assert after is not None  # every received event is legal in every node state
        self.state = after
        return event

    @property
    def next_deadline_s(self) -> float | None:
        """When the first of our waiting requests times out (clock seconds), None if none."""
        return min((t.deadline_s for t in self._waiting.values()), default=None)

    @property
    def waiting(self) -> list[Frame]:
        """Our requests still waiting for an answer, oldest first."""
        return [t.request for t in self._waiting.values()]

    # -- sending --------------------------------------------------------------------------------
    def _take_tid(self) -> int:
        for _ in range(MAX_TID + 1):
            tid = self._next_tid
            self._next_tid = (tid + 1) & MAX_TID
            if tid not in self._waiting:
                self.last_tid = tid
                return tid
        raise LocalEchonetProtocolError("every TID is waiting for an answer")

    def _open(self, event: Request) -> Frame:
        if event.esv not in REQUEST_ESVS:
            raise LocalEchonetProtocolError(f"ESV {event.esv:#04x} is not a request")
        frame = Frame(
            self._take_tid(),
            event.seoj,
            event.deoj,
            event.esv,
            event.properties,
            event.get_properties,
        )
        self._waiting[frame.tid] = _Transaction(frame, self.clock() + self.timeout_s)
        return frame

    def _notification(self, event: Notification) -> Frame:
        if event.esv not in (Esv.INF, Esv.INFC):
            raise LocalEchonetProtocolError(f"ESV {event.esv:#04x} is not a notification")
        frame = Frame(self._take_tid(), event.seoj, event.deoj, event.esv, event.properties)
        if event.esv == Esv.INFC:
            self._waiting[frame.tid] = _Transaction(frame, self.clock() + self.timeout_s)
        return frame

    def _check_answer(self, frame: Frame) -> Frame:
        answering = self._answering
        if answering is None:
            raise LocalEchonetProtocolError("no received request to answer")
        request = answering.request
        problem = None
        if frame.tid != request.tid:
            problem = f"TID {frame.tid:04X} does not answer TID {request.tid:04X}"
        elif frame.esv not in ANSWERS[request.esv]:
            problem = f"ESV {frame.esv:#04x} does not answer ESV {request.esv:#04x}"
        elif frame.deoj != request.seoj or not addresses(request.deoj, frame.seoj):
            problem = "the answer's EOJs are not the request's, swapped"
        elif frame.seoj in answering.answered_by:
            problem = f"object {frame.seoj:06X} has already answered"
        if problem is not None:
            raise LocalEchonetProtocolError(problem)
        answering.answered_by.add(frame.seoj)
        return frame

    # -- receiving ------------------------------------------------------------------------------
    def _classify(self, datagram: bytes) -> NodeEvent:
        try:
            frame = decode_frame(datagram, strict=self.strict)
        except EchonetDecodeError as exc:
            raise MalformedFrame(
                f"dropped a malformed frame ({len(datagram)} bytes): {exc}"
            ) from exc
        if frame.esv in _INCOMING_REQUESTS:
            self._answering = _Answering(frame)
            return RequestReceived(frame)
        waiting = self._waiting.get(frame.tid)
        if frame.esv == Esv.INF and (waiting is None or waiting.request.esv != Esv.INF_REQ):
            return NotificationReceived(frame)
        if waiting is None:
            raise RemoteEchonetProtocolError(
                f"ESV {frame.esv:#04x} with TID {frame.tid:04X}, which no request is waiting for"
            )
        request = waiting.request
        if frame.esv not in ANSWERS[request.esv]:
            raise RemoteEchonetProtocolError(
                f"ESV {frame.esv:#04x} does not answer ESV {request.esv:#04x} (TID {frame.tid:04X})"
            )
        if not addresses(request.deoj, frame.seoj):
            raise RemoteEchonetProtocolError(
                f"object {frame.seoj:06X} answered a request to {request.deoj:06X}"
            )
        self._finish(frame.tid, ResponseReceived)
        return ResponseReceived(frame, request)

    def _first_timeout(self) -> TimedOut | None:
        now_s = self.clock()
        for tid, transaction in self._waiting.items():
            if transaction.deadline_s <= now_s:
                self._finish(tid, TimedOut)
                return TimedOut(transaction.request)
        return None

    def _finish(self, tid: int, outcome: type) -> None:
        transaction = self._waiting.pop(tid)
        after = TRANSACTION_TRANSITIONS.after(transaction.state, outcome)
        assert after is not None  # only waiting transactions are kept
        transaction.state = after


__all__ = [
    "ANSWERS",
    "DEFAULT_TIMEOUT_S",
    "NODE_TRANSITIONS",
    "TRANSACTION_TRANSITIONS",
    "EchonetNode",
    "NodeEvent",
    "NodeState",
    "Notification",
    "NotificationReceived",
    "Request",
    "RequestReceived",
    "Response",
    "ResponseReceived",
    "TimedOut",
    "TransactionState",
    "addresses",
]
