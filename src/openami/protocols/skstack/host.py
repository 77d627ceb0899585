"""The host's side of a SKSTACK IP serial line as a sans-I/O peer (what a HEMS runs).

``send(command) -> bytes`` gives the bytes to write to the module (one command at a time:
the next waits for the module's answer); ``receive_data`` takes what the module printed;
``next_event`` gives it as typed events: :class:`Echo`, :class:`Ok`, :class:`Fail`,
:class:`Answer` (SKLL64's address), :class:`EventReceived`, :class:`DatagramReceived`
(hex-ASCII ERXUDP), :class:`PanFound` (an EPANDESC block) or :class:`Line`.

The PANA session moves along ``HOST_TRANSITIONS`` (:class:`HostState`): SKJOIN, SKTERM and
SKRESET from our side, EVENT 24/25/29/26–28 from the module's. A command the state does not
allow (SKSENDTO before the session is up, SKJOIN while it is) raises
:class:`LocalSkstackProtocolError`; a line the module should not have printed (an OK nobody
waits for, EVENT 25 without a join, an unreadable EVENT or ERXUDP) raises
:class:`RemoteSkstackProtocolError` and is dropped.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from openami.protocols.peer import NEED_DATA, Transitions, Wait
from openami.protocols.skstack.codec import (
    ECHONET_PORT,
    Dialect,
    Event,
    PanDescriptor,
    RxUdp,
    SkEvent,
    encode_command,
    encode_sksendto,
    parse_epandesc,
    parse_erxudp,
    parse_event,
)
from openami.protocols.skstack.errors import (
    LocalSkstackProtocolError,
    RemoteSkstackProtocolError,
    SkFormatError,
)
from openami.protocols.skstack.reader import OutputReader


# -- what the host sends --------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    """A command line (SKINFO, SKSREG, SKSETRBID, SKSCAN, SKLL64 …)."""

    name: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Option:
    """ROPT or WOPT: terminated by CR alone and answered by ``OK[ nn]`` + CR."""

    name: str
    value: str | None = None


@dataclass(frozen=True)
class Join:
    address: str


@dataclass(frozen=True)
class Terminate:
    """SKTERM."""


@dataclass(frozen=True)
class Reset:
    """SKRESET."""


@dataclass(frozen=True)
class SendTo:
    dest: str
    payload: bytes
    handle: int = 1
    port: int = ECHONET_PORT
    sec: int = 2
    side: int = 0


HostCommand = Command | Option | Join | Terminate | Reset | SendTo


# -- what the host receives -----------------------------------------------------------------------
@dataclass(frozen=True)
class Echo:
    text: str


@dataclass(frozen=True)
class Ok:
    command: str
    text: str  # "OK", or "OK 01" for ROPT


@dataclass(frozen=True)
class Fail:
    command: str
    code: int  # the ERxx number


@dataclass(frozen=True)
class Answer:
    """The answer of a command that prints a value instead of OK (SKLL64's address)."""

    command: str
    text: str


@dataclass(frozen=True)
class EventReceived:
    event: SkEvent


@dataclass(frozen=True)
class DatagramReceived:
    datagram: RxUdp


@dataclass(frozen=True)
class PanFound:
    descriptor: PanDescriptor


@dataclass(frozen=True)
class Line:
    text: str


HostEvent = Echo | Ok | Fail | Answer | EventReceived | DatagramReceived | PanFound | Line


# -- the PANA session as the host sees it ---------------------------------------------------------
class HostState(Enum):
    DISCONNECTED = "disconnected"
    JOINING = "joining"
    JOINED = "joined"
    EXPIRED = "expired"  # EVENT 29: waiting for the re-authentication
    TERMINATING = "terminating"


class _SessionUp:
    """Marker: EVENT 25."""


class _SessionFailed:
    """Marker: EVENT 24."""


class _SessionExpired:
    """Marker: EVENT 29."""


class _SessionOver:
    """Marker: EVENT 26, 27 or 28."""


H = HostState
_ALL = tuple(HostState)
HOST_TRANSITIONS: Transitions[HostState] = Transitions(
    {
        (H.DISCONNECTED, Join): H.JOINING,
        (H.JOINED, SendTo): H.JOINED,
        **{(s, Terminate): H.TERMINATING for s in (H.DISCONNECTED, H.JOINED, H.EXPIRED)},
        **{(s, Reset): H.DISCONNECTED for s in _ALL},
        **{(s, kind): s for s in _ALL for kind in (Command, Option)},
        (H.JOINING, _SessionUp): H.JOINED,
        (H.EXPIRED, _SessionUp): H.JOINED,
        (H.JOINED, _SessionUp): H.JOINED,
        (H.JOINING, _SessionFailed): H.DISCONNECTED,
        (H.EXPIRED, _SessionFailed): H.DISCONNECTED,
        (H.JOINED, _SessionFailed): H.DISCONNECTED,
        (H.JOINED, _SessionExpired): H.EXPIRED,
        **{(s, _SessionOver): H.DISCONNECTED for s in _ALL if s is not H.JOINING},
    }
)
_SESSION_MARKERS: dict[int, type] = {
    Event.PANA_OK: _SessionUp,
    Event.PANA_FAILED: _SessionFailed,
    Event.SESSION_EXPIRED: _SessionExpired,
    Event.TERM_REQUESTED: _SessionOver,
    Event.TERM_DONE: _SessionOver,
    Event.TERM_TIMEOUT: _SessionOver,
}
_ANSWERED_BY_A_LINE = frozenset({"SKLL64"})


class SkHost:
    """The host's end of the serial line to one module."""

    def __init__(self, dialect: Dialect = Dialect.BP35C2) -> None:
        self.dialect = dialect  # set it from SKINFO's EINFO before the session commands
        self.state = HostState.DISCONNECTED
        self.tx_limited = False  # EVENT 32 … EVENT 33
        self._reader = OutputReader()
        self._pending: str | None = None  # the command waiting for its answer
        self._pending_text = ""  # its line, to recognise the echo
        self._ready: deque[HostEvent] = deque()
        self._pan_block: list[str] | None = None

    @property
    def pending(self) -> str | None:
        """The command waiting for its answer (None when a command may be sent)."""
        return self._pending

    # -- the peer shape ---------------------------------------------------------------------------
    def send(self, command: HostCommand) -> bytes:
        if self._pending is not None:
            raise LocalSkstackProtocolError(
                f"{self._pending} is still waiting for its answer: one command at a time"
            )
        after = HOST_TRANSITIONS.after(self.state, type(command))
        if after is None:
            raise LocalSkstackProtocolError(
                f"{_name(command)} in state {self.state.value}: the PANA session does not allow it"
            )
        data = self._encode(command)
        self.state = after
        self._pending = _name(command)
        return data

    def receive_data(self, data: bytes) -> None:
        self._reader.feed(data)

    def next_event(self) -> HostEvent | Wait:
        while not self._ready:
            text = self._reader.next_line()
            if text is None:
                text = self._bare_cr_answer()
            if text is None:
                return NEED_DATA
            self._read_line(text)
        return self._ready.popleft()

    def forget_command(self) -> None:
        """Stop waiting for the pending command's answer (the caller gave up on it)."""
        self._pending = None

    # -- sending ----------------------------------------------------------------------------------
    def _encode(self, command: HostCommand) -> bytes:
        if isinstance(command, SendTo):
            data = encode_sksendto(
                self.dialect,
                command.dest,
                command.payload,
                handle=command.handle,
                port=command.port,
                sec=command.sec,
                side=command.side,
            )
            self._pending_text = data[: len(data) - len(command.payload)].decode().rstrip()
            return data
        if isinstance(command, Option):
            text = command.name if command.value is None else f"{command.name} {command.value}"
            self._pending_text = text
            return text.encode("ascii") + b"\r"
        if isinstance(command, Join):
            line = encode_command("SKJOIN", command.address)
        elif isinstance(command, Terminate):
            line = encode_command("SKTERM")
        elif isinstance(command, Reset):
            line = encode_command("SKRESET")
        else:
            if command.name in ("SKJOIN", "SKTERM", "SKRESET", "SKSENDTO"):
                raise LocalSkstackProtocolError(f"send {command.name} as its own event")
            line = encode_command(command.name, *command.args)
        self._pending_text = line.decode("ascii").rstrip()
        return line

    # -- receiving --------------------------------------------------------------------------------
    def _bare_cr_answer(self) -> str | None:
        """ROPT/WOPT answers end in CR alone: take one once it is complete."""
        if self._pending not in ("ROPT", "WOPT"):
            return None
        partial = self._reader.partial()
        if not partial.endswith(b"\r") or b"\n" in partial:
            return None
        self._reader.take(len(partial))
        return partial[:-1].decode("ascii", "replace")

    def _read_line(self, text: str) -> None:
        if self._pan_block is not None:
            if text.startswith("  "):
                self._pan_block.append(text)
                return
            block, self._pan_block = self._pan_block, None
            try:
                self._ready.append(PanFound(parse_epandesc(block)))
            except SkFormatError as exc:
                raise RemoteSkstackProtocolError(f"unreadable EPANDESC block: {exc}") from exc
        self._ready.append(self._classify(text))

    def _classify(self, text: str) -> HostEvent:
        pending = self._pending
        if pending is not None and text.rstrip() == self._pending_text:
            return Echo(text)
        if text.startswith("ERXUDP"):
            try:
                return DatagramReceived(parse_erxudp(self.dialect, text))
            except SkFormatError as exc:
                raise RemoteSkstackProtocolError(f"unreadable ERXUDP line: {exc}") from exc
        if text.startswith("EVENT"):
            return self._on_event(text)
        if text == "EPANDESC":
            self._pan_block = []
            return Line(text)
        if text.startswith(("OK", "FAIL")):
            return self._on_answer(text)
        if pending in _ANSWERED_BY_A_LINE:
            self._pending = None
            return Answer(pending, text)
        return Line(text)

    def _on_answer(self, text: str) -> HostEvent:
        pending = self._pending
        if pending is None:
            raise RemoteSkstackProtocolError(f"{text!r} answers no command")
        self._pending = None
        if text.startswith("OK"):
            return Ok(pending, text)
        try:
            code = int(text.split("ER", 1)[1])
        except (IndexError, ValueError) as exc:
            raise RemoteSkstackProtocolError(f"unreadable {text!r}") from exc
        return Fail(pending, code)

    def _on_event(self, text: str) -> HostEvent:
        try:
            event = parse_event(self.dialect, text)
        except SkFormatError as exc:
            raise RemoteSkstackProtocolError(f"unreadable EVENT line: {exc}") from exc
        if event.event == Event.TX_LIMIT_ON:
            self.tx_limited = True
        elif event.event == Event.TX_LIMIT_OFF:
            self.tx_limited = False
        marker = _SESSION_MARKERS.get(event.event)
        if marker is not None:
            after = HOST_TRANSITIONS.after(self.state, marker)
            if after is None:
                raise RemoteSkstackProtocolError(
                    f"EVENT {event.event:02X} while the session is {self.state.value}"
                )
            self.state = after
        return EventReceived(event)


_COMMAND_NAMES: dict[type, str] = {
    Join: "SKJOIN",
    Terminate: "SKTERM",
    Reset: "SKRESET",
    SendTo: "SKSENDTO",
}


def _name(command: HostCommand) -> str:
    if isinstance(command, (Command, Option)):
        return command.name
    return _COMMAND_NAMES[type(command)]


__all__ = [
    "HOST_TRANSITIONS",
    "Answer",
    "Command",
    "DatagramReceived",
    "Echo",
    "EventReceived",
    "Fail",
    "HostCommand",
    "HostEvent",
    "HostState",
    "Join",
    "Line",
    "Ok",
    "Option",
    "PanFound",
    "Reset",
    "SendTo",
    "SkHost",
    "Terminate",
]
