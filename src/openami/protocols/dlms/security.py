"""Security suite 0: AES-GCM-128 glo-ciphering and HLS-GMAC (authentication mechanism 5).

A glo-ciphered APDU is ``tag, length, SC, IC(4), ciphertext || tag(12)`` where SC is the
security control byte (0x10 authenticated, 0x20 encrypted, 0x30 both; low nibble = suite 0)
and IC the sender's invocation counter. The GCM nonce is the sender's 8-byte system title
followed by IC; the additional data is ``SC || AK`` (plus the plaintext when only
authenticated). HLS-GMAC answers a challenge with ``SC(0x10) || IC || GMAC(SC || AK ||
challenge)``. AES runs in OpenSSL through the ``cryptography`` package.
"""

from __future__ import annotations

import hmac
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from openami.protocols.dlms import axdr
from openami.protocols.dlms.axdr import AxdrError, decode_length, encode_length
from openami.protocols.dlms.errors import DlmsCodecError

TAG_SIZE = 12
SC_AUTHENTICATED = 0x10
SC_ENCRYPTED = 0x20
SC_AUTH_ENC = 0x30

# plain tag -> glo-ciphered tag
GLO_TAGS = {
    0x01: 0x21,  # initiate-request
    0x08: 0x28,  # initiate-response
    0xC0: 0xC8,  # get-request
    0xC1: 0xC9,  # set-request
    0xC3: 0xCB,  # action-request
    0xC4: 0xCC,  # get-response
    0xC5: 0xCD,  # set-response
    0xC7: 0xCF,  # action-response
}
PLAIN_TAGS = {v: k for k, v in GLO_TAGS.items()}
# what each side may receive inside a ciphered association (after the AARQ / AARE)
REQUEST_GLO_TAGS = frozenset({0xC8, 0xC9, 0xCB})  # glo get-, set-, action-request
RESPONSE_GLO_TAGS = frozenset({0x28, 0xCC, 0xCD, 0xCF})  # initiate-, get-, set-, action-resp.
_U32 = struct.Struct(">I")


class SecurityError(DlmsCodecError):
    """Authentication or decryption failed, or a glo APDU is malformed."""


@dataclass(frozen=True, slots=True)
class Keys:
    """Global unicast encryption key (EK) and authentication key (AK), 16 bytes each."""

    encryption_key: bytes
    authentication_key: bytes

    def __post_init__(self) -> None:
        if len(self.encryption_key) != 16 or len(self.authentication_key) != 16:
            raise ValueError("suite 0 keys are 16 bytes (AES-128)")

    def __repr__(self) -> str:  # never print keys
        return "Keys(<hidden>)"


@dataclass(frozen=True, slots=True)
class DeviceSecrets:
    """Every secret of one logical device: the LLS password, the suite-0 keys and the master
    key (KEK) that wraps new keys in a key transfer. ``None`` disables that use."""

    password: bytes | None = None
    keys: Keys | None = None
    master_key: bytes | None = None

    def __post_init__(self) -> None:
        if self.master_key is not None and len(self.master_key) != 16:
            raise ValueError("a suite 0 master key (KEK) has 16 bytes")

    def __repr__(self) -> str:  # never print secrets
        return "DeviceSecrets(<hidden>)"


# key_id of global_key_transfer (Security Setup, class 64)
KEY_ID_ENCRYPTION = 0  # global unicast encryption key
KEY_ID_BROADCAST = 1
KEY_ID_AUTHENTICATION = 2
KEY_ID_MASTER = 3


def encode_key_transfer(master_key: bytes, keys: dict[int, bytes]) -> bytes:
    """The parameter of global_key_transfer: ``array of {key_id, key_wrapped}``, each key
    wrapped with the master key (AES key wrap, RFC 3394)."""
    return axdr.array(
        [
            axdr.structure(axdr.enum(key_id), axdr.octet_string(aes_key_wrap(master_key, key)))
            for key_id, key in keys.items()
        ]
    )


