"""The OPLC/1 modem and its lines: joins, sends, refusals; the parser raises only its error."""

from __future__ import annotations

import pytest

from openami.protocols.plc import (
    FAIL_BAD_ARGUMENT,
    FAIL_NOT_JOINED,
    FAIL_UNKNOWN_COMMAND,
    PLC_EVENT_AUTH_FAILED,
    PLC_EVENT_JOINED,
    PLC_EVENT_NO_METER,
    PlcEvent,
    PlcFail,
    PlcFormatError,
    PlcInfo,
    PlcMeter,
    PlcModule,
    PlcOk,
    PlcReceived,
    PlcSend,
    encode_command,
    parse_line,
)
from openami.protocols.plc.codec import MAX_LINE_BYTES, encode_send

RBID = "00112233445566778899AABBCCDDEEFF"
PASSWORD = "0123456789AB"
METER = PlcMeter(bytes.fromhex("001C6400601421A3"), RBID, PASSWORD)
MAC = bytes.fromhex("001D1290ABC00001")


def lines(out: list[bytes | PlcSend]) -> list[object]:
    parsed: list[object] = []
    for item in out:
        if isinstance(item, PlcSend):
            parsed.append(item)
            continue
        parsed.extend(parse_line(raw) for raw in item.split(b"\r\n") if raw)
    return parsed


def joined_module(password: str = PASSWORD) -> tuple[PlcModule, list[object]]:
    module = PlcModule(MAC, METER)
    module.receive_data(encode_command("PLCSETID", RBID))
    module.receive_data(encode_command("PLCSETPWD", password))
    return module, lines(module.receive_data(encode_command("PLCJOIN")))


def test_join_send_and_receive() -> None:
    module, out = joined_module()
    assert out == [PlcOk(), PlcEvent(PLC_EVENT_JOINED, METER.address)]
    frame = bytes.fromhex("1081000105FF010288016201E700")
    sent = lines(module.receive_data(encode_send(frame)))
    assert sent == [PlcOk(), PlcSend(frame)]
    assert parse_line(module.from_meter(b"\x10\x81reply").strip()) == PlcReceived(
        METER.address, b"\x10\x81reply"
    )
    info = lines(module.receive_data(b"PLCINFO\r\n"))
    assert info == [PlcInfo(MAC, "JOINED"), PlcOk()]
    lines(module.receive_data(b"PLCTERM\r\n"))
    assert module.from_meter(b"late") == b""
    assert lines(module.receive_data(encode_send(frame))) == [PlcFail(FAIL_NOT_JOINED)]


@pytest.mark.parametrize(
    ("meter", "password", "event"),
    [
        (METER, "WRONGPASS123", PLC_EVENT_AUTH_FAILED),
        (PlcMeter(METER.mac, "", ""), PASSWORD, PLC_EVENT_NO_METER),  # not provisioned
        (None, PASSWORD, PLC_EVENT_NO_METER),
    ],
)
def test_join_refused(meter: PlcMeter | None, password: str, event: int) -> None:
    module = PlcModule(MAC, meter)
    module.receive_data(encode_command("PLCSETID", RBID) + encode_command("PLCSETPWD", password))
    out = lines(module.receive_data(b"PLCJOIN\r\n"))
    assert out[0] == PlcOk() and isinstance(out[1], PlcEvent) and out[1].event == event
    assert not module.joined


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"SKSCAN 2\r\n", FAIL_UNKNOWN_COMMAND),
        (b"PLCSETID short\r\n", FAIL_BAD_ARGUMENT),
        (b"PLCSETPWD\r\n", FAIL_BAD_ARGUMENT),
        (b"PLCJOIN\r\n", FAIL_BAD_ARGUMENT),  # no ID or password yet
        (b"\xff\xfe\r\n", FAIL_UNKNOWN_COMMAND),
    ],
)
def test_refusals(line: bytes, code: int) -> None:
    assert lines(PlcModule(MAC, METER).receive_data(line)) == [PlcFail(code)]


def test_bad_sends_and_overlong_lines_change_nothing() -> None:
    module, _ = joined_module()
    for bad in (b"PLCSEND 0004 0102\r\n", b"PLCSEND 0002 zz11\r\n", b"PLCSEND\r\n"):
        assert lines(module.receive_data(bad)) == [PlcFail(FAIL_BAD_ARGUMENT)]
    assert lines(module.receive_data(b"A" * (MAX_LINE_BYTES + 1))) == [PlcFail(FAIL_BAD_ARGUMENT)]
    assert module.joined


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"EVENT",
        b"EVENT 2",
        b"ERX fe80::1 0002 01",
        b"ERX FE80::1 0002 1",  # an odd number of hex digits (found by the fuzz harness)
        b"FAIL 12",
        b"EINFO XYZ IDLE",
        b"\xff",
    ],
)
def test_parser_raises_only_its_error(raw: bytes) -> None:
    with pytest.raises(PlcFormatError):
        parse_line(raw)


def test_encoders_refuse_what_a_line_cannot_carry() -> None:
    with pytest.raises(PlcFormatError):
        encode_command("PLCSETPWD", "two words")
    with pytest.raises(PlcFormatError):
        encode_send(b"")
