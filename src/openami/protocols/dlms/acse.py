"""ACSE (AARQ/AARE, RLRQ/RLRE) and the xDLMS InitiateRequest/InitiateResponse.

The ACSE APDUs are BER; the xDLMS initiate APDUs inside their user-information are A-XDR.
Only what a logical-name association with no, lowest-level (password) or HLS-GMAC
(mechanism 5) authentication needs is modelled.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from openami.protocols.dlms.axdr import AxdrError, decode_length, encode_length
from openami.protocols.dlms.errors import DlmsCodecError

AARQ = 0x60
AARE = 0x61
RLRQ = 0x62
RLRE = 0x63
INITIATE_REQUEST = 0x01
INITIATE_RESPONSE = 0x08
GLO_INITIATE_REQUEST = 0x21
GLO_INITIATE_RESPONSE = 0x28

_CONTEXT_PREFIX = bytes.fromhex("608574050801")  # joint-iso-ccitt(2) country(16) ... context
_MECHANISM_PREFIX = bytes.fromhex("608574050802")
LN_NO_CIPHERING = 1
LN_WITH_CIPHERING = 3


class Mechanism(IntEnum):
    NONE = 0
    LOW = 1  # lowest-level security: password
    HIGH_GMAC = 5


class AssociationResult(IntEnum):
    ACCEPTED = 0
    REJECTED_PERMANENT = 1
    REJECTED_TRANSIENT = 2


class AcseDiagnostic(IntEnum):
    NULL = 0
    NO_REASON_GIVEN = 1
    APPLICATION_CONTEXT_NAME_NOT_SUPPORTED = 2
    AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED = 11
    AUTHENTICATION_MECHANISM_NAME_REQUIRED = 12
    AUTHENTICATION_FAILURE = 13
    AUTHENTICATION_REQUIRED = 14


class AcseError(DlmsCodecError):
    """A malformed ACSE or initiate APDU."""


# Conformance bits (bit 0 = MSB of the first of three bytes).
CONF_BLOCK_TRANSFER_WITH_GET = 1 << (23 - 11)
CONF_BLOCK_TRANSFER_WITH_SET = 1 << (23 - 12)
CONF_BLOCK_TRANSFER_WITH_ACTION = 1 << (23 - 13)
CONF_MULTIPLE_REFERENCES = 1 << (23 - 14)
CONF_GET = 1 << (23 - 19)
CONF_SET = 1 << (23 - 20)
CONF_SELECTIVE_ACCESS = 1 << (23 - 21)
CONF_ACTION = 1 << (23 - 23)
SERVER_CONFORMANCE = (
    CONF_BLOCK_TRANSFER_WITH_GET
    | CONF_MULTIPLE_REFERENCES
    | CONF_GET
    | CONF_SET
    | CONF_SELECTIVE_ACCESS
    | CONF_ACTION
)


@dataclass(frozen=True, slots=True)
class InitiateRequest:
    conformance: int
    max_receive_pdu_size: int
    dlms_version: int = 6
    dedicated_key: bytes | None = None


@dataclass(frozen=True, slots=True)
class InitiateResponse:
    conformance: int
    max_receive_pdu_size: int
    dlms_version: int = 6
    vaa_name: int = 0x0007


def encode_initiate_request(req: InitiateRequest) -> bytes:
    key = b"\x00" if req.dedicated_key is None else b"\x01" + bytes((len(req.dedicated_key),))
    if req.dedicated_key is not None:
        key += req.dedicated_key
    return (
        b"\x01"
        + key
        + b"\x00\x00"
        + bytes((req.dlms_version,))
        + b"\x5f\x1f\x04\x00"
        + req.conformance.to_bytes(3, "big")
        + struct.pack(">H", req.max_receive_pdu_size)
    )


def decode_initiate_request(buf: bytes) -> InitiateRequest:
    try:
        if buf[0] != INITIATE_REQUEST:
            raise AcseError(f"expected InitiateRequest, got tag 0x{buf[0]:02x}")
        pos = 1
        key = None
        if buf[pos]:
            n = buf[pos + 1]
            key = bytes(buf[pos + 2 : pos + 2 + n])
            pos += 2 + n
        else:
            pos += 1
        pos += 2 if buf[pos] else 1  # response-allowed
        pos += 2 if buf[pos] else 1  # proposed-quality-of-service
        version = buf[pos]
        if buf[pos + 1 : pos + 4] != b"\x5f\x1f\x04":
            raise AcseError("missing conformance block")
        conformance = int.from_bytes(buf[pos + 5 : pos + 8], "big")
        (max_pdu,) = struct.unpack_from(">H", buf, pos + 8)
        if pos + 10 != len(buf):
            raise AcseError("trailing bytes after InitiateRequest")
    except (IndexError, struct.error) as exc:
        raise AcseError("truncated InitiateRequest") from exc
    return InitiateRequest(conformance, max_pdu, version, key)


def encode_initiate_response(resp: InitiateResponse) -> bytes:
    return (
        b"\x08\x00"
        + bytes((resp.dlms_version,))
        + b"\x5f\x1f\x04\x00"
        + resp.conformance.to_bytes(3, "big")
        + struct.pack(">HH", resp.max_receive_pdu_size, resp.vaa_name)
    )


def decode_initiate_response(buf: bytes) -> InitiateResponse:
    try:
        if buf[0] != INITIATE_RESPONSE:
            raise AcseError(f"expected InitiateResponse, got tag 0x{buf[0]:02x}")
        pos = 2 if buf[1] == 0 else 3
        version = buf[pos]
        conformance = int.from_bytes(buf[pos + 5 : pos + 8], "big")
        max_pdu, vaa = struct.unpack_from(">HH", buf, pos + 8)
    except (IndexError, struct.error) as exc:
        raise AcseError("truncated InitiateResponse") from exc
    return InitiateResponse(conformance, max_pdu, version, vaa)


# --- BER helpers ------------------------------------------------------------------------------
def _tlv(tag: int, value: bytes) -> bytes:
    return bytes((tag,)) + encode_length(len(value)) + value


def _parse_tlvs(buf: bytes, pos: int, end: int) -> dict[int, bytes]:
    fields: dict[int, bytes] = {}
    try:
        while pos < end:
            tag = buf[pos]
            n, pos = decode_length(buf, pos + 1)
            if pos + n > end:
                raise AcseError(f"field 0x{tag:02x} overruns the APDU")
            fields[tag] = bytes(buf[pos : pos + n])
            pos += n
    except (IndexError, AxdrError) as exc:
        raise AcseError(f"malformed BER: {exc}") from exc
    return fields


def _outer(buf: bytes, expected: int) -> dict[int, bytes]:
    if len(buf) < 2 or buf[0] != expected:
        raise AcseError(f"expected ACSE tag 0x{expected:02x}")
    try:
        n, pos = decode_length(buf, 1)
    except AxdrError as exc:
        raise AcseError(str(exc)) from exc
    if pos + n != len(buf):
        raise AcseError(f"ACSE length {n} does not match {len(buf) - pos} bytes")
    return _parse_tlvs(buf, pos, pos + n)


def _octets(field: bytes, inner_tag: int) -> bytes:
    if len(field) < 2 or field[0] != inner_tag:
        raise AcseError("malformed ACSE field")
    try:
        n, pos = decode_length(field, 1)
    except AxdrError as exc:
        raise AcseError(str(exc)) from exc
    if pos + n > len(field):
        raise AcseError("ACSE field shorter than its length")
    return field[pos : pos + n]


# --- AARQ / AARE ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Aarq:
    context: int  # LN_NO_CIPHERING or LN_WITH_CIPHERING
    mechanism: Mechanism
    user_information: bytes  # InitiateRequest or glo-initiate-request
    calling_ap_title: bytes | None = None  # the client's system title
    authentication_value: bytes | None = None  # password or CtoS challenge


@dataclass(frozen=True, slots=True)
class Aare:
    context: int
    result: AssociationResult
    diagnostic: int
    user_information: bytes | None
    responding_ap_title: bytes | None = None
    mechanism: Mechanism = Mechanism.NONE
    authentication_value: bytes | None = None  # StoC challenge


def encode_aarq(aarq: Aarq) -> bytes:
    body = _tlv(0xA1, _tlv(0x06, _CONTEXT_PREFIX + bytes((aarq.context,))))
    if aarq.calling_ap_title is not None:
        body += _tlv(0xA6, _tlv(0x04, aarq.calling_ap_title))
    if aarq.mechanism != Mechanism.NONE:
        body += b"\x8a\x02\x07\x80"
        body += _tlv(0x8B, _MECHANISM_PREFIX + bytes((aarq.mechanism,)))
        body += _tlv(0xAC, _tlv(0x80, aarq.authentication_value or b""))
    body += _tlv(0xBE, _tlv(0x04, aarq.user_information))
    return _tlv(AARQ, body)


def decode_aarq(buf: bytes) -> Aarq:
    f = _outer(buf, AARQ)
    ctx = _octets(f.get(0xA1, b""), 0x06)
    if len(ctx) != 7 or ctx[:6] != _CONTEXT_PREFIX:
        raise AcseError("missing or unknown application context name")
    mechanism = Mechanism.NONE
    if 0x8B in f:
        mech = f[0x8B]
        if len(mech) != 7 or mech[:6] != _MECHANISM_PREFIX:
            raise AcseError("unknown mechanism name")
        try:
            mechanism = Mechanism(mech[6])
        except ValueError:
            raise AcseError(f"unsupported authentication mechanism {mech[6]}") from None
    title = _octets(f[0xA6], 0x04) if 0xA6 in f else None
    auth = _octets(f[0xAC], 0x80) if 0xAC in f else None
    if 0xBE not in f:
        raise AcseError("AARQ without user-information")
    return Aarq(ctx[6], mechanism, _octets(f[0xBE], 0x04), title, auth)


def encode_aare(aare: Aare) -> bytes:
    body = _tlv(0xA1, _tlv(0x06, _CONTEXT_PREFIX + bytes((aare.context,))))
    body += _tlv(0xA2, _tlv(0x02, bytes((aare.result,))))
    body += _tlv(0xA3, _tlv(0xA1, _tlv(0x02, bytes((aare.diagnostic,)))))
    if aare.responding_ap_title is not None:
        body += _tlv(0xA4, _tlv(0x04, aare.responding_ap_title))
    if aare.mechanism != Mechanism.NONE:
        body += b"\x88\x02\x07\x80"
        body += _tlv(0x89, _MECHANISM_PREFIX + bytes((aare.mechanism,)))
        if aare.authentication_value is not None:
            body += _tlv(0xAA, _tlv(0x80, aare.authentication_value))
    if aare.user_information is not None:
        body += _tlv(0xBE, _tlv(0x04, aare.user_information))
    return _tlv(AARE, body)


def decode_aare(buf: bytes) -> Aare:
    f = _outer(buf, AARE)
    ctx = _octets(f.get(0xA1, b""), 0x06)
    result = _octets(f.get(0xA2, b""), 0x02)
    diag_field = f.get(0xA3, b"")
    if len(ctx) != 7 or len(result) != 1 or len(diag_field) < 5:
        raise AcseError("AARE without context, result or diagnostic")
    try:
        mechanism = Mechanism(f[0x89][6]) if 0x89 in f and len(f[0x89]) == 7 else Mechanism.NONE
        return Aare(
            context=ctx[6],
            result=AssociationResult(result[0]),
            diagnostic=diag_field[-1],
            user_information=_octets(f[0xBE], 0x04) if 0xBE in f else None,
            responding_ap_title=_octets(f[0xA4], 0x04) if 0xA4 in f else None,
            mechanism=mechanism,
            authentication_value=_octets(f[0xAA], 0x80) if 0xAA in f else None,
        )
    except (ValueError, AxdrError) as exc:
        raise AcseError(f"malformed AARE: {exc}") from exc


# --- release ----------------------------------------------------------------------------------
def encode_rlrq(reason: int = 0) -> bytes:
    return _tlv(RLRQ, b"\x80\x01" + bytes((reason,)))


def encode_rlre(reason: int = 0) -> bytes:
    return _tlv(RLRE, b"\x80\x01" + bytes((reason,)))


def decode_release(buf: bytes, expected: int) -> int:
    """Reason of an RLRQ/RLRE (0 normal when absent)."""
    f = _outer(buf, expected)
    reason = f.get(0x80, b"\x00")
    return reason[0] if reason else 0


# The ConfirmedServiceError returned in a rejected AARE's user-information:
# initiateError (1), ServiceError choice initiate (6), 0 = other.
INITIATE_ERROR_OTHER = bytes((0x0E, 0x01, 0x06, 0x00))
