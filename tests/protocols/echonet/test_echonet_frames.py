"""ECHONET Lite frames: byte vectors from captures and clients, round trips, malformed input."""

from __future__ import annotations

import pytest
from pychonet.lib.functions import decodeEchonetMsg

from openami.protocols.echonet import (
    EchonetDecodeError,
    Esv,
    Frame,
    Property,
    decode_frame,
    eoj,
    eoj_class,
    eoj_instance,
)

# pychonet's unicast discovery as captured (docs/reference/broute.md §1.3)
PYCHONET_DISCOVER = bytes.fromhex("1081000105FF010EF00162048A008C008300D600")
# the instance-list INF a B-route meter multicasts after PANA success
BROUTE_D5_INF = bytes.fromhex("108100000EF0010EF0017301D50401028801")
# a fixed-time INF like the captures (hex string 02880105FF017302EA0B), EA sample value
EA_SAMPLE = bytes.fromhex("07E708180E3B0B00016CFF")
EA_INF = (
    bytes.fromhex("1081000102880105FF017302EA0B") + EA_SAMPLE + bytes.fromhex("EB0B") + EA_SAMPLE
)


def test_decode_pychonet_discovery() -> None:
    frame = decode_frame(PYCHONET_DISCOVER)
    assert frame.tid == 1
    assert frame.seoj == 0x05FF01 and frame.deoj == 0x0EF001
    assert frame.esv == Esv.GET
    assert [p.epc for p in frame.properties] == [0x8A, 0x8C, 0x83, 0xD6]
    assert all(p.pdc == 0 for p in frame.properties)
    assert frame.encode() == PYCHONET_DISCOVER


def test_b_route_instance_list_inf() -> None:
    frame = Frame(0, 0x0EF001, 0x0EF001, Esv.INF, (Property(0xD5, bytes.fromhex("01028801")),))
    assert frame.encode() == BROUTE_D5_INF
    assert decode_frame(BROUTE_D5_INF) == frame


def test_fixed_time_inf_capture_shape() -> None:
    frame = decode_frame(EA_INF)
    assert frame.esv == Esv.INF and frame.seoj == 0x028801 and frame.deoj == 0x05FF01
    assert frame.edt(0xEA) == EA_SAMPLE and frame.edt(0xEB) == EA_SAMPLE
    assert frame.edt(0xE7) is None
    assert frame.encode() == EA_INF


def test_setget_has_two_blocks() -> None:
    frame = Frame(
        0xABCD,
        0x05FF01,
        0x028801,
        Esv.SETGET,
        (Property(0xE5, b"\x01"),),
        (Property(0xE5), Property(0xE2)),
    )
    raw = frame.encode()
    assert raw == bytes.fromhex("1081ABCD05FF010288016E01E5010102E500E200")
    assert decode_frame(raw) == frame
    # an empty Get block is still encoded (OPCGet = 0)
    set_only = Frame(1, 0x05FF01, 0x028801, Esv.SETGET, (Property(0xE5, b"\x01"),))
    assert set_only.encode().endswith(b"\xe5\x01\x01\x00")
    assert decode_frame(set_only.encode()) == set_only


@pytest.mark.parametrize("esv", list(Esv))
def test_every_esv_round_trips(esv: Esv) -> None:
    props = (Property(0x80, b"\x30"), Property(0xE7))
    get_props = (Property(0xE0, b"\x00\x00\x00\x01"),) if esv in (0x6E, 0x7E, 0x5E) else ()
    frame = Frame(0xFFFF, 0x028801, 0x05FF01, esv, props, get_props)
    raw = frame.encode()
    assert decode_frame(raw) == frame
    # pychonet reads the same header and first block
    theirs = decodeEchonetMsg(raw)
    assert theirs["TID"] == 0xFFFF and theirs["ESV"] == int(esv)
    assert [(o["EPC"], bytes(o["EDT"])) for o in theirs["OPC"]] == [(p.epc, p.edt) for p in props]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "too short"),
        (bytes.fromhex("1081000105FF010EF001"), "too short"),
        (bytes.fromhex("1181000105FF010EF0016200"), "EHD1"),
        (bytes.fromhex("1082000105FF010EF0016200"), "format 2"),
        (bytes.fromhex("1081000105FF010EF0016201"), "truncated"),
        (bytes.fromhex("1081000105FF010EF001620180"), "truncated"),
        (bytes.fromhex("1081000105FF010EF00162018002AA"), "declares 2 bytes"),
        (bytes.fromhex("1081000105FF010EF0016201800000"), "unexpected bytes"),
        (bytes.fromhex("1081000105FF010EF0016E0180013001"), "truncated"),
        (bytes.fromhex("1081000105FF010EF001990100"), "unknown ESV"),
    ],
)
def test_malformed_frames_raise_decode_error(raw: bytes, message: str) -> None:
    with pytest.raises(EchonetDecodeError, match=message):
        decode_frame(raw)


def test_lenient_mode_ignores_padding_and_unknown_esv() -> None:
    padded = bytes.fromhex("1081000105FF010EF0016201800000")
    assert decode_frame(padded, strict=False).properties == (Property(0x80),)
    odd = decode_frame(bytes.fromhex("1081000105FF010EF00199018000"), strict=False)
    assert odd.esv == 0x99 and odd.properties == (Property(0x80),)


def test_frame_and_property_validation() -> None:
    with pytest.raises(ValueError):
        Frame(0, 0, 0, Esv.GET, (Property(0x100),)).encode()
    with pytest.raises(ValueError):
        Frame(0, 0, 0, Esv.GET_RES, (Property(0x80, bytes(256)),)).encode()
    with pytest.raises(ValueError):
        Frame(0x10000, 0, 0, Esv.GET)
    with pytest.raises(ValueError):
        Frame(0, 0x1000000, 0, Esv.GET)
    with pytest.raises(ValueError):
        Frame(0, 0, 0, Esv.GET, (), (Property(0x80),))  # Get has no second block
    assert Property(0x80, b"\x30").pdc == 1


def test_eoj_helpers() -> None:
    meter = eoj(0x02, 0x88, 0x01)
    assert meter == 0x028801
    assert eoj_class(meter) == 0x0288 and eoj_instance(meter) == 0x01
    with pytest.raises(ValueError):
        eoj(0x100, 0, 0)
