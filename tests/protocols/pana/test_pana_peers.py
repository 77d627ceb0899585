"""PANA with EAP-PSK as two peers in memory: success, refusals, tampering, sequence, parser."""

from __future__ import annotations

import contextlib
import random

import pytest

from openami.protocols.pana import (
    LinkSecurity,
    PanaAgent,
    PanaClient,
    PanaFormatError,
    PanaProtocolError,
    authenticate,
    decode,
    link_key,
    psk_from_password,
    terminate,
)
from openami.protocols.pana import message as m
from openami.protocols.pana.eap_psk import aes_cmac, key_setup

RBID = b"00112233445566778899AABBCCDDEEFF"
PASSWORD = "0123456789AB"
ID_S = b"openami-meter-001C6400601421A3"


def peers(password: str = PASSWORD, seed: int = 1) -> tuple[PanaClient, PanaAgent]:
    rnd = random.Random(seed).randbytes
    psk = psk_from_password(PASSWORD)
    agent = PanaAgent(ID_S, lambda peer: psk if peer == RBID else None, rnd)
    return PanaClient(RBID, psk_from_password(password), rnd), agent


def test_aes_cmac_known_answers() -> None:  # RFC 4493 §4, examples 1 and 2
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    assert aes_cmac(key, b"").hex() == "bb1d6929e95937287fa37d129b756746"
    block = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
    assert aes_cmac(key, block).hex() == "070a16b46b4d4144f79bdd9dd04a287c"


def test_success_both_ends_share_the_keys() -> None:
    client, agent = peers()
    log = authenticate(client, agent)
    shapes = [(decode(x).message_type, decode(x).flags) for x in log]
    r, s, c = m.FLAG_R, m.FLAG_S, m.FLAG_C
    assert shapes == [
        (m.MSG_CLIENT_INITIATION, 0),
        (m.MSG_AUTH, r | s),
        (m.MSG_AUTH, s),
        (m.MSG_AUTH, r),
        (m.MSG_AUTH, 0),
        (m.MSG_AUTH, r),
        (m.MSG_AUTH, 0),
        (m.MSG_AUTH, r | c),
        (m.MSG_AUTH, c),
    ]
    assert client.state == agent.state == "OPEN"
    assert client.result is not None and agent.result is not None
    assert client.result.success and agent.result.success
    assert client.result.msk == agent.result.msk and len(client.result.msk) == 64
    assert client.result.auth_key == agent.result.auth_key
    assert client.result.key_id == agent.result.key_id and client.result.lifetime_s == 86400
    assert m.verify(log[-2], client.result.auth_key) and m.verify(log[-1], agent.result.auth_key)
    assert "msk=" not in repr(client.result) and "auth_key=" not in repr(client.result)
    # the sequence: each PAN echoes its PAR, each PAR is the previous + 1
    seqs = [decode(x).seq for x in log[1:]]
    assert seqs[0::2] == seqs[1::2] and seqs[2::2] == [
        (seqs[0] + i) & 0xFFFFFFFF for i in (1, 2, 3)
    ]


@pytest.mark.parametrize("password", ["WRONGPASS123", ""])
def test_wrong_password_is_rejected_without_auth(password: str) -> None:
    client, agent = peers(password)
    log = authenticate(client, agent)
    final = decode(log[-2])
    assert final.flags & m.FLAG_C and final.u32(m.AVP_RESULT_CODE) == m.PANA_AUTHENTICATION_REJECTED
    assert final.avp(m.AVP_AUTH) is None and final.avp(m.AVP_KEY_ID) is None
    assert client.state == agent.state == "CLOSED"
    assert client.result is not None and not client.result.success and not client.result.msk


def test_unknown_peer_identity_is_rejected() -> None:
    rnd = random.Random(3).randbytes
    client = PanaClient(b"F" * 32, psk_from_password(PASSWORD), rnd)
    agent = PanaAgent(ID_S, lambda peer: None, rnd)
    authenticate(client, agent)
    assert agent.result is not None and not agent.result.success


def _step(client: PanaClient, agent: PanaAgent, n: int) -> list[bytes]:
    """The first ``n`` messages, alternating PaC → PAA."""
    log = [client.start()]
    while len(log) < n:
        peer = agent if len(log) % 2 else client
        reply = peer.receive(log[-1])
        assert reply is not None
        log.append(reply)
    return log


