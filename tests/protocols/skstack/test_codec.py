"""Byte/line vectors for the SKSTACK IP codec, cross-checked with momonga's own parsers."""

from __future__ import annotations

import pytest
from momonga.momonga_device import BP35A1Strategy, BP35C2Strategy, parse_sk_line
from momonga.momonga_response import SkInfoResponse, SkParsedEvent, SkParsedRxUdp, SkScanResponse

from openami.protocols.skstack import (
    Dialect,
    Event,
    PanDescriptor,
    RxUdp,
    SkFormatError,
    encode_sksendto,
    format_einfo,
    format_epandesc,
    format_erxudp,
    format_event,
    link_local_of,
    pairing_id,
    parse_epandesc,
    parse_erxudp,
    parse_event,
)

METER = "FE80:0000:0000:0000:021C:6400:6014:21A3"
OWN = "FE80:0000:0000:0000:021D:1290:1234:5678"


def test_link_local_flips_universal_local_bit() -> None:
    assert link_local_of(bytes.fromhex("001C6400601421A3")) == METER
    assert link_local_of(bytes.fromhex("C0F9450040213077")).endswith(":C2F9:4500:4021:3077")
    with pytest.raises(ValueError):
        link_local_of(b"\x00" * 7)


def test_pairing_id_is_last_eight_chars() -> None:
    assert pairing_id("00112233445566778899AABBCCDDEEFF") == "CCDDEEFF"


def test_einfo_fifth_field_tells_the_dialects_apart() -> None:
    mac = bytes.fromhex("001D129012345678")
    a1 = format_einfo(Dialect.BP35A1, OWN, mac, 0x21, 0x8888)
    assert a1 == f"EINFO {OWN} 001D129012345678 21 8888 FFFE\r\n".encode()
    c2 = format_einfo(Dialect.BP35C2, OWN, mac, 0x21, 0x8888)
    assert c2 == f"EINFO {OWN} 001D129012345678 21 8888 0\r\n".encode()
    assert SkInfoResponse([a1.decode().strip()]).side == 0xFFFE
    assert SkInfoResponse([c2.decode().strip()]).side == 0


def test_event_lines_per_dialect() -> None:
    assert (
        format_event(Dialect.BP35A1, Event.UDP_SENT, METER, 0)
        == f"EVENT 21 {METER} 00\r\n".encode()
    )
    assert (
        format_event(Dialect.BP35C2, Event.UDP_SENT, METER, 0)
        == f"EVENT 21 {METER} 0 00\r\n".encode()
    )
    assert format_event(Dialect.BP35A1, Event.PANA_OK, METER) == f"EVENT 25 {METER}\r\n".encode()
    assert format_event(Dialect.BP35C2, Event.PANA_OK, METER) == f"EVENT 25 {METER} 0\r\n".encode()
    for dialect, strategy in (
        (Dialect.BP35A1, BP35A1Strategy()),
        (Dialect.BP35C2, BP35C2Strategy()),
    ):
        text = format_event(dialect, Event.UDP_SENT, METER, 1).decode().strip()
        parsed = parse_sk_line(text, strategy)
        assert isinstance(parsed, SkParsedEvent)
        assert (parsed.num, parsed.src_addr, parsed.param) == (0x21, METER, 1)
        ours = parse_event(dialect, text)
        assert (ours.event, ours.addr, ours.param) == (0x21, METER, 1)
    assert parse_event(Dialect.BP35C2, f"EVENT 29 {METER} 0").param is None
    with pytest.raises(SkFormatError):
        parse_event(Dialect.BP35C2, f"EVENT 29 {METER}")
    with pytest.raises(SkFormatError):
        parse_event(Dialect.BP35A1, "EVENT zz x")


