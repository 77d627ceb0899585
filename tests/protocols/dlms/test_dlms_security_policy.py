"""The security policy of a ciphered (HLS) association: authenticated encryption or nothing.

Issue #15 §2: a keyless attacker turned a captured glo GET (SC 0x30) into an ACTION
remote_disconnect by dropping the tag, setting SC 0x20 (encryption only) and XOR-ing the
known plaintext. Once an association requires authenticated encryption, every APDU that is
not SC 0x30 under a request glo tag is refused, before anything is deciphered.
"""

from __future__ import annotations

import struct

import pytest
from tests.protocols.dlms.toy_meter import DISCONNECT, KEYS, SMALL, ToyMeterPair, client

from openami.protocols.dlms import acse, apdu, axdr, security
from openami.protocols.dlms.apdu import ActionRequestNormal, GetRequestNormal
from openami.protocols.dlms.errors import RemoteDlmsProtocolError
from openami.protocols.dlms.events import (
    ActionRequest,
    Associate,
    AssociationRequest,
    Get,
    GetRequest,
    ServerEvent,
    Value,
)
from openami.protocols.dlms.server_session import State
from openami.protocols.dlms.wrapper import WrapperDecoder, encode_wrapper

CLIENT_TITLE = b"OPENAMI\x01"


def _associated() -> ToyMeterPair:
    pair = ToyMeterPair(client("hls"))
    pair.associate()
    assert pair.server.current.state is State.ASSOCIATED
    return pair


def _inject(pair: ToyMeterPair, glo_apdu: bytes) -> list[object]:
    """Send a raw APDU from the client's wPorts straight to the meter (the client is not
    told): the requests the meter served; its refusals land in ``pair.new_refusals``."""
    connection = pair.server
    connection.receive_data(encode_wrapper(1, 1, glo_apdu))
    served: list[object] = []
    pair.new_refusals = []  # type: ignore[attr-defined]
    while True:
        try:
            event = connection.next_event()
        except RemoteDlmsProtocolError as exc:
            pair.new_refusals.append(exc)  # type: ignore[attr-defined]
            if exc.security_event:
                pair.objects.events.append(exc.security_event)
            continue
        if not isinstance(event, ServerEvent):
            return served
        served.append(event)
        connection.send(pair.objects.answer(event))


def _exception_payload(pair: ToyMeterPair) -> bytes:
    return WrapperDecoder().feed(pair.new_refusals[-1].reply or b"")[0].payload  # type: ignore[attr-defined]


def test_keyless_xor_of_a_captured_get_into_a_disconnect_is_refused() -> None:
    pair = _associated()
    # a man in the middle holds back one ciphered GET and sends his forgery in its place
    captured = pair.client.send(Get(SMALL))
    glo_get = WrapperDecoder().feed(captured)[0].payload
    glo = security.parse_glo(glo_get)
    assert glo.security_control == security.SC_AUTH_ENC
    known_plain = apdu.encode_apdu(GetRequestNormal(0xC2, SMALL, None))
    wanted = apdu.encode_apdu(ActionRequestNormal(0xC2, DISCONNECT, None))
    stream = bytes(a ^ b for a, b in zip(glo.data, known_plain, strict=False))
    assert len(stream) == len(known_plain) and len(wanted) <= len(stream)
    forged_body = bytes(a ^ b for a, b in zip(wanted, stream, strict=False))
    forged_ic = glo.invocation_counter  # never seen by the meter: no replay to catch
    body = bytes((security.SC_ENCRYPTED,)) + struct.pack(">I", forged_ic) + forged_body
    forged = bytes((0xCB, len(body))) + body
    # without the policy this deciphers to a valid ACTION remote_disconnect
    assert (
        security.gcm_decrypt(KEYS, CLIENT_TITLE, security.SC_ENCRYPTED, forged_ic, forged_body)
        == wanted
    )
    events = _inject(pair, forged)
    assert events == []
    reply = _exception_payload(pair)
    assert reply[:3] == b"\xd8\x01\x05"  # service-not-allowed / deciphering-error
    assert pair.new_refusals[-1].security_event == "security-policy-violation"  # type: ignore[attr-defined]
    assert "security-policy-violation" in pair.objects.events
    assert pair.server.current.state is State.ASSOCIATED
    # the honest client still gets served (its held-back GET is delivered late)
    assert isinstance(pair.meter_answers(captured)[0], Value)
    assert pair.exchange(Get(SMALL))[0] == Value(axdr.u32(42))


