"""PANA (RFC 5191) with EAP-PSK (RFC 4764): the message parser and both peers.

Each input is decoded as a PANA message and as an EAP packet, then given to a fresh PAA, to
a PaC waiting for PAR[S], and to a PaC and a PAA in the middle of a real exchange (after
PAR[S] / PAN[S]), so inputs reach the EAP-PSK server and peer. Allowed: :class:`PanaError`
(:class:`PanaFormatError` for malformed bytes, :class:`PanaProtocolError` for a message that
does not fit). Anything else is a finding.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable

from openami.protocols.pana import (
    PanaAgent,
    PanaClient,
    PanaError,
    authenticate,
    decode,
    psk_from_password,
)
from openami.protocols.pana.eap_psk import parse_eap

ALLOWED = (PanaError,)
MAX_LEN = 512
RBID = b"00112233445566778899AABBCCDDEEFF"
PSK = psk_from_password("0123456789AB")


def _peers(seed: int = 1) -> tuple[PanaClient, PanaAgent]:
    rnd = random.Random(seed).randbytes
    agent = PanaAgent(b"openami-meter-fuzz", lambda peer: PSK if peer == RBID else None, rnd)
    return PanaClient(RBID, PSK, rnd), agent


def _mid_exchange() -> tuple[PanaClient, PanaAgent]:
    client, agent = _peers()
    par_s = agent.receive(client.start())
    assert par_s is not None
    pan_s = client.receive(par_s)
    assert pan_s is not None
    agent.receive(pan_s)  # the agent now waits for EAP
    return client, agent


def setup() -> Callable[[bytes], None]:
    def one_input(data: bytes) -> None:
        with contextlib.suppress(PanaError):
            decode(data)
        with contextlib.suppress(PanaError):
            parse_eap(data)
        fresh_client, fresh_agent = _peers(2)
        fresh_client.start()
        mid_client, mid_agent = _mid_exchange()
        for peer in (fresh_agent, fresh_client, mid_client, mid_agent):
            with contextlib.suppress(PanaError):
                peer.receive(data)

    return one_input


def seeds() -> dict[str, bytes]:
    """Every message of a successful and of a refused exchange."""
    out: dict[str, bytes] = {}
    client, agent = _peers()
    for i, raw in enumerate(authenticate(client, agent)):
        out[f"success-{i + 1}"] = raw
    rnd = random.Random(7).randbytes
    wrong = PanaClient(RBID, psk_from_password("WRONGPASS123"), rnd)
    refusing = PanaAgent(b"openami-meter-fuzz", lambda peer: PSK, rnd)
    for i, raw in enumerate(authenticate(wrong, refusing)):
        out[f"rejected-{i + 1}"] = raw
    return out
