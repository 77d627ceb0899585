"""The command reader gives the same items however the byte stream is split."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from openami.protocols.skstack import Dialect, OutputReader, encode_command, encode_sksendto
from openami.protocols.skstack.reader import CommandReader, RawLine, RawSendTo, ReadItem

METER = "FE80:0000:0000:0000:021C:6400:6014:21A3"

commands = st.one_of(
    st.sampled_from(["SKVER", "SKINFO", "SKSREG SFE 0", "SKTERM", "ROPT"]).map(
        lambda c: encode_command(c)
    ),
    st.tuples(st.sampled_from(list(Dialect)), st.binary(min_size=1, max_size=64)).map(
        lambda t: encode_sksendto(t[0], METER, t[1])
    ),
)


def _items(reader: CommandReader) -> list[ReadItem]:
    out = []
    while (item := reader.next_item()) is not None:
        out.append(item)
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(commands, min_size=1, max_size=8), st.data())
def test_chunking_does_not_change_the_items(stream: list[bytes], data: st.DataObject) -> None:
    raw = b"".join(stream)
    whole = CommandReader()
    whole.feed(raw)
    expected = _items(whole)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=10)))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    split = CommandReader()
    got: list[ReadItem] = []
    for piece in pieces:
        split.feed(piece)
        got.extend(_items(split))
    # a cut between CR and LF ends the line at the CR and leaves an empty line: the same
    # commands, and the same bytes echoed
    assert _commands(got) == _commands(expected)
    assert _echo(got) == _echo(expected) == _echo_of(stream)
    assert len(_commands(expected)) == len(stream)


def _commands(items: list[ReadItem]) -> list[object]:
    return [
        item.text if isinstance(item, RawLine) else item
        for item in items
        if not (isinstance(item, RawLine) and not item.text)
    ]


def _echo(items: list[ReadItem]) -> bytes:
    return b"".join(
        item.text + item.terminator if isinstance(item, RawLine) else item.header
        for item in items
        if isinstance(item, RawLine | RawSendTo)
    )


def _echo_of(stream: list[bytes]) -> bytes:
    """What a module echoes: command lines whole, SKSENDTO up to the payload."""
    out = b""
    for cmd in stream:
        if cmd.startswith(b"SKSENDTO"):
            fields = cmd.split(b" ")
            length_at = 6 if len(fields[5]) == 4 else 7  # A1: 6th token, C2: 7th
            header = b" ".join(fields[:length_at]) + b" "
            out += header
        else:
            out += cmd
    return out


def test_output_reader_splits_crlf_and_bare_cr() -> None:
    r = OutputReader()
    r.feed(b"OK 01\rEVENT 21 X 00\r\nERXUDP A B\r")
    assert r.next_line() == "OK 01"
    assert r.next_line() == "EVENT 21 X 00"
    assert r.next_line() is None and r.partial() == b"ERXUDP A B\r"
    r.feed(b"\n\r\n")
    assert r.next_line() == "ERXUDP A B" and r.next_line() is None