@pytest.mark.parametrize("sc", [0x00, 0x10, 0x20, 0x31, 0x40, 0x70, 0x90, 0xB0, 0xF0])
def test_every_security_byte_but_authenticated_encryption_is_refused(sc: int) -> None:
    pair = _associated()
    plain = apdu.encode_apdu(ActionRequestNormal(0xC1, DISCONNECT, axdr.i8(0)))
    ic = pair.client.invocation_counter + 5
    if sc & 0xF0 in (0x10, 0x20, 0x30) and sc & 0x0F == 0:
        body = (
            bytes((sc,))
            + struct.pack(">I", ic)
            + security.gcm_encrypt(KEYS, CLIENT_TITLE, sc, ic, plain)
        )  # even made with the right keys
    else:
        body = bytes((sc,)) + struct.pack(">I", ic) + plain + bytes(12)
    events = _inject(pair, bytes((0xCB, len(body))) + body)
    assert events == []
    assert pair.objects.events[-1:] in (["security-policy-violation"], ["deciphering-error"])
    assert _exception_payload(pair)[:2] == b"\xd8\x01"


@pytest.mark.parametrize("tag", sorted(security.PLAIN_TAGS))
@pytest.mark.parametrize("sc", [security.SC_ENCRYPTED, security.SC_AUTH_ENC])
def test_only_request_glo_tags_with_authenticated_encryption_are_served(tag: int, sc: int) -> None:
    pair = _associated()
    plain_tag = security.PLAIN_TAGS[tag]
    plain = {
        0xC0: apdu.encode_apdu(GetRequestNormal(0xC1, SMALL, None)),
        0xC3: apdu.encode_apdu(ActionRequestNormal(0xC1, DISCONNECT, axdr.i8(0))),
    }.get(plain_tag, bytes((plain_tag,)) + bytes(8))
    ic = pair.client.invocation_counter + 3
    events = _inject(pair, security.wrap(plain, KEYS, CLIENT_TITLE, ic, sc))
    served = [e for e in events if isinstance(e, (GetRequest, ActionRequest))]
    if sc == security.SC_AUTH_ENC and plain_tag in (0xC0, 0xC3):
        assert served  # the control: a well-formed request is served
        return
    assert served == []
    assert _exception_payload(pair)[:1] == b"\xd8"
    if sc != security.SC_AUTH_ENC or plain_tag not in (0xC0, 0xC1, 0xC3):
        assert _exception_payload(pair)[:3] == b"\xd8\x01\x05"
        assert pair.objects.events == ["security-policy-violation"]
    assert pair.server.current.state is State.ASSOCIATED


@pytest.mark.parametrize("sc", [security.SC_AUTHENTICATED, security.SC_ENCRYPTED])
def test_aarq_whose_initiate_request_is_not_authenticated_encryption_is_refused(sc: int) -> None:
    honest = client("hls")
    aarq_frame = honest.send(Associate())
    aarq = acse.decode_aarq(WrapperDecoder().feed(aarq_frame)[0].payload)
    init = acse.encode_initiate_request(acse.InitiateRequest(0x1D, 0xFFFF))
    downgraded = acse.Aarq(
        context=aarq.context,
        mechanism=aarq.mechanism,
        user_information=security.wrap(init, KEYS, CLIENT_TITLE, 9, sc),
        calling_ap_title=aarq.calling_ap_title,
        authentication_value=aarq.authentication_value,
    )
    pair = ToyMeterPair(client("hls"))
    [request] = _inject(pair, acse.encode_aarq(downgraded))
    assert isinstance(request, AssociationRequest)
    assert request.refusal == acse.AcseDiagnostic.AUTHENTICATION_FAILURE
    assert pair.objects.events == ["security-policy-violation"]
    assert pair.server.current.state is State.IDLE


def test_the_client_refuses_meter_answers_without_authenticated_encryption() -> None:
    pair = _associated()
    pair.client.send(Get(SMALL))
    plain = bytes.fromhex("c401c100060000002a")
    server_title = pair.client.server_title
    forged = security.wrap(plain, KEYS, server_title, 10_000, security.SC_ENCRYPTED)
    pair.client.receive_data(encode_wrapper(1, 1, forged))
    with pytest.raises(Exception, match="authenticated encryption"):
        pair.client.next_event()
