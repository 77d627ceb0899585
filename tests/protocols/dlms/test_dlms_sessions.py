"""The association machines wired back to back in memory: every legal exchange, no sockets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.protocols.dlms.toy_meter import (
    BIG,
    DISCONNECT,
    KEYS,
    SMALL,
    WRITABLE,
    ToyMeterPair,
    client,
)

from openami.protocols.dlms import acse, axdr
from openami.protocols.dlms.axdr import AxdrError
from openami.protocols.dlms.cosem import AttributeRef, DataAccessResult
from openami.protocols.dlms.errors import RemoteDlmsProtocolError
from openami.protocols.dlms.events import (
    Action,
    ActionDone,
    AnswerChallenge,
    Associate,
    Associated,
    AssociationRejected,
    BlockReceived,
    ChallengeReceived,
    Get,
    GetList,
    GetNextBlock,
    ListItemError,
    Release,
    Released,
    ServiceFailed,
    Set,
    Value,
    ValueList,
    Written,
)
from openami.protocols.dlms.security import Keys
from openami.protocols.dlms.server_session import State
from openami.protocols.dlms.wrapper import WrapperDecoder, encode_wrapper


def _get(pair: ToyMeterPair, attr: AttributeRef) -> tuple[list[object], bytes]:
    """A GET followed through its blocks: (every client event, the value's bytes)."""
    events: list[object] = list(pair.exchange(Get(attr)))
    while isinstance(events[-1], BlockReceived):
        events += pair.exchange(GetNextBlock())
    last = events[-1]
    assert isinstance(last, Value)
    return events, last.data


@pytest.mark.parametrize("kind", ["password", "hls"])
def test_get_set_action_and_block_transfer(kind: str) -> None:
    pair = ToyMeterPair(client(kind, max_receive_pdu=300))
    events = pair.associate()
    if kind == "hls":
        assert isinstance(events[0], ChallengeReceived)
    assert isinstance(events[-1], Associated) and pair.client.associated
    assert pair.server.current.state is State.ASSOCIATED
    assert axdr.decode_all(_get(pair, SMALL)[1]) == 42
    events, value = _get(pair, BIG)
    assert value == pair.objects.big
    assert [e.block_number for e in events[:-1]] == list(range(1, len(events)))  # type: ignore[attr-defined]
    assert len(events) > 5
    if kind == "hls":
        assert pair.exchange(Set(WRITABLE, axdr.u8(3))) == [Written()]
        assert pair.objects.written == [axdr.u8(3)]
        assert pair.exchange(Action(DISCONNECT, axdr.i8(0))) == [ActionDone(None)]
    else:  # the password level reads only
        [denied] = pair.exchange(Set(WRITABLE, axdr.u8(3)))
        assert isinstance(denied, ServiceFailed)
        assert denied.code == DataAccessResult.READ_WRITE_DENIED
        [refused] = pair.exchange(Action(DISCONNECT, axdr.i8(0)))
        assert isinstance(refused, ServiceFailed)
        assert pair.objects.written == []
    failed = pair.exchange(Get(AttributeRef.of(1, "0.0.0.0.0.0", 2)))
    assert failed == [ServiceFailed(DataAccessResult.OBJECT_UNDEFINED, failed[0].reason)]  # type: ignore[union-attr]
    listed = pair.exchange(GetList(((SMALL, None), (AttributeRef.of(1, "0.0.0.0.0.0", 2), None))))
    assert listed == [ValueList((axdr.u32(42), ListItemError(DataAccessResult.OBJECT_UNDEFINED)))]
    release = pair.client.send(Release())
    assert pair.meter_answers(release) == [Released()]
    assert WrapperDecoder().feed(pair.sent[id(pair.server)][-1])[0].payload == acse.encode_rlre()
    assert pair.server.current.state is State.IDLE and not pair.client.associated


def test_get_with_list_in_blocks() -> None:
    pair = ToyMeterPair(client("password", max_receive_pdu=300))
    pair.associate()
    events = pair.exchange(GetList(((BIG, None), (SMALL, None))))
    while isinstance(events[-1], BlockReceived):
        events = pair.exchange(GetNextBlock())
    assert events == [ValueList((pair.objects.big, axdr.u32(42)))]


def test_refusals() -> None:
    wrong_password = ToyMeterPair(client("password", password=b"wrong"))
    assert isinstance(wrong_password.associate()[0], AssociationRejected)
    assert wrong_password.objects.events == ["authentication-failure"]
    bad_keys = ToyMeterPair(client("hls", keys=Keys(KEYS.encryption_key, bytes(16))))
    [rejected] = bad_keys.associate()
    assert isinstance(rejected, AssociationRejected)
    assert rejected.diagnostic == acse.AcseDiagnostic.AUTHENTICATION_FAILURE
    assert bad_keys.objects.events == ["authentication-failure"]
    # no authentication for a management client
    anonymous = ToyMeterPair(client("public", client_wport=1))
    [rejected] = anonymous.associate()
    assert isinstance(rejected, AssociationRejected)
    assert rejected.diagnostic == acse.AcseDiagnostic.AUTHENTICATION_REQUIRED
    assert anonymous.objects.events == [] and anonymous.client.state.value == "idle"
    # the public client can read but not write
    public = ToyMeterPair(client("public"))
    assert isinstance(public.associate()[-1], Associated)
    assert axdr.decode_all(_get(public, SMALL)[1]) == 42
    [denied] = public.exchange(Set(WRITABLE, axdr.u8(1)))
    assert isinstance(denied, ServiceFailed) and denied.code == DataAccessResult.READ_WRITE_DENIED
    assert public.objects.written == []


def test_replayed_counter_and_wrong_hls_answer() -> None:
    pair = ToyMeterPair(client("hls"))
    pair.associate()
    request = pair.client.send(Get(SMALL))
    assert isinstance(pair.meter_answers(request)[0], Value)
    pair.server.receive_data(request)
    with pytest.raises(RemoteDlmsProtocolError) as replay:
        pair.server.next_event()
    reply = WrapperDecoder().feed(replay.value.reply or b"")[0].payload
    assert reply[:3] == b"\xd8\x01\x06"
    assert int.from_bytes(reply[3:7], "big") == pair.client.invocation_counter
    assert replay.value.security_event == "invocation-counter-replay"
    # an attacker without the keys cannot answer the challenge
    honest = ToyMeterPair(client("hls", system_title=b"OPENAMI9"))
    assert isinstance(honest.exchange(Associate())[0], ChallengeReceived)
    answer = honest.client.send(AnswerChallenge())
    forged = bytearray(answer)
    forged[-1] ^= 0xFF
    honest.server.receive_data(bytes(forged))
    with pytest.raises(RemoteDlmsProtocolError) as deciphering:
        honest.server.next_event()
    assert WrapperDecoder().feed(deciphering.value.reply or b"")[0].payload[:3] == b"\xd8\x01\x05"
    assert deciphering.value.security_event == "deciphering-error"
    assert honest.server.current.state is State.CHALLENGED
    # the untampered answer still works: the association goes on
    assert honest.meter_answers(answer) == [
        Associated(honest.client.conformance, honest.client.server_max_pdu)
    ]


def test_block_number_mismatch_aborts_the_long_get() -> None:
    pair = ToyMeterPair(client("password", max_receive_pdu=300))
    pair.associate()
    assert isinstance(pair.exchange(Get(BIG))[0], BlockReceived)
    wrong = encode_wrapper(17, 1, bytes.fromhex("c002c100000005"))  # block 5 instead of 1
    pair.server.receive_data(wrong)
    request = pair.server.next_event()
    reply = WrapperDecoder().feed(pair.server.send(pair.objects.answer(request)))[0].payload
    assert reply[:4] == b"\xc4\x02\xc1\x01" and reply[-2:] == bytes((1, 19))


def test_server_connection_routes_and_survives_garbage() -> None:
    pair = ToyMeterPair(client("public"))
    connection = pair.server
    connection.receive_data(pair.client.send(Associate()) + encode_wrapper(16, 1, b"\xee"))
    aare = connection.send(pair.objects.answer(connection.next_event()))
    with pytest.raises(RemoteDlmsProtocolError) as garbage:
        connection.next_event()
    assert WrapperDecoder().feed(garbage.value.reply or b"")[0].payload[:1] == b"\xd8"
    assert pair.deliver(pair.client, aare) == [Associated(pair.client.conformance, 2048)]
    other = client("public", server_wport=2)
    connection.receive_data(other.send(Associate()))
    with pytest.raises(RemoteDlmsProtocolError) as no_device:
        connection.next_event()
    other.receive_data(no_device.value.reply or b"")
    assert isinstance(other.next_event(), AssociationRejected)
    assert pair.created == [(1, 16), (2, 16)]
    with pytest.raises(RemoteDlmsProtocolError) as broken:
        connection.receive_data(b"\x00\x07" + bytes(6))
    assert broken.value.fatal


def test_client_reports_malformed_data_and_exception_responses() -> None:
    pair = ToyMeterPair(client("password"))
    pair.associate()
    pair.client.send(Get(SMALL))
    invoke_id = 0xC1  # high priority, confirmed, the first request of the association
    pair.client.receive_data(encode_wrapper(1, 17, bytes((0xC4, 1, invoke_id, 0, 6, 0, 0))))
    value = pair.client.next_event()
    assert isinstance(value, Value)
    with pytest.raises(AxdrError):
        axdr.decode_all(value.data)  # uint32 cut short: the caller's decode tells
    pair.client.send(Get(SMALL))
    pair.client.receive_data(encode_wrapper(1, 17, bytes.fromhex("d80203")))
    failed = pair.client.next_event()
    assert isinstance(failed, ServiceFailed) and failed.code == 3
    assert pair.client.state.value == "associated"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.sampled_from([0xC0, 0xC1, 0xC3, 0x60, 0x62, 0xC8]))
def test_server_answers_any_bytes_without_raising(body: bytes, tag: int) -> None:
    pair = ToyMeterPair(client("password"))
    pair.associate()
    connection = pair.server
    connection.receive_data(encode_wrapper(17, 1, bytes((tag,)) + body))
    try:
        event = connection.next_event()
        reply = connection.send(pair.objects.answer(event))
    except RemoteDlmsProtocolError as exc:
        assert not exc.fatal
        reply = exc.reply or b""
    # always an answer: data, an error result, an exception or an AARE
    assert len(WrapperDecoder().feed(reply)[0].payload) > 0
