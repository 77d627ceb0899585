"""The sans-IO module state machine, driven line by line in both dialects."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openami.protocols.peer import NEED_DATA, PAUSED, Wait
from openami.protocols.skstack import (
    DatagramArrived,
    Dialect,
    Joined,
    MeterRadio,
    Output,
    RadioTime,
    RemoteSkstackProtocolError,
    SendOutcome,
    SessionEnded,
    SessionExpiry,
    SkModule,
    TxLimit,
    UdpSend,
    encode_sksendto,
    link_local_of,
)
from openami.protocols.skstack.reader import CommandReader, Overlong, RawLine, RawSendTo

RBID = "00112233445566778899AABBCCDDEEFF"
PWD = "0123456789AB"
METER_MAC = bytes.fromhex("001C6400601421A3")
METER = link_local_of(METER_MAC)
OWN_MAC = bytes.fromhex("001D129012345678")


def make(dialect: Dialect) -> SkModule:
    return SkModule(dialect, MeterRadio(METER_MAC, RBID, PWD, channel=0x21, pan_id=0x8888), OWN_MAC)


def lines_of(out: bytes) -> list[str]:
    text = out.replace(b"\r\n", b"\n").replace(b"\r", b"\n").decode(errors="replace")
    return [ln for ln in text.split("\n") if ln]


def run(
    module: SkModule, data: bytes, radio: list[float] | None = None
) -> tuple[list[str], list[object]]:
    """Feed ``data``; return the printed lines (FAIL lines of refused commands included) and
    the other events (sends answered as delivered; RadioTime goes to ``radio``)."""
    module.receive_data(data)
    out = b""
    others: list[object] = []
    while True:
        try:
            ev = module.next_event()
        except RemoteSkstackProtocolError as exc:
            out += exc.reply or b""
            continue
        if isinstance(ev, Wait):
            break
        if isinstance(ev, Output):
            out += ev.data
        elif isinstance(ev, RadioTime):
            if radio is not None:
                radio.append(ev.seconds)
        else:
            others.append(ev)
            if isinstance(ev, UdpSend):
                out += module.send(SendOutcome(True))
    return lines_of(out), others


def join(module: SkModule) -> None:
    scan = "SKSCAN 2 FFFFFFFF 6 0" if module.dialect.has_side else "SKSCAN 2 FFFFFFFF 6"
    script = [f"SKSETRBID {RBID}", f"SKSETPWD C {PWD}", scan, "SKSREG S2 21", "SKSREG S3 8888"]
    for cmd in script:
        run(module, cmd.encode() + b"\r\n")
    lines, others = run(module, f"SKJOIN {METER}\r\n".encode())
    assert any(ln.startswith("EVENT 25") for ln in lines) and Joined(METER) in others


@pytest.mark.parametrize("dialect", list(Dialect))
def test_echo_then_answer_and_sfe_turns_echo_off(dialect: Dialect) -> None:
    m = make(dialect)
    assert run(m, b"SKVER\r\n")[0] == ["SKVER", "EVER 1.2.10", "OK"]
    assert run(m, b"SKSREG SFE 0\r\n")[0] == ["SKSREG SFE 0", "OK"]
    assert run(m, b"SKVER\r\n")[0] == ["EVER 1.2.10", "OK"]
    assert run(m, b"SKSREG SFE\r\n")[0] == ["ESREG 0", "OK"]
    assert run(m, b"SKSREG S50 1A\r\nSKSREG S50\r\n")[0] == ["OK", "ESREG 1A", "OK"]


def test_ropt_wopt_are_cr_terminated() -> None:
    m = make(Dialect.BP35A1)
    m.receive_data(b"ROPT\r")
    out = b"".join(ev.data for ev in iter(m.next_event, NEED_DATA) if isinstance(ev, Output))
    assert out == b"ROPT\rOK 01\r"
    m.receive_data(b"WOPT 00\r")
    out = b"".join(ev.data for ev in iter(m.next_event, NEED_DATA) if isinstance(ev, Output))
    assert out == b"WOPT 00\rOK\r" and m.wopt == 0 and m.wopt_writes == 1
    assert run(make(Dialect.BP35A1), b"WOPT 2\r")[0][-1] == "FAIL ER05"


@pytest.mark.parametrize(
    ("dialect", "good", "bad"),
    [
        (Dialect.BP35A1, "SKSCAN 2 FFFFFFFF 6", "SKSCAN 2 FFFFFFFF 6 0"),
        (Dialect.BP35C2, "SKSCAN 2 FFFFFFFF 6 0", "SKSCAN 2 FFFFFFFF 6"),
    ],
)
def test_scan_arity_per_dialect(dialect: Dialect, good: str, bad: str) -> None:
    m = make(dialect)
    assert run(m, bad.encode() + b"\r\n")[0] == [bad, "FAIL ER05"]
    run(m, f"SKSETRBID {RBID}\r\n".encode())
    lines, _ = run(m, good.encode() + b"\r\n")
    assert lines[1] == "OK" and lines[2].startswith(f"EVENT 20 {METER}")
    assert "EPANDESC" in lines and "  PairID:CCDDEEFF" in lines
    assert ("  Side:0" in lines) is dialect.has_side
    assert lines[-1].startswith("EVENT 22 " + link_local_of(OWN_MAC))


def test_wrong_id_scan_finds_nothing_and_mode3_needs_no_id() -> None:
    m = make(Dialect.BP35A1)
    run(m, f"SKSETRBID {RBID[:-8]}00000000\r\n".encode())
    lines, _ = run(m, b"SKSCAN 2 FFFFFFFF 6\r\n")
    assert lines[1:] == ["OK", f"EVENT 22 {link_local_of(OWN_MAC)}"]
    lines, _ = run(m, b"SKSCAN 3 FFFFFFFF 6\r\n")
    assert "EPANDESC" in lines and not any("PairID" in ln for ln in lines)
    lines, _ = run(m, b"SKSCAN 2 00000002 6\r\n")  # the meter's channel 0x21 is masked out
    assert "EPANDESC" not in lines


@pytest.mark.parametrize("dialect", list(Dialect))
def test_join_wrong_password_then_right(dialect: Dialect) -> None:
    m = make(dialect)
    for cmd in (f"SKSETRBID {RBID}", "SKSETPWD C WRONGPASSWRD", "SKSREG S2 21", "SKSREG S3 8888"):
        assert run(m, cmd.encode() + b"\r\n")[0][-1] == "OK"
    lines, others = run(m, f"SKJOIN {METER}\r\n".encode())
    assert lines[1] == "OK" and lines[-1].startswith(f"EVENT 24 {METER}") and not others
    run(m, f"SKSETPWD C {PWD}\r\n".encode())
    lines, others = run(m, f"SKJOIN {METER}\r\n".encode())
    side = " 0" if dialect.has_side else ""
    assert lines[-1] == f"EVENT 25 {METER}{side}" and others == [Joined(METER)]
    pana = [ln for ln in lines if ln.startswith("ERXUDP")]
    assert len(pana) == 1 and f"ERXUDP {METER} " in pana[0] and " 02CC 02CC " in pana[0]
    assert m.session_address == METER


def test_join_needs_channel_and_pan() -> None:
    m = make(Dialect.BP35A1)
    run(m, f"SKSETRBID {RBID}\r\nSKSETPWD C {PWD}\r\n".encode())
    lines, _ = run(m, f"SKJOIN {METER}\r\n".encode())
    assert lines[-1].startswith("EVENT 24")


@pytest.mark.parametrize("dialect", list(Dialect))
def test_sendto_binary_payload_event21_and_erxudp(dialect: Dialect) -> None:
    m = make(dialect)
    join(m)
    payload = b"\x10\x81\x00\x01\r\n SKVER\r\n\x05\xff\x01\x02\x88\x01\x62\x01\xe7\x00"
    m.receive_data(encode_sksendto(dialect, METER, payload))
    first = m.next_event()
    assert isinstance(first, Output) and first.data.startswith(b"SKSENDTO 1 ")
    assert first.data.endswith(f"{len(payload):04X} \r\n".encode())
    send = m.next_event()
    assert isinstance(send, UdpSend) and send.payload == payload and send.port == 0x0E1A
    assert m.next_event() is PAUSED  # nothing else until the send has a result
    out = m.send(SendOutcome(True))
    out += m.send(DatagramArrived(METER, link_local_of(OWN_MAC), b"\x10\x81\x00\x01"))
    lines = lines_of(out)
    side = " 0" if dialect.has_side else ""
    assert lines[0] == f"EVENT 21 {METER}{side} 00" and lines[1] == "OK"
    assert lines[2].startswith(f"ERXUDP {METER} ") and lines[2].endswith(" 0004 10810001")
    assert len(lines[2].split()) == (9 if dialect is Dialect.BP35A1 else 10)


def test_sendto_wrong_arity_is_er05_and_payload_is_consumed() -> None:
    m = make(Dialect.BP35A1)
    join(m)
    data = encode_sksendto(Dialect.BP35C2, METER, b"\x0d\x0aSKTERM\x0d\x0a")
    lines, others = run(m, data + b"SKVER\r\n")
    assert "FAIL ER05" in lines and not others
    assert lines[-2:] == ["EVER 1.2.10", "OK"] and m.session_address == METER


def test_sendto_without_session_or_when_limited_fails_with_event21_01() -> None:
    m = make(Dialect.BP35A1)
    lines, others = run(m, encode_sksendto(Dialect.BP35A1, METER, b"abc", sec=1))
    assert lines[-2:] == [f"EVENT 21 {METER} 01", "OK"] and not others
    join(m)
    assert lines_of(m.send(TxLimit(True)))[0].startswith("EVENT 32")
    assert m.send(TxLimit(True)) == b""  # already on
    lines, others = run(m, encode_sksendto(Dialect.BP35A1, METER, b"abc"))
    assert lines[-2:] == [f"EVENT 21 {METER} 01", "OK"] and not others
    assert lines_of(m.send(TxLimit(False)))[0].startswith("EVENT 33")


def test_term_expiry_and_reauth() -> None:
    m = make(Dialect.BP35C2)
    join(m)
    assert lines_of(m.send(SessionExpiry())) == [f"EVENT 29 {METER} 0", f"EVENT 25 {METER} 0"]
    lines = lines_of(m.send(SessionExpiry(reauth_ok=False)))
    _, others = run(m, b"")
    assert lines == [f"EVENT 29 {METER} 0", f"EVENT 24 {METER} 0"] and others
    assert isinstance(others[0], SessionEnded) and m.session_address is None
    join(m)
    lines, others = run(m, b"SKTERM\r\n")
    assert lines == ["SKTERM", "OK", f"EVENT 27 {METER} 0"] and others
    assert run(m, b"SKTERM\r\n")[0][-1] == f"EVENT 28 {METER} 0"


@pytest.mark.parametrize(
    "cmd",
    [
        "SKSETRBID 0011",
        "SKSETPWD C SHORT",
        "SKSETPWD",
        "SKLL64 00",
        "SKJOIN notanaddress",
        "SKSREG S02 99",
        "SKSREG S07 1",
        "SKSREG ZZ 1",
        "SKINFO extra",
        "SKSCAN 9 FFFFFFFF 6",
    ],
)
def test_bad_arguments_are_er05(cmd: str) -> None:
    assert run(make(Dialect.BP35A1), cmd.encode() + b"\r\n")[0] == [cmd, "FAIL ER05"]


def test_unknown_and_overlong() -> None:
    m = make(Dialect.BP35A1)
    assert run(m, b"SKFOO\r\n")[0] == ["SKFOO", "FAIL ER04"]
    assert run(m, b"skver\r\n")[0][-1] == "FAIL ER04"
    lines, _ = run(m, b"X" * 2000 + b"\r\nSKVER\r\n")
    assert lines[0] == "FAIL ER09" and lines[-2:] == ["EVER 1.2.10", "OK"]


def test_info_and_ll64() -> None:
    m = make(Dialect.BP35C2)
    lines, _ = run(m, b"SKSREG S2 2A\r\nSKINFO\r\nSKLL64 001C6400601421A3\r\n")
    assert f"EINFO {link_local_of(OWN_MAC)} 001D129012345678 2A FFFF 0" in lines
    assert lines[-1] == METER


def test_reader_terminators_and_split_sendto() -> None:
    r = CommandReader()
    r.feed(b"SKVER\rSKINFO\nSKRESET\r\n\r\nSKSENDTO 1 FE80::1 0E1A 2 0003 a\r")
    assert r.next_item() == RawLine(b"SKVER", b"\r")
    assert r.next_item() == RawLine(b"SKINFO", b"\n")
    assert r.next_item() == RawLine(b"SKRESET", b"\r\n")
    assert r.next_item() == RawLine(b"", b"\r\n")
    assert r.next_item() is None  # two of the three payload bytes are here
    r.feed(b"\n")
    item = r.next_item()
    assert isinstance(item, RawSendTo) and item.payload == b"a\r\n"
    assert item.fields == ("1", "FE80::1", "0E1A", "2", "0003")
    r.feed(b"SKSENDTO 1\r\n")  # a broken header is an ordinary (bad) line
    assert r.next_item() == RawLine(b"SKSENDTO 1", b"\r\n")
    r.feed(b"Y" * 600)
    assert isinstance(r.next_item(), Overlong)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(list(Dialect)))
def test_random_bytes_never_stop_the_module(garbage: bytes, dialect: Dialect) -> None:
    m = make(dialect)
    join(m)
    run(m, garbage)
    # whatever the garbage left half-read, a few line ends and a fresh command get through
    lines, _ = run(m, b"\r\n" + b" " * 8 + b"\r\n" + b"\r\nSKVER\r\n")
    assert lines[-2:] == ["EVER 1.2.10", "OK"]


def test_scan_and_join_report_their_radio_time() -> None:
    m = make(Dialect.BP35A1)
    radio: list[float] = []
    scans = f"SKSETRBID {RBID}\r\nSKSCAN 2 FFFFFFFF 6\r\nSKSCAN 2 FFFFFFFF 8\r\n"
    run(m, scans.encode(), radio)
    assert radio == [pytest.approx(17.5, abs=0.1), pytest.approx(69.1, abs=0.1)]
    radio.clear()
    joining = f"SKSETPWD C {PWD}\r\nSKSREG S2 21\r\nSKSREG S3 8888\r\nSKJOIN {METER}\r\n"
    run(m, joining.encode(), radio)
    assert radio == [4.0]
