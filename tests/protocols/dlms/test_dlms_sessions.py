"""The association state machines fed with bytes: client ↔ server, no sockets."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openami.protocols.dlms import acse, axdr
from openami.protocols.dlms.apdu import SelectiveAccess
from openami.protocols.dlms.client_session import (
    AssociationRefused,
    ClientAssociation,
    DlmsError,
    NextBlock,
)
from openami.protocols.dlms.connection import ServerConnection
from openami.protocols.dlms.cosem import AttributeRef, DataAccessResult, MethodRef
from openami.protocols.dlms.security import Keys
from openami.protocols.dlms.server_session import (
    MemoryCounterStore,
    ServerAssociation,
    ServerCredentials,
    State,
)
from openami.protocols.dlms.wrapper import WrapperDecoder, WrapperError, encode_wrapper

KEYS = Keys(bytes(range(16)), bytes(range(0xD0, 0xE0)))
BIG = AttributeRef.of(1, "0.0.96.1.0.255", 2)
SMALL = AttributeRef.of(3, "1.0.1.8.0.255", 2)
WRITABLE = AttributeRef.of(3, "1.0.1.8.0.255", 3)


@dataclass
class ToyObjects:
    """Two attributes, one method: enough to exercise the association machinery."""

    big: bytes = axdr.octet_string(bytes(range(256)) * 8)
    written: list[bytes] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def get(self, ctx: object, attr: AttributeRef, access: SelectiveAccess | None) -> bytes | int:
        if attr == BIG:
            return self.big
        if attr == SMALL:
            return axdr.u32(42)
        return DataAccessResult.OBJECT_UNDEFINED

    def set(self, ctx: object, attr: AttributeRef, access: object, value: bytes) -> int:
        self.written.append(value)
        return 0

    def action(self, ctx: object, method: MethodRef, params: bytes | None) -> tuple[int, None]:
        return 0, None

    def on_security_event(self, ctx: object, what: str) -> None:
        self.events.append(what)


def _pair(client_sap: int = 1, **server_kw: object) -> tuple[ToyObjects, ServerAssociation]:
    objects = ToyObjects()
    creds = ServerCredentials(b"OAM\x00\x00\x00\x00\x01", password=b"secret", keys=KEYS)
    return objects, ServerAssociation(objects, creds, MemoryCounterStore(), client_sap)


def _associate(server: ServerAssociation, client: ClientAssociation) -> None:
    answer = client.on_aare(server.handle(client.aarq()) or b"")
    if answer is not None:
        client.on_hls_response(server.handle(answer) or b"")


def _get(server: ServerAssociation, client: ClientAssociation, attr: AttributeRef) -> bytes:
    result = client.on_get_response(server.handle(client.get(attr)) or b"")
    blocks = 1
    while isinstance(result, NextBlock):
        result = client.on_get_response(server.handle(result.request) or b"")
        blocks += 1
    client.blocks_used = blocks  # type: ignore[attr-defined]
    return result


@pytest.mark.parametrize("ciphered", [False, True])
def test_get_set_action_and_block_transfer(ciphered: bool) -> None:
    objects, server = _pair()
    kw = {"keys": KEYS} if ciphered else {"password": b"secret"}
    mech = acse.Mechanism.HIGH_GMAC if ciphered else acse.Mechanism.LOW
    client = ClientAssociation(mech, max_receive_pdu=300, **kw)  # type: ignore[arg-type]
    _associate(server, client)
    assert server.state is State.ASSOCIATED and client.associated
    assert axdr.decode_all(_get(server, client, SMALL)) == 42
    assert _get(server, client, BIG) == objects.big
    assert client.blocks_used > 5  # type: ignore[attr-defined]
    client.on_set_response(server.handle(client.set(WRITABLE, axdr.u8(3))) or b"")
    assert objects.written == [axdr.u8(3)]
    client.on_action_response(
        server.handle(client.action(MethodRef.of(70, "0.0.96.3.10.255", 1), axdr.i8(0))) or b""
    )
    with pytest.raises(DlmsError) as err:
        _get(server, client, AttributeRef.of(1, "0.0.0.0.0.0", 2))
    assert err.value.code == DataAccessResult.OBJECT_UNDEFINED
    assert server.handle(client.release()) == acse.encode_rlre()
    assert server.state is State.IDLE


def test_refusals() -> None:
    objects, server = _pair()
    with pytest.raises(AssociationRefused):
        ClientAssociation(acse.Mechanism.LOW, password=b"wrong").on_aare(
            server.handle(ClientAssociation(acse.Mechanism.LOW, password=b"wrong").aarq()) or b""
        )
    bad_keys = ClientAssociation(
        acse.Mechanism.HIGH_GMAC, keys=Keys(KEYS.encryption_key, bytes(16))
    )
    with pytest.raises(AssociationRefused):
        bad_keys.on_aare(server.handle(bad_keys.aarq()) or b"")
    # no authentication for a management client
    with pytest.raises(AssociationRefused):
        ClientAssociation().on_aare(server.handle(ClientAssociation().aarq()) or b"")
    assert objects.events == ["authentication-failure", "authentication-failure"]
    # the public client can read but not write
    _, public_server = _pair(client_sap=16)
    public = ClientAssociation()
    _associate(public_server, public)
    assert axdr.decode_all(_get(public_server, public, SMALL)) == 42
    with pytest.raises(DlmsError) as err:
        public.on_set_response(public_server.handle(public.set(WRITABLE, axdr.u8(1))) or b"")
    assert err.value.code == DataAccessResult.READ_WRITE_DENIED


def test_replayed_counter_and_wrong_hls_answer() -> None:
    objects, server = _pair()
    client = ClientAssociation(acse.Mechanism.HIGH_GMAC, keys=KEYS)
    _associate(server, client)
    request = client.get(SMALL)
    client.on_get_response(server.handle(request) or b"")
    replay = server.handle(request) or b""
    assert replay[:3] == b"\xd8\x01\x06"
    assert int.from_bytes(replay[3:7], "big") == client.invocation_counter
    assert objects.events == ["invocation-counter-replay"]
    # an attacker without the keys cannot answer the challenge
    _, server2 = _pair()
    honest = ClientAssociation(acse.Mechanism.HIGH_GMAC, keys=KEYS, system_title=b"OPENAMI9")
    answer = honest.on_aare(server2.handle(honest.aarq()) or b"")
    assert server2.state is State.PENDING_HLS and answer is not None
    forged = bytearray(answer)
    forged[-1] ^= 0xFF
    assert (server2.handle(bytes(forged)) or b"")[:3] == b"\xd8\x01\x05"  # deciphering error
    assert server2.state is State.PENDING_HLS
    # while pending, nothing but the answer is served
    assert (server2.handle(honest.get(SMALL)) or b"")[:2] == b"\xd8\x01"


def test_block_number_mismatch_aborts_the_long_get() -> None:
    _, server = _pair()
    client = ClientAssociation(acse.Mechanism.LOW, password=b"secret", max_receive_pdu=300)
    _associate(server, client)
    first = client.on_get_response(server.handle(client.get(BIG)) or b"")
    assert isinstance(first, NextBlock)
    wrong = bytes.fromhex("c002c100000005")
    reply = server.handle(wrong) or b""
    assert reply[:4] == b"\xc4\x02\xc1\x01" and reply[-2:] == bytes((1, 19))


def test_server_connection_routes_and_survives_garbage() -> None:
    created: list[tuple[int, int]] = []

    def factory(server_wport: int, client_wport: int) -> ServerAssociation | None:
        created.append((server_wport, client_wport))
        if server_wport != 1:
            return None
        return _pair(client_sap=client_wport)[1]

    conn = ServerConnection(factory)
    client = ClientAssociation()
    replies = WrapperDecoder()
    out = conn.receive_data(encode_wrapper(16, 1, client.aarq()) + encode_wrapper(16, 1, b"\xee"))
    frames = replies.feed(out)
    client.on_aare(frames[0].payload)
    assert frames[1].payload[:1] == b"\xd8"
    frames = replies.feed(conn.receive_data(encode_wrapper(16, 2, client.aarq())))
    assert acse.decode_aare(frames[0].payload).result == acse.AssociationResult.REJECTED_PERMANENT
    assert created == [(1, 16), (2, 16)]
    with pytest.raises(WrapperError):
        conn.receive_data(b"\x00\x07" + bytes(6))


def test_client_reports_malformed_data_from_the_meter() -> None:
    client = ClientAssociation(acse.Mechanism.LOW, password=b"secret")
    raw = client.on_get_response(bytes.fromhex("c401c100060000"))  # uint32 cut short
    with pytest.raises(axdr.AxdrError):
        axdr.decode_all(raw)  # type: ignore[arg-type]
    with pytest.raises(DlmsError):
        client.on_get_response(bytes.fromhex("d80203"))  # an exception response


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.sampled_from([0xC0, 0xC1, 0xC3, 0x60, 0x62, 0xC8]))
def test_server_answers_any_bytes_without_raising(body: bytes, tag: int) -> None:
    _, server = _pair()
    client = ClientAssociation(acse.Mechanism.LOW, password=b"secret")
    _associate(server, client)
    reply = server.handle(bytes((tag,)) + body)
    assert reply  # always an answer: data, an error result, an exception or an AARE
