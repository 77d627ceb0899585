"""Illegal moves of the DLMS machines: each raises the right error class, and the legal
table is exactly the transition table (nothing else is accepted)."""

from __future__ import annotations

import pytest
from tests.protocols.dlms.toy_meter import (
    DISCONNECT,
    KEYS,
    SMALL,
    WRITABLE,
    ToyMeterPair,
    association,
    client,
    seeded_bytes,
)

from openami.protocols.dlms import acse, axdr
from openami.protocols.dlms.apdu import (
    ExceptionResponse,
    GetRequestNormal,
    GetResponseNormal,
    SetResponseNormal,
    encode_apdu,
)
from openami.protocols.dlms.client_session import TRANSITIONS, ClientAssociation, ClientState
from openami.protocols.dlms.errors import (
    LocalDlmsProtocolError,
    RemoteDlmsProtocolError,
)
from openami.protocols.dlms.events import (
    Action,
    ActionResponse,
    AnswerChallenge,
    Associate,
    AssociationResponse,
    ChallengeReceived,
    ClientRequest,
    Get,
    GetList,
    GetNextBlock,
    GetResponse,
    Release,
    Set,
    SetRequest,
    SetResponse,
    Value,
)
from openami.protocols.dlms.server_session import State
from openami.protocols.dlms.wrapper import WrapperDecoder, encode_wrapper
from openami.protocols.peer import NEED_DATA, PAUSED

SENDABLE: list[ClientRequest] = [
    Associate(),
    AnswerChallenge(),
    Get(SMALL),
    GetList(((SMALL, None),)),
    GetNextBlock(),
    Set(WRITABLE, axdr.u8(1)),
    Action(DISCONNECT),
    Release(),
]


@pytest.mark.parametrize("state", list(ClientState))
def test_client_sends_only_what_the_table_allows(state: ClientState) -> None:
    for event in SENDABLE:
        machine = client("password")
        machine.state = state
        if TRANSITIONS.allows(state, type(event)):
            continue  # the legal moves are exercised by the exchanges in test_dlms_sessions
        with pytest.raises(LocalDlmsProtocolError):
            machine.send(event)
        assert machine.state is state  # a refused send changes nothing


def test_get_before_the_association_is_refused_on_both_sides() -> None:
    pair = ToyMeterPair(client("password"))
    with pytest.raises(LocalDlmsProtocolError, match="Get in state idle"):
        pair.client.send(Get(SMALL))
    # a client that sends one anyway gets service-not-allowed from the meter
    pair.server.receive_data(encode_wrapper(17, 1, encode_apdu_get()))
    with pytest.raises(RemoteDlmsProtocolError) as refused:
        pair.server.next_event()
    assert WrapperDecoder().feed(refused.value.reply or b"")[0].payload == b"\xd8\x01\x01"
    assert pair.server.current.state is State.IDLE


def encode_apdu_get() -> bytes:
    return encode_apdu(GetRequestNormal(0xC1, SMALL))


def _associated() -> ToyMeterPair:
    pair = ToyMeterPair(client("password"))
    pair.associate()
    return pair


def test_response_with_the_wrong_invoke_id() -> None:
    pair = _associated()
    pair.client.send(Get(SMALL))
    pair.client.receive_data(
        encode_wrapper(1, 17, encode_apdu(GetResponseNormal(0xC5, b"\x11\x01")))
    )
    with pytest.raises(RemoteDlmsProtocolError, match="invoke-id"):
        pair.client.next_event()


def test_frame_for_another_wport() -> None:
    pair = _associated()
    request = pair.client.send(Get(SMALL))
    pair.server.receive_data(request)
    answer = pair.server.send(pair.objects.answer(pair.server.next_event()))
    stray = encode_wrapper(1, 18, WrapperDecoder().feed(answer)[0].payload)  # to SAP 18, not 17
    pair.client.receive_data(stray)
    with pytest.raises(RemoteDlmsProtocolError, match="wPort"):
        pair.client.next_event()
    pair.client.receive_data(answer)  # the right frame is still welcome
    assert isinstance(pair.client.next_event(), Value)