def test_tampered_msg3_and_auth_are_refused() -> None:
    client, agent = peers()
    log = _step(client, agent, 6)  # ends with the PAR carrying EAP-PSK msg 3
    bad = bytearray(log[-1])
    bad[-30] ^= 0x01  # inside MAC_S or the protected channel
    with pytest.raises(PanaProtocolError):
        client.receive(bytes(bad))
    client, agent = peers()
    log = _step(client, agent, 8)  # ends with PAR[C] and its AUTH
    forged = log[-1][:-1] + bytes([log[-1][-1] ^ 0xFF])
    pan = client.receive(forged)
    assert client.state == "CLOSED" and pan is not None and decode(pan).avp(m.AVP_AUTH) is None


def test_out_of_sequence_and_foreign_messages_are_refused() -> None:
    client, agent = peers()
    log = _step(client, agent, 4)
    replayed = log[1]  # PAR[S] again
    with pytest.raises(PanaProtocolError):
        client.receive(replayed)
    with pytest.raises(PanaProtocolError):
        agent.receive(log[2])  # the PAN[S] again: wrong sequence number now
    other_client, _ = peers(seed=9)
    with pytest.raises(PanaProtocolError):
        other_client.receive(log[3])  # a PAR without the start


def test_parser_raises_only_its_error() -> None:
    rnd = random.Random(5)
    good = peers()[0].start()
    for _ in range(400):
        raw = bytearray(rnd.randbytes(rnd.randrange(0, 64)) if rnd.random() < 0.5 else good)
        if raw and rnd.random() < 0.7:
            raw[rnd.randrange(len(raw))] ^= 1 << rnd.randrange(8)
        with contextlib.suppress(PanaFormatError):
            decode(bytes(raw))


def test_termination_is_signed_and_closes_both_ends() -> None:
    client, agent = peers()
    with pytest.raises(PanaProtocolError):
        client.terminate()  # nothing open yet
    authenticate(client, agent)
    ptr = client.terminate()
    assert decode(ptr).message_type == m.MSG_TERMINATION and decode(ptr).is_request()
    forged = ptr[:-1] + bytes([ptr[-1] ^ 1])
    with pytest.raises(PanaProtocolError, match="AUTH"):
        agent.receive(forged)
    pta = agent.receive(ptr)
    assert pta is not None and agent.state == "CLOSED"
    assert client.receive(pta) is None and client.state == "CLOSED"
    other_client, other_agent = peers(seed=4)
    authenticate(other_client, other_agent)
    assert terminate(other_client, other_agent)
    with pytest.raises(PanaProtocolError):
        other_agent.receive(other_client.start())  # a closed PAA takes no new PCI


def test_key_setup_and_link_protection() -> None:
    keys = key_setup(psk_from_password(PASSWORD))
    assert keys.ak != keys.kdk and len(keys.ak) == 16
    with pytest.raises(PanaFormatError):
        key_setup(b"short")
    client, agent = peers()
    authenticate(client, agent)
    assert client.result and agent.result
    a_mac, b_mac = bytes(7) + b"\x01", bytes(7) + b"\x02"
    module = LinkSecurity(link_key(client.result.msk, client.result.key_id), a_mac)
    meter = LinkSecurity(link_key(agent.result.msk, agent.result.key_id), b_mac)
    frame = module.protect(b"\x10\x81\x00\x01 ECHONET")
    assert b"ECHONET" not in frame
    assert meter.unprotect(a_mac, frame) == b"\x10\x81\x00\x01 ECHONET"
    with pytest.raises(PanaProtocolError, match="replayed"):
        meter.unprotect(a_mac, frame)
    tampered = module.protect(b"second")
    with pytest.raises(PanaProtocolError, match="MIC"):
        meter.unprotect(a_mac, tampered[:-1] + bytes([tampered[-1] ^ 1]))
    stranger = LinkSecurity(bytes(16), a_mac)  # another key, the module's address
    stranger.counter = 10  # past the replay window
    with pytest.raises(PanaProtocolError, match="MIC"):
        meter.unprotect(a_mac, stranger.protect(b"forged"))
