"""Incremental readers for the two directions of a SKSTACK IP serial line.

``CommandReader`` cuts what a host writes into commands. Lines end in CR, LF or CRLF;
``SKSENDTO`` is special: after its length field and one space come exactly that many raw
bytes with no terminator, and those bytes may contain CR, LF or anything else.
``OutputReader`` cuts what a module prints into lines for a host.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LINE_BYTES = 512  # longer command lines are a UART input error (FAIL ER09)
_SENDTO = b"SKSENDTO "
_HEX = frozenset(b"0123456789ABCDEFabcdef")


@dataclass(frozen=True)
class RawLine:
    """A command line without its terminator, and the terminator as received."""

    text: bytes
    terminator: bytes


@dataclass(frozen=True)
class RawSendTo:
    """A SKSENDTO: ``header`` is everything before the payload, including the last space.

    ``fields`` are the header's tokens after ``SKSENDTO``; the last one is the length.
    """

    header: bytes
    fields: tuple[str, ...]
    payload: bytes


@dataclass(frozen=True)
class Overlong:
    """A line longer than MAX_LINE_BYTES; its bytes up to the next terminator are dropped."""

    dropped_bytes: int


ReadItem = RawLine | RawSendTo | Overlong


def _is_hex4(token: bytes) -> bool:
    return len(token) == 4 and all(c in _HEX for c in token)


class CommandReader:
    """Feed bytes from the host with ``feed``; take items with ``next_item`` until None."""

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_line_bytes
        self._discarding = False

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete item."""
        return len(self._buf)

    def next_item(self) -> ReadItem | None:
        buf = self._buf
        if not buf:
            return None
        if self._discarding:
            end = _terminator_index(buf)
            if end is None:
                buf.clear()
                return None
            del buf[: end + 1]
            self._discarding = False
            if not buf:
                return None
        if buf.startswith(_SENDTO):
            state = self._try_sendto()
            if isinstance(state, RawSendTo):
                return state
            if state == "wait":
                if len(buf) > self._max + 0x04D0:
                    return self._overlong()
                return None
            # "line": the header broke off at a terminator; read it as an ordinary line
        end = _terminator_index(buf)
        if end is None:
            if len(buf) > self._max:
                return self._overlong()
            return None
        text = bytes(buf[:end])
        term_len = 2 if buf[end] == 0x0D and end + 1 < len(buf) and buf[end + 1] == 0x0A else 1
        terminator = bytes(buf[end : end + term_len])
        del buf[: end + term_len]
        if len(text) > self._max:
            return Overlong(len(text))
        return RawLine(text, terminator)

    def _overlong(self) -> Overlong:
        n = len(self._buf)
        self._buf.clear()
        self._discarding = True
        return Overlong(n)

    def _try_sendto(self) -> RawSendTo | str:
        """Parse a SKSENDTO header: "wait" for more bytes, "line" if it is not one."""
        buf = self._buf
        pos = len(_SENDTO)
        tokens: list[bytes] = []
        # handle, address, port, security, then either the length (A1) or side + length (C2)
        while True:
            space = buf.find(b" ", pos)
            term = _terminator_index(buf, pos)
            if term is not None and (space < 0 or term < space):
                return "line"
            if space < 0:
                return "wait"
            token = bytes(buf[pos:space])
            if not token:
                return "line"
            tokens.append(token)
            pos = space + 1
            if len(tokens) >= 5 and _is_hex4(token):
                break
            if len(tokens) >= 6:
                return "line"
        length = int(tokens[-1], 16)
        if len(buf) < pos + length:
            return "wait"
        header = bytes(buf[:pos])
        payload = bytes(buf[pos : pos + length])
        del buf[: pos + length]
        return RawSendTo(header, tuple(t.decode("ascii", "replace") for t in tokens), payload)


def _terminator_index(buf: bytearray, start: int = 0) -> int | None:
    cr = buf.find(b"\r", start)
    lf = buf.find(b"\n", start)
    found = [i for i in (cr, lf) if i >= 0]
    return min(found) if found else None


class OutputReader:
    """Cut module output into lines (terminator removed): CRLF, or a bare CR (``OK 01\\r``)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def partial(self) -> bytes:
        """Bytes of an unterminated line (ROPT answers ``OK 01`` + CR only)."""
        return bytes(self._buf)

    def take(self, count: int) -> None:
        """Drop the first ``count`` buffered bytes (a line read from :meth:`partial`)."""
        del self._buf[:count]

    def next_line(self) -> str | None:
        buf = self._buf
        while True:
            end = _terminator_index(buf)
            if end is None:
                return None
            if buf[end] == 0x0D:
                if end + 1 >= len(buf):
                    return None  # an LF may still follow
                step = 2 if buf[end + 1] == 0x0A else 1
            else:
                step = 1
            text = bytes(buf[:end])
            del buf[: end + step]
            if text:
                return text.decode("ascii", "replace")