def decode_key_transfer(master_key: bytes, parameters: bytes) -> dict[int, bytes]:
    """The unwrapped keys of a global_key_transfer; SecurityError when malformed or when a
    key was not wrapped with this master key."""
    try:
        items = axdr.decode_all(parameters)
    except AxdrError as exc:
        raise SecurityError(f"key transfer: {exc}") from exc
    if not isinstance(items, list) or not items:
        raise SecurityError("key transfer: an array of {key_id, key_wrapped}")
    keys: dict[int, bytes] = {}
    for item in items:
        if (
            not isinstance(item, tuple)
            or len(item) != 2
            or not isinstance(item[0], int)
            or isinstance(item[0], bool)
            or not isinstance(item[1], bytes)
            or item[0] in keys
        ):
            raise SecurityError("key transfer: each item is {key_id, key_wrapped}, once")
        try:
            key = aes_key_unwrap(master_key, item[1])
        except (InvalidUnwrap, ValueError):
            raise SecurityError("key transfer: a key not wrapped with the master key") from None
        if len(key) != 16:
            raise SecurityError("key transfer: suite 0 keys have 16 bytes")
        keys[item[0]] = key
    return keys


def _check_title(system_title: bytes) -> None:
    if len(system_title) != 8:
        raise SecurityError(f"a system title has 8 bytes, got {len(system_title)}")


def gcm_encrypt(keys: Keys, system_title: bytes, sc: int, ic: int, plaintext: bytes) -> bytes:
    """Ciphertext || tag for one APDU (SC decides encryption and/or authentication)."""
    _check_title(system_title)
    iv = system_title + _U32.pack(ic)
    enc = Cipher(algorithms.AES(keys.encryption_key), modes.GCM(iv)).encryptor()
    if sc & 0xF0 == SC_AUTH_ENC:
        enc.authenticate_additional_data(bytes((sc,)) + keys.authentication_key)
        ct = enc.update(plaintext) + enc.finalize()
        return ct + enc.tag[:TAG_SIZE]
    if sc & 0xF0 == SC_AUTHENTICATED:
        enc.authenticate_additional_data(bytes((sc,)) + keys.authentication_key + plaintext)
        enc.finalize()
        return plaintext + enc.tag[:TAG_SIZE]
    if sc & 0xF0 == SC_ENCRYPTED:
        return enc.update(plaintext) + enc.finalize()
    raise SecurityError(f"unsupported security control 0x{sc:02x}")


def gcm_decrypt(keys: Keys, system_title: bytes, sc: int, ic: int, data: bytes) -> bytes:
    """Check and decrypt ``data`` (ciphertext || tag); raise :class:`SecurityError` if bad."""
    _check_title(system_title)
    iv = system_title + _U32.pack(ic)
    mode = sc & 0xF0
    try:
        if mode in (SC_AUTH_ENC, SC_AUTHENTICATED):
            if len(data) < TAG_SIZE:
                raise SecurityError("ciphered APDU shorter than its tag")
            body, tag = data[:-TAG_SIZE], data[-TAG_SIZE:]
            dec = Cipher(
                algorithms.AES(keys.encryption_key),
                modes.GCM(iv, tag, min_tag_length=TAG_SIZE),
            ).decryptor()
            if mode == SC_AUTH_ENC:
                dec.authenticate_additional_data(bytes((sc,)) + keys.authentication_key)
                return dec.update(body) + dec.finalize()
            dec.authenticate_additional_data(bytes((sc,)) + keys.authentication_key + body)
            dec.finalize()
            return body
        if mode == SC_ENCRYPTED:
            ctr = Cipher(algorithms.AES(keys.encryption_key), modes.GCM(iv)).encryptor()
            # GCM without a tag is CTR with counter block IV || 2; GCM encryption = decryption.
            return ctr.update(data)
    except InvalidTag:
        raise SecurityError("authentication tag mismatch (wrong key or tampered APDU)") from None
    raise SecurityError(f"unsupported security control 0x{sc:02x}")


