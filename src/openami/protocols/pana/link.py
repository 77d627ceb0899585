"""Link-layer protection of the B route's datagrams after PANA, keyed from its MSK.

IEEE 802.15.4 secures a frame with AES-CCM* under a key, a 13-byte nonce (the sender's
8-byte extended address ‖ its 4-byte frame counter ‖ the security level) and a MIC; the
receiver refuses a frame counter it has seen (IEEE 802.15.4-2006 §7.6.3.2, §7.5.8.2.3).
How the Wi-SUN B-route profile derives that key from the PANA session is not public (TTC
JJ-300.10), so openami defines it: ``link key = prf+(MSK, "openami B-route link key" |
Key_ID)``, 16 bytes, security level 6 (ENC-MIC-64). A protected frame here is
``frame counter (4) ‖ ciphertext ‖ MIC (8)``; the addressed header is the caller's.
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from openami.protocols.pana.errors import PanaFormatError, PanaProtocolError
from openami.protocols.pana.message import prf_plus

LINK_KEY_LABEL = b"openami B-route link key"
SECURITY_LEVEL = 6  # ENC-MIC-64
MIC_BYTES = 8


def link_key(msk: bytes, key_id: bytes) -> bytes:
    if len(msk) != 64:
        raise PanaFormatError("an EAP MSK has 64 bytes")
    return prf_plus(msk, LINK_KEY_LABEL + key_id, 16)


class LinkSecurity:
    """One end's frame protection: its own counter, the highest counter seen per sender."""

    def __init__(self, key: bytes, own_address: bytes) -> None:
        if len(own_address) != 8:
            raise PanaFormatError("an extended address has 8 bytes")
        self._ccm = AESCCM(key, tag_length=MIC_BYTES)
        self.own_address = own_address
        self.counter = 0
        self._seen: dict[bytes, int] = {}

    @staticmethod
    def _nonce(address: bytes, counter: int) -> bytes:
        return address + struct.pack("!I", counter) + bytes([SECURITY_LEVEL])

    def protect(self, payload: bytes) -> bytes:
        if self.counter >= 0xFFFFFFFF:
            raise PanaProtocolError("frame counter exhausted: authenticate again")
        counter = struct.pack("!I", self.counter)
        sealed = self._ccm.encrypt(
            self._nonce(self.own_address, self.counter), payload, self.own_address + counter
        )
        self.counter += 1
        return counter + sealed

    def unprotect(self, sender: bytes, frame: bytes) -> bytes:
        if len(frame) < 4 + MIC_BYTES:
            raise PanaFormatError("a protected frame has a counter and a MIC")
        counter = struct.unpack_from("!I", frame)[0]
        if counter <= self._seen.get(sender, -1):
            raise PanaProtocolError("replayed frame counter")
        try:
            clear = self._ccm.decrypt(self._nonce(sender, counter), frame[4:], sender + frame[:4])
        except InvalidTag:
            raise PanaProtocolError("the frame's MIC does not verify") from None
        self._seen[sender] = counter
        return clear
