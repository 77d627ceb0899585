"""PANA messages (RFC 5191 §6): the 16-byte header, AVPs, prf+ and the AUTH AVP.

Header: Reserved (2, zero), Message Length (2, whole message), Flags (2: R 0x8000 request,
S 0x4000 start, C 0x2000 complete, A 0x1000 re-authentication, P 0x0800 ping, I 0x0400),
Message Type (2: 1 PANA-Client-Initiation, 2 PANA-Auth, 3 PANA-Termination,
4 PANA-Notification), Session Identifier (4), Sequence Number (4).

AVP: Code (2), Flags (2; V 0x8000 adds a 4-byte Vendor-Id), Length (2, the value's length),
Reserved (2), [Vendor-Id], Value, zero padding to 4 bytes.

Algorithms (IKEv2 transform numbers, as RFC 5191 §8.3–8.4 use): PRF_HMAC_SHA2_256 (5) and
AUTH_HMAC_SHA2_256_128 (12). PANA_AUTH_KEY = prf+(MSK, "IETF PANA" | I_PAR | I_PAN |
PaC_nonce | PAA_nonce | Key_ID) (§5.3), prf+ as in IKEv2 (RFC 4306 §2.13). The AUTH value
is the integrity algorithm over the whole message with the AUTH value zeroed (§5.3).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from openami.protocols.pana.errors import PanaFormatError

PANA_PORT = 716
FLAG_R, FLAG_S, FLAG_C, FLAG_A, FLAG_P, FLAG_I = 0x8000, 0x4000, 0x2000, 0x1000, 0x0800, 0x0400
MSG_CLIENT_INITIATION, MSG_AUTH, MSG_TERMINATION, MSG_NOTIFICATION = 1, 2, 3, 4
AVP_AUTH, AVP_EAP_PAYLOAD, AVP_INTEGRITY_ALGORITHM, AVP_KEY_ID = 1, 2, 3, 4
AVP_NONCE, AVP_PRF_ALGORITHM, AVP_RESULT_CODE, AVP_SESSION_LIFETIME = 5, 6, 7, 8
AVP_TERMINATION_CAUSE = 9
PRF_HMAC_SHA2_256 = 5
AUTH_HMAC_SHA2_256_128 = 12
PANA_SUCCESS, PANA_AUTHENTICATION_REJECTED = 0, 1
AUTH_BYTES = 16
AUTH_KEY_BYTES = 32
MAX_MESSAGE_BYTES = 4096
_AVP_VENDOR = 0x8000


@dataclass(frozen=True)
class Avp:
    code: int
    value: bytes

    def encode(self) -> bytes:
        pad = -len(self.value) % 4
        return struct.pack("!HHHH", self.code, 0, len(self.value), 0) + self.value + bytes(pad)


def u32(value: int) -> bytes:
    return struct.pack("!I", value)


@dataclass(frozen=True)
class PanaMessage:
    flags: int
    message_type: int
    session_id: int
    seq: int
    avps: tuple[Avp, ...] = ()

    def encode(self) -> bytes:
        body = b"".join(a.encode() for a in self.avps)
        return (
            struct.pack(
                "!HHHHII",
                0,
                16 + len(body),
                self.flags,
                self.message_type,
                self.session_id,
                self.seq,
            )
            + body
        )

    def avp(self, code: int) -> bytes | None:
        return next((a.value for a in self.avps if a.code == code), None)

    def u32(self, code: int) -> int | None:
        value = self.avp(code)
        if value is None:
            return None
        if len(value) != 4:
            raise PanaFormatError(f"AVP {code} must hold 4 bytes")
        return int(struct.unpack("!I", value)[0])

    def is_request(self) -> bool:
        return bool(self.flags & FLAG_R)


def decode(raw: bytes) -> PanaMessage:
    """One PANA message; :class:`PanaFormatError` for anything else."""
    if not 16 <= len(raw) <= MAX_MESSAGE_BYTES:
        raise PanaFormatError("a PANA message has 16 to 4096 bytes")
    reserved, length, flags, mtype, session, seq = struct.unpack_from("!HHHHII", raw)
    if reserved or length != len(raw) or not 1 <= mtype <= 4 or flags & 0x03FF:
        raise PanaFormatError("bad PANA header")
    avps: list[Avp] = []
    pos = 16
    while pos < len(raw):
        if pos + 8 > len(raw):
            raise PanaFormatError("truncated AVP header")
        code, avp_flags, value_len, avp_reserved = struct.unpack_from("!HHHH", raw, pos)
        start = pos + 8 + (4 if avp_flags & _AVP_VENDOR else 0)
        end = start + value_len
        if avp_reserved or avp_flags & 0x7FFF or end + (-value_len % 4) > len(raw):
            raise PanaFormatError("bad AVP")
        avps.append(Avp(code, raw[start:end]))
        pos = end + (-value_len % 4)
    return PanaMessage(flags, mtype, session, seq, tuple(avps))


def prf_plus(key: bytes, seed: bytes, length: int) -> bytes:
    """prf+ over HMAC-SHA-256 (RFC 4306 §2.13)."""
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(key, block + seed + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def auth_key(
    msk: bytes, i_par: bytes, i_pan: bytes, pac_nonce: bytes, paa_nonce: bytes, key_id: bytes
) -> bytes:
    """PANA_AUTH_KEY (RFC 5191 §5.3)."""
    seed = b"IETF PANA" + i_par + i_pan + pac_nonce + paa_nonce + key_id
    return prf_plus(msk, seed, AUTH_KEY_BYTES)


def sign(message: PanaMessage, key: bytes) -> bytes:
    """``message`` with an AUTH AVP (HMAC-SHA-256-128 over it, value zeroed)."""
    unsigned = PanaMessage(
        message.flags,
        message.message_type,
        message.session_id,
        message.seq,
        (*message.avps, Avp(AVP_AUTH, bytes(AUTH_BYTES))),
    ).encode()
    tag = hmac.new(key, unsigned, hashlib.sha256).digest()[:AUTH_BYTES]
    return unsigned[:-AUTH_BYTES] + tag


def verify(raw: bytes, key: bytes) -> bool:
    """Does the AUTH AVP of ``raw`` (the last AVP) verify under ``key``?"""
    message = decode(raw)
    if not message.avps or message.avps[-1].code != AVP_AUTH:
        return False
    tag = message.avps[-1].value
    if len(tag) != AUTH_BYTES:
        return False
    zeroed = raw[:-AUTH_BYTES] + bytes(AUTH_BYTES)
    return hmac.compare_digest(hmac.new(key, zeroed, hashlib.sha256).digest()[:AUTH_BYTES], tag)
