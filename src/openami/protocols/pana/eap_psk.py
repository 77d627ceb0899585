"""EAP-PSK (RFC 4764): key setup, the four messages, the protected channel, both peers.

- Key setup (RFC 4764 §3.1): b = AES-128(PSK, 0¹²⁸); AK = AES-128(PSK, b ⊕ 1);
  KDK = AES-128(PSK, b ⊕ 2) (the constants are 128-bit integers, so only the last byte
  changes). After RAND_P: c = AES-128(KDK, RAND_P); TEK = AES-128(KDK, c ⊕ 1); MSK = the
  blocks AES-128(KDK, c ⊕ 2 … c ⊕ 5); EMSK = c ⊕ 6 … c ⊕ 9 (§3.2).
- MAC_P = CMAC-AES-128(AK, ID_P‖ID_S‖RAND_S‖RAND_P); MAC_S = CMAC-AES-128(AK, ID_S‖RAND_P).
- PCHANNEL = Nonce (4 bytes) ‖ Tag (16) ‖ EAX-encrypted result byte (R in its two high
  bits: 1 CONT, 2 DONE_SUCCESS, 3 DONE_FAILURE; 0x20 the extension flag), under TEK, the
  EAX nonce being the 4-byte Nonce left-padded with 12 zero bytes, the EAX header the first
  22 bytes of the EAP packet (Code, Identifier, Length, Type, Flags, RAND_S). The server's
  PCHANNEL carries Nonce 0, the peer's Nonce 1.
- Flags: T (message number 0–3) in the two high bits.

Checked against hostapd's ``eap_psk_common.c`` key setup (as summarised in the reference).
Randomness is injected (``random_bytes``); nothing here reads a clock or a socket.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Callable
from dataclasses import dataclass

from Crypto.Cipher import AES as EAX_AES
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from openami.protocols.pana.errors import PanaFormatError, PanaProtocolError

RandomBytes = Callable[[int], bytes]
EAP_REQUEST, EAP_RESPONSE, EAP_SUCCESS, EAP_FAILURE = 1, 2, 3, 4
EAP_TYPE_PSK = 47
R_CONT, R_DONE_SUCCESS, R_DONE_FAILURE = 1, 2, 3
RAND_BYTES = 16
MAX_ID_BYTES = 256
_HEADER_22 = 22


def _aes(key: bytes, block: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # one block: a PRP
    return encryptor.update(block) + encryptor.finalize()


def _xor_last(block: bytes, value: int) -> bytes:
    return block[:-1] + bytes([block[-1] ^ value])


def aes_cmac(key: bytes, data: bytes) -> bytes:
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


@dataclass(frozen=True)
class PskKeys:
    ak: bytes
    kdk: bytes


@dataclass(frozen=True)
class SessionKeys:
    tek: bytes
    msk: bytes  # 64 bytes, for PANA
    emsk: bytes


def key_setup(psk: bytes) -> PskKeys:
    if len(psk) != 16:
        raise PanaFormatError("an EAP-PSK PSK has 16 bytes")
    b = _aes(psk, bytes(16))
    return PskKeys(_aes(psk, _xor_last(b, 1)), _aes(psk, _xor_last(b, 2)))


def derive_keys(kdk: bytes, rand_p: bytes) -> SessionKeys:
    c = _aes(kdk, rand_p)
    blocks = [_aes(kdk, _xor_last(c, i)) for i in range(1, 10)]
    return SessionKeys(blocks[0], b"".join(blocks[1:5]), b"".join(blocks[5:9]))


# -- EAP packets ------------------------------------------------------------------------------
@dataclass(frozen=True)
class EapPacket:
    code: int
    identifier: int
    data: bytes  # after the Type byte (Request/Response), empty for Success/Failure

    def encode(self) -> bytes:
        if self.code in (EAP_SUCCESS, EAP_FAILURE):
            return struct.pack("!BBH", self.code, self.identifier, 4)
        length = 5 + len(self.data)
        return struct.pack("!BBHB", self.code, self.identifier, length, EAP_TYPE_PSK) + self.data


def parse_eap(raw: bytes) -> EapPacket:
    if len(raw) < 4:
        raise PanaFormatError("an EAP packet has at least 4 bytes")
    code, identifier, length = struct.unpack_from("!BBH", raw)
    if length != len(raw) or code not in (1, 2, 3, 4):
        raise PanaFormatError("EAP length or code is wrong")
    if code in (EAP_SUCCESS, EAP_FAILURE):
        if length != 4:
            raise PanaFormatError("EAP Success/Failure have 4 bytes")
        return EapPacket(code, identifier, b"")
    if length < 6 or raw[4] != EAP_TYPE_PSK:
        raise PanaFormatError("not an EAP-PSK packet")
    return EapPacket(code, identifier, raw[5:])


def _flags(t: int) -> bytes:
    return bytes([t << 6])


def _message_number(data: bytes) -> int:
    if not data:
        raise PanaFormatError("EAP-PSK data is empty")
    return data[0] >> 6


def _pchannel_seal(tek: bytes, nonce: int, header: bytes, result: int) -> bytes:
    cipher = EAX_AES.new(tek, EAX_AES.MODE_EAX, nonce=bytes(12) + struct.pack("!I", nonce))
    cipher.update(header)
    encrypted, tag = cipher.encrypt_and_digest(bytes([result << 6]))
    return struct.pack("!I", nonce) + tag + encrypted


def _pchannel_open(tek: bytes, header: bytes, pchannel: bytes, want_nonce: int) -> int:
    if len(pchannel) < 21:
        raise PanaFormatError("PCHANNEL has at least 21 bytes")
    nonce = struct.unpack_from("!I", pchannel)[0]
    if nonce != want_nonce:
        raise PanaProtocolError("PCHANNEL nonce out of order")
    cipher = EAX_AES.new(tek, EAX_AES.MODE_EAX, nonce=bytes(12) + pchannel[:4])
    cipher.update(header)
    try:
        flag = cipher.decrypt_and_verify(pchannel[20:], pchannel[4:20])
    except ValueError:
        raise PanaProtocolError("PCHANNEL tag does not verify") from None
    if flag[0] & 0x20:
        raise PanaProtocolError("PCHANNEL extensions are not supported")
    return flag[0] >> 6


def _take(data: bytes, start: int, n: int) -> bytes:
    if len(data) < start + n:
        raise PanaFormatError("EAP-PSK message is too short")
    return data[start : start + n]


# -- the server (the meter, behind the PAA) -------------------------------------------------
class EapPskServer:
    """Msg 1 out, msg 2 in, msg 3 out, msg 4 in, Success or Failure out."""

    def __init__(
        self, id_s: bytes, lookup: Callable[[bytes], bytes | None], random_bytes: RandomBytes
    ) -> None:
        self.id_s = id_s
        self.lookup = lookup
        self.random_bytes = random_bytes
        self.identifier = random_bytes(1)[0]
        self.rand_s = b""
        self.rand_p = b""
        self.peer_id: bytes | None = None
        self.keys: SessionKeys | None = None
        self.success: bool | None = None
        self._msg3_header = b""

    def start(self) -> bytes:
        self.rand_s = self.random_bytes(RAND_BYTES)
        return EapPacket(EAP_REQUEST, self.identifier, _flags(0) + self.rand_s + self.id_s).encode()

    def receive(self, raw: bytes) -> bytes:
        packet = parse_eap(raw)
        if packet.code != EAP_RESPONSE or packet.identifier != self.identifier:
            raise PanaProtocolError("unexpected EAP packet")
        number = _message_number(packet.data)
        if number == 1 and not self.rand_p:
            return self._msg2(packet.data)
        if number == 3 and self.keys is not None and self.success is None:
            return self._msg4(packet.data)
        raise PanaProtocolError(f"unexpected EAP-PSK message {number + 1}")

    def _fail(self) -> bytes:
        self.success = False
        return EapPacket(EAP_FAILURE, self.identifier, b"").encode()

    def _msg2(self, data: bytes) -> bytes:
        if _take(data, 1, RAND_BYTES) != self.rand_s:
            raise PanaProtocolError("msg 2 echoes another RAND_S")
        rand_p, mac_p, id_p = _take(data, 17, 16), _take(data, 33, 16), data[49:]
        if not 0 < len(id_p) <= MAX_ID_BYTES:
            raise PanaFormatError("ID_P is empty or too long")
        psk = self.lookup(id_p)
        if psk is None:
            return self._fail()
        keys = key_setup(psk)
        want = aes_cmac(keys.ak, id_p + self.id_s + self.rand_s + rand_p)
        if not hmac.compare_digest(want, mac_p):
            return self._fail()
        self.peer_id, self.rand_p = id_p, rand_p
        self.keys = derive_keys(keys.kdk, rand_p)
        mac_s = aes_cmac(keys.ak, self.id_s + rand_p)
        self.identifier = (self.identifier + 1) & 0xFF
        body_len = 1 + 16 + 16 + 21
        header = struct.pack("!BBHB", EAP_REQUEST, self.identifier, 5 + body_len, EAP_TYPE_PSK)
        header += _flags(2) + self.rand_s
        pchannel = _pchannel_seal(self.keys.tek, 0, header, R_DONE_SUCCESS)
        return header + mac_s + pchannel

    def _msg4(self, data: bytes) -> bytes:
        assert self.keys is not None
        if _take(data, 1, RAND_BYTES) != self.rand_s:
            raise PanaProtocolError("msg 4 echoes another RAND_S")
        header = struct.pack("!BBHB", EAP_RESPONSE, self.identifier, 5 + len(data), EAP_TYPE_PSK)
        try:
            result = _pchannel_open(self.keys.tek, header + data[:17], data[17:], 1)
        except PanaProtocolError:
            return self._fail()
        if result != R_DONE_SUCCESS:
            return self._fail()
        self.success = True
        return EapPacket(EAP_SUCCESS, self.identifier, b"").encode()


# -- the peer (the HEMS's module, behind the PaC) -------------------------------------------
class EapPskPeer:
    """Msg 1 in, msg 2 out, msg 3 in, msg 4 out, then Success or Failure in."""

    def __init__(self, id_p: bytes, psk: bytes, random_bytes: RandomBytes) -> None:
        if not 0 < len(id_p) <= MAX_ID_BYTES:
            raise PanaFormatError("ID_P is empty or too long")
        self.id_p = id_p
        self.psk_keys = key_setup(psk)
        self.random_bytes = random_bytes
        self.id_s = b""
        self.rand_s = b""
        self.rand_p = b""
        self.keys: SessionKeys | None = None
        self.server_done = False
        self.success: bool | None = None

    def receive(self, raw: bytes) -> bytes | None:
        """The answer to a server packet (None after Success or Failure)."""
        packet = parse_eap(raw)
        if packet.code in (EAP_SUCCESS, EAP_FAILURE):
            self.success = packet.code == EAP_SUCCESS and self.server_done
            return None
        if packet.code != EAP_REQUEST:
            raise PanaProtocolError("the server sent a Response")
        number = _message_number(packet.data)
        if number == 0 and not self.rand_s:
            return self._msg1(packet)
        if number == 2 and self.rand_p:
            return self._msg3(packet, raw)
        raise PanaProtocolError(f"unexpected EAP-PSK message {number + 1}")

    def _msg1(self, packet: EapPacket) -> bytes:
        self.rand_s, self.id_s = _take(packet.data, 1, 16), packet.data[17:]
        if not 0 < len(self.id_s) <= MAX_ID_BYTES:
            raise PanaFormatError("ID_S is empty or too long")
        self.rand_p = self.random_bytes(RAND_BYTES)
        mac_p = aes_cmac(self.psk_keys.ak, self.id_p + self.id_s + self.rand_s + self.rand_p)
        data = _flags(1) + self.rand_s + self.rand_p + mac_p + self.id_p
        return EapPacket(EAP_RESPONSE, packet.identifier, data).encode()

    def _msg3(self, packet: EapPacket, raw: bytes) -> bytes:
        data = packet.data
        if _take(data, 1, 16) != self.rand_s:
            raise PanaProtocolError("msg 3 carries another RAND_S")
        want = aes_cmac(self.psk_keys.ak, self.id_s + self.rand_p)
        if not hmac.compare_digest(want, _take(data, 17, 16)):
            raise PanaProtocolError("MAC_S does not verify: the server does not know the PSK")
        keys = derive_keys(self.psk_keys.kdk, self.rand_p)
        result = _pchannel_open(keys.tek, raw[:_HEADER_22], data[33:], 0)
        self.keys = keys
        self.server_done = result == R_DONE_SUCCESS
        reply_result = R_DONE_SUCCESS if self.server_done else R_DONE_FAILURE
        header = struct.pack("!BBHB", EAP_RESPONSE, packet.identifier, 5 + 1 + 16 + 21, 47)
        header += _flags(3) + self.rand_s
        return header + _pchannel_seal(keys.tek, 1, header, reply_result)