def wrap(
    plain_apdu: bytes, keys: Keys, system_title: bytes, ic: int, sc: int = SC_AUTH_ENC
) -> bytes:
    """Glo-cipher a plain APDU (its first byte selects the glo tag)."""
    try:
        glo = GLO_TAGS[plain_apdu[0]]
    except (KeyError, IndexError):
        raise SecurityError("this APDU has no glo-ciphered form") from None
    body = bytes((sc,)) + _U32.pack(ic) + gcm_encrypt(keys, system_title, sc, ic, plain_apdu)
    return bytes((glo,)) + encode_length(len(body)) + body


@dataclass(frozen=True, slots=True)
class GloApdu:
    tag: int
    security_control: int
    invocation_counter: int
    data: bytes  # ciphertext || tag


def parse_glo(apdu: bytes) -> GloApdu:
    """Split a glo-ciphered APDU without decrypting it."""
    if not apdu or apdu[0] not in PLAIN_TAGS:
        raise SecurityError("not a glo-ciphered APDU")
    try:
        n, pos = decode_length(apdu, 1)
    except AxdrError as exc:
        raise SecurityError(str(exc)) from exc
    if pos + n != len(apdu) or n < 5:
        raise SecurityError("glo-ciphered APDU length mismatch")
    sc = apdu[pos]
    if sc & 0x0F != 0:
        raise SecurityError(f"security suite {sc & 0x0F} is not supported (suite 0 only)")
    (ic,) = _U32.unpack_from(apdu, pos + 1)
    return GloApdu(apdu[0], sc, ic, bytes(apdu[pos + 5 :]))


def check_policy(glo: GloApdu, allowed_tags: frozenset[int] | set[int]) -> None:
    """The security policy of an HLS association: authenticated encryption (SC 0x30, suite 0)
    under one of ``allowed_tags``, nothing else. Checked before deciphering, so an APDU with
    its tag dropped (SC 0x20, encryption only: malleable by XOR) never reaches the decoder."""
    if glo.security_control != SC_AUTH_ENC:
        raise SecurityError(
            f"security control 0x{glo.security_control:02x}: the association requires "
            "authenticated encryption (0x30)"
        )
    if glo.tag not in allowed_tags:
        raise SecurityError(f"glo tag 0x{glo.tag:02x} is not accepted here")


def unwrap(glo: GloApdu, keys: Keys, system_title: bytes) -> bytes:
    """Decrypt a parsed glo APDU to the plain APDU (checking its tag byte)."""
    plain = gcm_decrypt(keys, system_title, glo.security_control, glo.invocation_counter, glo.data)
    if not plain or plain[0] != PLAIN_TAGS[glo.tag]:
        raise SecurityError("deciphered APDU does not match its glo tag")
    return plain


def gmac_response(keys: Keys, system_title: bytes, ic: int, challenge: bytes) -> bytes:
    """HLS-GMAC answer ``f(challenge) = SC || IC || GMAC`` (17 bytes)."""
    sc = SC_AUTHENTICATED
    iv = system_title + _U32.pack(ic)
    enc = Cipher(algorithms.AES(keys.encryption_key), modes.GCM(iv)).encryptor()
    enc.authenticate_additional_data(bytes((sc,)) + keys.authentication_key + challenge)
    enc.finalize()
    return bytes((sc,)) + _U32.pack(ic) + enc.tag[:TAG_SIZE]


def check_gmac_response(keys: Keys, system_title: bytes, challenge: bytes, answer: bytes) -> int:
    """Verify an HLS-GMAC answer; return its invocation counter or raise SecurityError."""
    if len(answer) != 5 + TAG_SIZE or answer[0] != SC_AUTHENTICATED:
        raise SecurityError("malformed HLS-GMAC answer")
    (ic,) = _U32.unpack_from(answer, 1)
    expected = gmac_response(keys, system_title, ic, challenge)
    if not hmac.compare_digest(expected, answer):
        raise SecurityError("HLS-GMAC answer does not match (wrong keys)")
    return ic
