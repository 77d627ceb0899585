"""The PANA exchange (RFC 5191 §4) carrying EAP-PSK, as two sans-I/O peers.

The HEMS's module is the PANA Client (PaC), the meter the Authentication Agent (PAA)::

    PaC  PCI ───────────────────────────────▶ PAA
         ◀─────────── PAR[S] PRF, Integrity ─
         PAN[S] PRF, Integrity ─────────────▶
         ◀──────────── PAR Nonce, EAP msg 1 ─
         PAN Nonce, EAP msg 2 ──────────────▶
         ◀─────────────────── PAR EAP msg 3 ─
         PAN EAP msg 4 ─────────────────────▶
         ◀ PAR[C] Result-Code, EAP-Success, Key-Id, Session-Lifetime, AUTH ─
         PAN[C] AUTH ───────────────────────▶      (both: OPEN, PANA_AUTH_KEY shared)

A failed authentication ends with PAR[C] Result-Code PANA_AUTHENTICATION_REJECTED and
EAP-Failure, no AUTH, and PAN[C]. Sequence numbers start at a random ISN of the PAA; every
PAN echoes its PAR's. Each peer takes bytes with :meth:`receive` and gives the bytes to
send back; :func:`authenticate` runs the two in memory (the virtual module's radio).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from openami.protocols.pana import message as m
from openami.protocols.pana.eap_psk import EapPskPeer, EapPskServer, RandomBytes
from openami.protocols.pana.errors import PanaProtocolError

NONCE_BYTES = 16
DEFAULT_SESSION_LIFETIME_S = 86400
_ALGORITHMS = (
    m.Avp(m.AVP_PRF_ALGORITHM, m.u32(m.PRF_HMAC_SHA2_256)),
    m.Avp(m.AVP_INTEGRITY_ALGORITHM, m.u32(m.AUTH_HMAC_SHA2_256_128)),
)


@dataclass(frozen=True)
class PanaResult:
    success: bool
    session_id: int
    key_id: bytes = b""
    msk: bytes = field(default=b"", repr=False)
    auth_key: bytes = field(default=b"", repr=False)
    lifetime_s: int = 0


def _check_algorithms(msg: m.PanaMessage) -> None:
    if (
        msg.u32(m.AVP_PRF_ALGORITHM) != m.PRF_HMAC_SHA2_256
        or msg.u32(m.AVP_INTEGRITY_ALGORITHM) != m.AUTH_HMAC_SHA2_256_128
    ):
        raise PanaProtocolError("no common PRF / integrity algorithm")


class PanaAgent:
    """The PAA (the meter): answers a PCI, runs the EAP-PSK server, ends with PAR[C]."""

    def __init__(
        self,
        id_s: bytes,
        lookup: Callable[[bytes], bytes | None],
        random_bytes: RandomBytes,
        session_lifetime_s: int = DEFAULT_SESSION_LIFETIME_S,
    ) -> None:
        self.random_bytes = random_bytes
        self.eap = EapPskServer(id_s, lookup, random_bytes)
        self.lifetime_s = session_lifetime_s
        self.state = "INITIAL"
        self.session_id = 0
        self.seq = 0
        self.result: PanaResult | None = None
        self._i_par = self._i_pan = self._paa_nonce = self._pac_nonce = b""
        self._auth_key = b""
        self._key_id = b""

    def _par(self, flags: int, *avps: m.Avp) -> m.PanaMessage:
        return m.PanaMessage(m.FLAG_R | flags, m.MSG_AUTH, self.session_id, self.seq, avps)

    def receive(self, raw: bytes) -> bytes | None:
        msg = m.decode(raw)
        if self.state == "INITIAL":
            if msg.message_type != m.MSG_CLIENT_INITIATION or msg.flags:
                raise PanaProtocolError("a session starts with PANA-Client-Initiation")
            self.session_id = struct.unpack("!I", self.random_bytes(4))[0] or 1
            self.seq = struct.unpack("!I", self.random_bytes(4))[0]
            self._i_par = self._par(m.FLAG_S, *_ALGORITHMS).encode()
            self.state = "WAIT_PAN_START"
            return self._i_par
        if msg.message_type == m.MSG_TERMINATION and msg.is_request():
            return self._terminated(msg, raw)
        if msg.message_type != m.MSG_AUTH or msg.is_request():
            raise PanaProtocolError("the PAA expects PANA-Auth-Answer")
        if msg.session_id != self.session_id or msg.seq != self.seq:
            raise PanaProtocolError("PAN of another session or sequence number")
        return self._answer(msg, raw)

    def _answer(self, msg: m.PanaMessage, raw: bytes) -> bytes | None:
        if self.state == "WAIT_PAN_START":
            if not msg.flags & m.FLAG_S:
                raise PanaProtocolError("expected PAN[S]")
            _check_algorithms(msg)
            self._i_pan = raw
            self._paa_nonce = self.random_bytes(NONCE_BYTES)
            self.seq = (self.seq + 1) & 0xFFFFFFFF
            self.state = "WAIT_EAP"
            nonce = m.Avp(m.AVP_NONCE, self._paa_nonce)
            return self._par(0, nonce, m.Avp(m.AVP_EAP_PAYLOAD, self.eap.start())).encode()
        if self.state == "WAIT_EAP":
            if not self._pac_nonce:
                self._pac_nonce = msg.avp(m.AVP_NONCE) or b""
                if not 8 <= len(self._pac_nonce) <= 256:
                    raise PanaProtocolError("the first PAN carries the PaC's Nonce")
            payload = msg.avp(m.AVP_EAP_PAYLOAD)
            if payload is None:
                raise PanaProtocolError("PAN without EAP-Payload")
            reply = self.eap.receive(payload)
            self.seq = (self.seq + 1) & 0xFFFFFFFF
            if self.eap.success is None:
                return self._par(0, m.Avp(m.AVP_EAP_PAYLOAD, reply)).encode()
            return self._complete(reply)
        if self.state == "WAIT_PAN_COMPLETE" and msg.flags & m.FLAG_C:
            ok = bool(self.eap.success) and m.verify(raw, self._auth_key)
            self.state = "OPEN" if ok else "CLOSED"
            self.result = PanaResult(
                ok,
                self.session_id,
                self._key_id,
                self._msk() if ok else b"",
                self._auth_key if ok else b"",
                self.lifetime_s if ok else 0,
            )
            return None
        raise PanaProtocolError(f"unexpected PAN in {self.state}")

    def _terminated(self, msg: m.PanaMessage, raw: bytes) -> bytes:
        """PANA-Termination-Request of the open session: answered with a signed PTA."""
        if self.state != "OPEN" or msg.session_id != self.session_id:
            raise PanaProtocolError("PTR outside an open session")
        if not m.verify(raw, self._auth_key):
            raise PanaProtocolError("PTR with a wrong AUTH")
        self.state = "CLOSED"
        pta = m.PanaMessage(0, m.MSG_TERMINATION, self.session_id, msg.seq)
        return m.sign(pta, self._auth_key)

    def _msk(self) -> bytes:
        return b"" if self.eap.keys is None else self.eap.keys.msk

    def _complete(self, eap_end: bytes) -> bytes:
        self.state = "WAIT_PAN_COMPLETE"
        payload = m.Avp(m.AVP_EAP_PAYLOAD, eap_end)
        if not self.eap.success:
            code = m.Avp(m.AVP_RESULT_CODE, m.u32(m.PANA_AUTHENTICATION_REJECTED))
            return self._par(m.FLAG_C, code, payload).encode()
        self._key_id = self.random_bytes(4)
        self._auth_key = m.auth_key(
            self._msk(), self._i_par, self._i_pan, self._pac_nonce, self._paa_nonce, self._key_id
        )
        par = self._par(
            m.FLAG_C,
            m.Avp(m.AVP_RESULT_CODE, m.u32(m.PANA_SUCCESS)),
            payload,
            m.Avp(m.AVP_KEY_ID, self._key_id),
            m.Avp(m.AVP_SESSION_LIFETIME, m.u32(self.lifetime_s)),
        )
        return m.sign(par, self._auth_key)


class PanaClient:
    """The PaC (the HEMS's module): PCI, then answers each PAR."""

    def __init__(self, id_p: bytes, psk: bytes, random_bytes: RandomBytes) -> None:
        self.random_bytes = random_bytes
        self.eap = EapPskPeer(id_p, psk, random_bytes)
        self.state = "INITIAL"
        self.session_id = 0
        self.seq = 0
        self.result: PanaResult | None = None
        self._i_par = self._i_pan = self._paa_nonce = self._pac_nonce = b""
        self._tx_seq = 0

    def start(self) -> bytes:
        self.state = "WAIT_PAR_START"
        return m.PanaMessage(0, m.MSG_CLIENT_INITIATION, 0, 0).encode()

    def _pan(self, flags: int, *avps: m.Avp) -> m.PanaMessage:
        return m.PanaMessage(flags, m.MSG_AUTH, self.session_id, self.seq, avps)

    def terminate(self) -> bytes:
        """PANA-Termination-Request (Termination-Cause 1, logout) of the open session."""
        if self.state != "OPEN" or self.result is None:
            raise PanaProtocolError("no open session to terminate")
        self._tx_seq = struct.unpack("!I", self.random_bytes(4))[0]
        self.state = "WAIT_PTA"
        cause = m.Avp(m.AVP_TERMINATION_CAUSE, m.u32(1))
        ptr = m.PanaMessage(m.FLAG_R, m.MSG_TERMINATION, self.session_id, self._tx_seq, (cause,))
        return m.sign(ptr, self.result.auth_key)

    def receive(self, raw: bytes) -> bytes | None:
        msg = m.decode(raw)
        if self.state == "WAIT_PTA" and msg.message_type == m.MSG_TERMINATION:
            assert self.result is not None
            if (
                msg.is_request()
                or msg.seq != self._tx_seq
                or not m.verify(raw, self.result.auth_key)
            ):
                raise PanaProtocolError("not the answer to this PTR")
            self.state = "CLOSED"
            return None
        if msg.message_type != m.MSG_AUTH or not msg.is_request():
            raise PanaProtocolError("the PaC expects PANA-Auth-Request")
        if self.state == "WAIT_PAR_START":
            if not msg.flags & m.FLAG_S:
                raise PanaProtocolError("expected PAR[S]")
            _check_algorithms(msg)
            self.session_id, self.seq, self._i_par = msg.session_id, msg.seq, raw
            self._i_pan = self._pan(m.FLAG_S, *_ALGORITHMS).encode()
            self.state = "WAIT_PAR"
            return self._i_pan
        if self.state != "WAIT_PAR":
            raise PanaProtocolError(f"unexpected PAR in {self.state}")
        if msg.session_id != self.session_id or msg.seq != (self.seq + 1) & 0xFFFFFFFF:
            raise PanaProtocolError("PAR of another session or out of sequence")
        self.seq = msg.seq
        if msg.flags & m.FLAG_C:
            return self._complete(msg, raw)
        avps: list[m.Avp] = []
        if not self._paa_nonce:
            self._paa_nonce = msg.avp(m.AVP_NONCE) or b""
            if not 8 <= len(self._paa_nonce) <= 256:
                raise PanaProtocolError("the first PAR carries the PAA's Nonce")
            self._pac_nonce = self.random_bytes(NONCE_BYTES)
            avps.append(m.Avp(m.AVP_NONCE, self._pac_nonce))
        payload = msg.avp(m.AVP_EAP_PAYLOAD)
        reply = None if payload is None else self.eap.receive(payload)
        if reply is None:
            raise PanaProtocolError("PAR without an EAP request")
        return self._pan(0, *avps, m.Avp(m.AVP_EAP_PAYLOAD, reply)).encode()

    def _complete(self, msg: m.PanaMessage, raw: bytes) -> bytes:
        payload = msg.avp(m.AVP_EAP_PAYLOAD)
        if payload is not None:
            self.eap.receive(payload)
        key_id = msg.avp(m.AVP_KEY_ID) or b""
        ok = bool(self.eap.success) and msg.u32(m.AVP_RESULT_CODE) == m.PANA_SUCCESS
        key = b""
        if ok and self.eap.keys is not None:
            key = m.auth_key(
                self.eap.keys.msk,
                self._i_par,
                self._i_pan,
                self._pac_nonce,
                self._paa_nonce,
                key_id,
            )
            ok = m.verify(raw, key)
        self.state = "OPEN" if ok else "CLOSED"
        msk = self.eap.keys.msk if ok and self.eap.keys is not None else b""
        lifetime = (msg.u32(m.AVP_SESSION_LIFETIME) or 0) if ok else 0
        self.result = PanaResult(ok, self.session_id, key_id, msk, key, lifetime)
        pan = self._pan(m.FLAG_C)
        return m.sign(pan, key) if ok else pan.encode()


def terminate(client: PanaClient, agent: PanaAgent) -> bool:
    """The PaC ends the open session (PTR, PTA); True when both ends are CLOSED."""
    try:
        pta = agent.receive(client.terminate())
        if pta is not None:
            client.receive(pta)
    except PanaProtocolError:
        return False
    return client.state == agent.state == "CLOSED"


def authenticate(client: PanaClient, agent: PanaAgent, max_messages: int = 20) -> list[bytes]:
    """Run the exchange in memory; returns every message in order (the radio's log). A
    peer that refuses a message ends the exchange: its result stays None or failed."""
    log = [client.start()]
    to_agent = True
    while len(log) < max_messages:
        try:
            reply = agent.receive(log[-1]) if to_agent else client.receive(log[-1])
        except PanaProtocolError:
            break
        if reply is None:
            break
        log.append(reply)
        to_agent = not to_agent
    return log