@pytest.mark.parametrize("dialect", list(Dialect))
def test_epandesc_block_reads_back_in_momonga(dialect: Dialect) -> None:
    desc = PanDescriptor(0x21, 9, 0x8888, bytes.fromhex("12345678ABCDEF01"), 0xE1, "AABBCCDD", 0)
    block = format_epandesc(dialect, desc).decode()
    lines = block.split("\r\n")[:-1]
    assert lines[:6] == [
        "EPANDESC",
        "  Channel:21",
        "  Channel Page:09",
        "  Pan ID:8888",
        "  Addr:12345678ABCDEF01",
        "  LQI:E1",
    ]
    assert lines[6] == "  PairID:AABBCCDD"
    assert (lines[7:] == ["  Side:0"]) is (dialect is Dialect.BP35C2)
    strategy = BP35A1Strategy() if dialect is Dialect.BP35A1 else BP35C2Strategy()
    scan = SkScanResponse([*lines, "EVENT 22 X"], strategy.decode_scan_side)
    assert (scan.channel, scan.pan_id, scan.mac_addr) == (0x21, b"\x88\x88", desc.mac)
    assert scan.pair_id == bytes.fromhex("AABBCCDD")
    back = parse_epandesc(lines[1:])
    assert back.pan_id == 0x8888 and back.mac == desc.mac and back.pair_id == "AABBCCDD"
    with pytest.raises(SkFormatError):
        parse_epandesc(lines[1:3])


def test_erxudp_field_orders() -> None:
    rx = RxUdp(
        METER,
        OWN,
        0x0E1A,
        0x0E1A,
        bytes.fromhex("001C6400601421A3"),
        1,
        b"\x10\x81\x00\x01",
        0,
        0xE1,
    )
    a1 = format_erxudp(Dialect.BP35A1, rx).decode().strip()
    assert a1 == f"ERXUDP {METER} {OWN} 0E1A 0E1A 001C6400601421A3 1 0004 10810001"
    c2 = format_erxudp(Dialect.BP35C2, rx).decode().strip()
    assert c2 == f"ERXUDP {METER} {OWN} 0E1A 0E1A 001C6400601421A3 1 0 0004 10810001"
    c2l = format_erxudp(Dialect.BP35C2, rx, with_lqi=True).decode().strip()
    assert c2l == f"ERXUDP {METER} {OWN} 0E1A 0E1A 001C6400601421A3 E1 1 0 0004 10810001"
    binary = format_erxudp(Dialect.BP35A1, rx, hex_ascii=False)
    assert binary.endswith(b" 0004 \x10\x81\x00\x01\r\n")
    for text, dialect, strategy in (
        (a1, Dialect.BP35A1, BP35A1Strategy()),
        (c2l, Dialect.BP35C2, BP35C2Strategy()),
    ):
        parsed = parse_sk_line(text, strategy)
        assert isinstance(parsed, SkParsedRxUdp)
        assert parsed.data == rx.data and parsed.src_addr == METER and parsed.src_port == 3610
        assert parse_erxudp(dialect, text).data == rx.data
    assert parse_erxudp(Dialect.BP35C2, c2).lqi is None
    assert parse_erxudp(Dialect.BP35C2, c2l).lqi == 0xE1
    with pytest.raises(SkFormatError):
        parse_erxudp(Dialect.BP35A1, c2)  # 9 fields is not A1
    with pytest.raises(SkFormatError):
        parse_erxudp(Dialect.BP35A1, a1.replace(" 0004 ", " 0005 "))


def test_sksendto_header_per_dialect() -> None:
    payload = b"\x10\x81\x00\x01\x05\xff\x01\x02\x88\x01\x62\x01\xe7\x00"
    a1 = encode_sksendto(Dialect.BP35A1, METER, payload)
    assert a1 == f"SKSENDTO 1 {METER} 0E1A 2 000E ".encode() + payload
    c2 = encode_sksendto(Dialect.BP35C2, METER, payload)
    assert c2 == f"SKSENDTO 1 {METER} 0E1A 2 0 000E ".encode() + payload
    with pytest.raises(ValueError):
        encode_sksendto(Dialect.BP35A1, METER, b"")
