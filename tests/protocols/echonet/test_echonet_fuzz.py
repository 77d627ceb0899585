"""Random input through the decoder and the service rules: nothing but EchonetDecodeError.

Two layers: a seeded loop of 100,000 random and mutated frames fed straight to the decoder
(what arrives on an open UDP port), and hypothesis strategies for well-formed structure.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from openami.protocols.echonet import (
    DeviceObject,
    EchonetDecodeError,
    Esv,
    Frame,
    Property,
    decode_frame,
    handle_request,
    node_profile,
)
from openami.protocols.echonet.frame import TWO_BLOCK_ESVS

FRAMES = 100_000
SEED = 0x0E1A


def _objects() -> list[DeviceObject]:
    store = {0xE5: b"\x00"}

    def set_e5(edt: bytes) -> bool:
        if len(edt) != 1 or edt[0] > 99:
            return False
        store[0xE5] = edt
        return True

    meter = DeviceObject(
        eoj=0x028801,
        getters={
            0x80: lambda: b"\x30",
            0xE7: lambda: b"\x00\x00\x01\x00",
            0xE5: lambda: store[0xE5],
        },
        setters={0xE5: set_e5},
        announced=frozenset({0x80}),
    )
    return [node_profile([meter], manufacturer_code=0xFFFFFF, unique_id=bytes(13)), meter]


VALID = [
    bytes.fromhex("1081000105FF010EF00162048A008C008300D600"),
    bytes.fromhex("1081000205FF010288016E01E5010102E500E700"),
    bytes.fromhex("1081000305FF0102880161 01 E50102".replace(" ", "")),
    bytes.fromhex("1081000405FF0102880163 01 8000".replace(" ", "")),
    bytes.fromhex("108100000EF0010EF0017301D50401028801"),
]


def _random_frame(rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:  # raw noise
        return rng.randbytes(rng.randrange(0, 48))
    if kind == 1:  # a plausible header with a random body
        head = bytes([0x10, 0x81]) + rng.randbytes(8)
        esv = rng.choice([*list(Esv), rng.randrange(256)])
        return head + bytes([esv]) + rng.randbytes(rng.randrange(0, 40))
    base = bytearray(rng.choice(VALID))
    if kind == 2:  # flip a few bytes of a valid frame
        for _ in range(rng.randrange(1, 4)):
            base[rng.randrange(len(base))] = rng.randrange(256)
        return bytes(base)
    cut = rng.randrange(len(base) + 4)  # truncate or pad
    return bytes(base[:cut]) if cut <= len(base) else bytes(base) + rng.randbytes(cut - len(base))


def test_hundred_thousand_random_frames() -> None:
    rng = random.Random(SEED)
    objects = _objects()
    decoded = replies = 0
    for _ in range(FRAMES):
        raw = _random_frame(rng)
        try:
            frame = decode_frame(raw)
        except EchonetDecodeError:
            continue
        decoded += 1
        assert frame.encode() == raw  # whatever the strict decoder accepts, it reproduces
        for reply in handle_request(frame, objects):
            replies += 1
            assert reply.tid == frame.tid and reply.deoj == frame.seoj
            assert decode_frame(reply.encode()) == reply
    # the mix must exercise both paths, not only rejections
    assert 10_000 < decoded < FRAMES - 10_000
    assert replies > 1_000


EPC = st.integers(0, 0xFF)
PROPS = st.lists(st.builds(Property, EPC, st.binary(max_size=24)), max_size=8).map(tuple)


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    esv = draw(st.sampled_from(list(Esv)))
    get_props = draw(PROPS) if esv in TWO_BLOCK_ESVS else ()
    return Frame(
        tid=draw(st.integers(0, 0xFFFF)),
        seoj=draw(st.integers(0, 0xFFFFFF)),
        deoj=draw(st.sampled_from([0x028801, 0x028800, 0x0EF001, 0x0EF000, 0x013001])),
        esv=esv,
        properties=draw(PROPS),
        get_properties=get_props,
    )


@settings(max_examples=400, deadline=None, database=None)
@given(frames())
def test_structured_frames_round_trip_and_get_proper_replies(frame: Frame) -> None:
    raw = frame.encode()
    assert decode_frame(raw) == frame
    replies = handle_request(frame, _objects())
    for reply in replies:
        assert reply.tid == frame.tid
        assert [p.epc for p in reply.properties] == [p.epc for p in frame.properties]
        assert [p.epc for p in reply.get_properties] == [p.epc for p in frame.get_properties]
        if frame.esv == Esv.GET:
            failed = any(p.pdc == 0 for p in reply.properties) or not frame.properties
            assert reply.esv == (Esv.GET_SNA if failed else Esv.GET_RES)
    if frame.esv not in (Esv.GET, Esv.SETC, Esv.SETI, Esv.INF_REQ, Esv.SETGET, Esv.INFC):
        assert replies == []


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=64))
def test_any_bytes_decode_or_raise_decode_error(raw: bytes) -> None:
    try:
        frame = decode_frame(raw)
    except EchonetDecodeError:
        return
    assert frame.encode() == raw
