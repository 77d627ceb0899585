"""Property maps in list and bitmap form, checked against momonga's and pychonet's decoders."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from momonga.momonga_echonet_data import EchonetDataParser
from pychonet.lib.epc_functions import _009X

from openami.protocols.echonet import EchonetDecodeError, decode_property_map, encode_property_map

EPCS = st.sets(st.integers(min_value=0x80, max_value=0xFF), max_size=128)


def test_list_form_below_sixteen() -> None:
    assert encode_property_map([0x80, 0x81, 0x88]) == bytes([3, 0x80, 0x81, 0x88])
    assert encode_property_map([]) == b"\x00"
    assert decode_property_map(bytes([3, 0x88, 0x80, 0x81])) == {0x80, 0x81, 0x88}


def test_bitmap_form_from_sixteen() -> None:
    epcs = list(range(0x80, 0x90))  # 16 EPCs: bit 0 of bytes 0…15
    raw = encode_property_map(epcs)
    assert raw == bytes([16]) + bytes([0x01] * 16)
    assert decode_property_map(raw) == set(epcs)
    # bit j of byte i → 0x80 + 0x10·j + i: 0xF3 is byte 3, bit 7; 0xE7 is byte 7, bit 6
    raw = encode_property_map([*range(0x80, 0x8E), 0xF3, 0xE7])
    assert raw[1 + 3] & 0x80 and raw[1 + 7] & 0x40


@settings(database=None)  # no example files left in the tree
@given(EPCS)
def test_round_trip_and_third_party_decoders_agree(epcs: set[int]) -> None:
    raw = encode_property_map(epcs)
    assert decode_property_map(raw) == epcs
    assert {int(code) for code in EchonetDataParser.parse_property_map(raw)} == epcs
    assert set(_009X(raw)) == epcs


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        bytes([2, 0x80]),
        bytes([1, 0x80, 0x81]),
        bytes([2, 0x80, 0x80]),
        bytes([16]) + bytes(15),
    ],
)
def test_malformed_maps(raw: bytes) -> None:
    with pytest.raises(EchonetDecodeError):
        decode_property_map(raw)


def test_bitmap_count_must_match_bits() -> None:
    raw = bytearray(encode_property_map(range(0x80, 0x90)))
    raw[0] = 17
    with pytest.raises(EchonetDecodeError, match="bits set"):
        decode_property_map(bytes(raw))


def test_only_high_epcs_fit_a_map() -> None:
    with pytest.raises(ValueError):
        encode_property_map([0x7F])