def test_response_of_the_wrong_kind_or_unasked() -> None:
    pair = _associated()
    pair.client.send(Get(SMALL))
    set_answer = encode_apdu(SetResponseNormal(0xC1, 0))
    pair.client.receive_data(encode_wrapper(1, 17, set_answer))
    with pytest.raises(RemoteDlmsProtocolError, match="SetResponseNormal does not answer"):
        pair.client.next_event()
    unasked = _associated()
    unasked.client.receive_data(encode_wrapper(1, 17, encode_apdu(GetResponseNormal(0xC1, 0))))
    with pytest.raises(RemoteDlmsProtocolError, match="unsolicited"):
        unasked.client.next_event()
    assert unasked.client.state is ClientState.ASSOCIATED


def test_replayed_meter_counter_is_refused_by_the_client() -> None:
    pair = ToyMeterPair(client("hls"))
    pair.associate()
    pair.server.receive_data(pair.client.send(Get(SMALL)))
    first = pair.server.send(pair.objects.answer(pair.server.next_event()))
    pair.client.receive_data(first)
    assert isinstance(pair.client.next_event(), Value)
    pair.client.send(Get(SMALL))
    pair.client.receive_data(first)  # the meter's old answer again, with its old counter
    with pytest.raises(RemoteDlmsProtocolError, match="replayed"):
        pair.client.next_event()


def test_meter_that_fails_hls_is_not_trusted() -> None:
    pair = ToyMeterPair(client("hls"))
    assert isinstance(pair.exchange(Associate())[0], ChallengeReceived)
    pair.client._ctos = bytes(16)  # the meter will answer a challenge we did not send
    with pytest.raises(RemoteDlmsProtocolError, match="failed HLS authentication"):
        pair.exchange(AnswerChallenge())
    assert not pair.client.associated


def test_server_pauses_until_answered_and_checks_the_answer() -> None:
    pair = ToyMeterPair(client("public"))
    connection = pair.server
    connection.receive_data(pair.client.send(Associate()))
    first = connection.next_event()
    assert connection.next_event() is PAUSED
    with pytest.raises(LocalDlmsProtocolError):
        connection.send(GetResponse(axdr.u8(1)))  # not an answer to an AARQ
    pair.deliver(pair.client, connection.send(pair.objects.answer(first)))
    assert connection.next_event() is NEED_DATA
    with pytest.raises(LocalDlmsProtocolError, match="no request to answer"):
        connection.send(AssociationResponse())
    connection.receive_data(pair.client.send(Set(WRITABLE, axdr.u8(1))))
    write = connection.next_event()
    assert isinstance(write, SetRequest) and not write.permitted  # the public client
    with pytest.raises(LocalDlmsProtocolError, match="not permitted"):
        connection.send(SetResponse(0))
    with pytest.raises(LocalDlmsProtocolError):
        connection.send(ActionResponse(0))
    answer = connection.send(ExceptionResponse(2, 3))
    assert WrapperDecoder().feed(answer)[0].payload == b"\xd8\x02\x03"


def test_broken_stream_closes_the_connection() -> None:
    pair = ToyMeterPair(client("public"))
    with pytest.raises(RemoteDlmsProtocolError) as broken:
        pair.server.receive_data(b"\x00\x02" + bytes(6))
    assert broken.value.fatal and broken.value.reply is None
    with pytest.raises(LocalDlmsProtocolError, match="closed"):
        pair.server.receive_data(b"")


def test_randomness_is_injected() -> None:
    def aarq(seed: int) -> bytes:
        machine = ClientAssociation(
            acse.Mechanism.HIGH_GMAC, keys=KEYS, random_bytes=seeded_bytes(seed)
        )
        return machine.send(Associate())

    assert aarq(1) == aarq(1) and aarq(1) != aarq(2)
    with pytest.raises(LocalDlmsProtocolError, match="random"):
        ClientAssociation(acse.Mechanism.HIGH_GMAC, keys=KEYS)
    meter = association(server_sap=1, seed=5)
    meter.receive_data(WrapperDecoder().feed(aarq(1))[0].payload)
    meter.next_event()
    aare = acse.decode_aare(meter.send(AssociationResponse()))
    assert aare.authentication_value == seeded_bytes(5)(16)
