"""xDLMS service APDUs (logical-name referencing): GET, SET, ACTION, exception responses.

Data values inside APDUs stay A-XDR encoded (``bytes``) so that a server can hand out
pre-encoded data and a client decodes only what it needs (see :mod:`.axdr`). A result that is
an ``int`` is a :class:`~.cosem.DataAccessResult` error code.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from openami.protocols.dlms.axdr import AxdrError, decode_length, encode_length, skip
from openami.protocols.dlms.cosem import AttributeRef, MethodRef
from openami.protocols.dlms.errors import DlmsCodecError

GET_REQUEST = 0xC0
SET_REQUEST = 0xC1
ACTION_REQUEST = 0xC3
GET_RESPONSE = 0xC4
SET_RESPONSE = 0xC5
ACTION_RESPONSE = 0xC7
EXCEPTION_RESPONSE = 0xD8
CONFIRMED_SERVICE_ERROR = 0x0E

_REF = struct.Struct(">H6sb")  # class id, logical name, attribute/method id
_U32 = struct.Struct(">I")


class ApduError(DlmsCodecError):
    """A malformed or unsupported APDU."""


@dataclass(frozen=True, slots=True)
class SelectiveAccess:
    """Access selector and its parameters (A-XDR encoded ``Data``)."""

    selector: int
    parameters: bytes


@dataclass(frozen=True, slots=True)
class GetRequestNormal:
    invoke_id: int
    attribute: AttributeRef
    access: SelectiveAccess | None = None


@dataclass(frozen=True, slots=True)
class GetRequestNext:
    invoke_id: int
    block_number: int


@dataclass(frozen=True, slots=True)
class GetRequestWithList:
    invoke_id: int
    items: tuple[tuple[AttributeRef, SelectiveAccess | None], ...]


@dataclass(frozen=True, slots=True)
class GetResponseNormal:
    invoke_id: int
    result: bytes | int  # encoded Data, or a DataAccessResult


@dataclass(frozen=True, slots=True)
class GetResponseWithDatablock:
    invoke_id: int
    last_block: bool
    block_number: int
    raw: bytes | int  # a slice of the encoded response, or a DataAccessResult


@dataclass(frozen=True, slots=True)
class GetResponseWithList:
    invoke_id: int
    results: tuple[bytes | int, ...]


@dataclass(frozen=True, slots=True)
class SetRequestNormal:
    invoke_id: int
    attribute: AttributeRef
    value: bytes  # encoded Data
    access: SelectiveAccess | None = None


@dataclass(frozen=True, slots=True)
class SetResponseNormal:
    invoke_id: int
    result: int


@dataclass(frozen=True, slots=True)
class ActionRequestNormal:
    invoke_id: int
    method: MethodRef
    parameters: bytes | None = None  # encoded Data


@dataclass(frozen=True, slots=True)
class ActionResponseNormal:
    invoke_id: int
    result: int
    return_data: bytes | int | None = None


@dataclass(frozen=True, slots=True)
class ExceptionResponse:
    """``state_error``: 1 service-not-allowed, 2 service-unknown. ``service_error``:
    1 operation-not-possible, 2 service-not-supported, 3 other-reason, 4 pdu-too-long,
    5 deciphering-error, 6 invocation-counter-error (then ``invocation_counter`` is set)."""

    state_error: int
    service_error: int
    invocation_counter: int | None = None


Request = (
    GetRequestNormal | GetRequestNext | GetRequestWithList | SetRequestNormal | ActionRequestNormal
)
Response = (
    GetResponseNormal
    | GetResponseWithDatablock
    | GetResponseWithList
    | SetResponseNormal
    | ActionResponseNormal
    | ExceptionResponse
)


# --- encoding ---------------------------------------------------------------------------------
def _ref(class_id: int, ln: bytes, index: int) -> bytes:
    return _REF.pack(class_id, ln, index)


def _access(access: SelectiveAccess | None) -> bytes:
    if access is None:
        return b"\x00"
    return bytes((1, access.selector)) + access.parameters


def _result(res: bytes | int) -> bytes:
    if isinstance(res, int):
        return bytes((1, res))
    return b"\x00" + res


def encode_apdu(apdu: Request | Response) -> bytes:
    """Encode one service APDU (plain, unciphered)."""
    iid = apdu.invoke_id if not isinstance(apdu, ExceptionResponse) else 0
    if isinstance(apdu, GetRequestNormal):
        a = apdu.attribute
        return (
            bytes((GET_REQUEST, 1, iid))
            + _ref(a.class_id, a.logical_name, a.attribute_id)
            + _access(apdu.access)
        )
    if isinstance(apdu, GetRequestNext):
        return bytes((GET_REQUEST, 2, iid)) + _U32.pack(apdu.block_number)
    if isinstance(apdu, GetRequestWithList):
        parts = [bytes((GET_REQUEST, 3, iid)), encode_length(len(apdu.items))]
        for a, acc in apdu.items:
            parts.append(_ref(a.class_id, a.logical_name, a.attribute_id) + _access(acc))
        return b"".join(parts)
    if isinstance(apdu, GetResponseNormal):
        return bytes((GET_RESPONSE, 1, iid)) + _result(apdu.result)
    if isinstance(apdu, GetResponseWithDatablock):
        head = bytes((GET_RESPONSE, 2, iid, 1 if apdu.last_block else 0))
        head += _U32.pack(apdu.block_number)
        if isinstance(apdu.raw, int):
            return head + bytes((1, apdu.raw))
        return head + b"\x00" + encode_length(len(apdu.raw)) + apdu.raw
    if isinstance(apdu, GetResponseWithList):
        return (
            bytes((GET_RESPONSE, 3, iid))
            + encode_length(len(apdu.results))
            + b"".join(_result(r) for r in apdu.results)
        )
    if isinstance(apdu, SetRequestNormal):
        a = apdu.attribute
        return (
            bytes((SET_REQUEST, 1, iid))
            + _ref(a.class_id, a.logical_name, a.attribute_id)
            + _access(apdu.access)
            + apdu.value
        )
    if isinstance(apdu, SetResponseNormal):
        return bytes((SET_RESPONSE, 1, iid, apdu.result))
    if isinstance(apdu, ActionRequestNormal):
        m = apdu.method
        body = bytes((ACTION_REQUEST, 1, iid)) + _ref(m.class_id, m.logical_name, m.method_id)
        if apdu.parameters is None:
            return body + b"\x00"
        return body + b"\x01" + apdu.parameters
    if isinstance(apdu, ActionResponseNormal):
        body = bytes((ACTION_RESPONSE, 1, iid, apdu.result))
        if apdu.return_data is None:
            return body + b"\x00"
        return body + b"\x01" + _result(apdu.return_data)
    if isinstance(apdu, ExceptionResponse):
        body = bytes((EXCEPTION_RESPONSE, apdu.state_error, apdu.service_error))
        if apdu.service_error == 6:
            body += _U32.pack(apdu.invocation_counter or 0)
        return body
    raise ApduError(f"cannot encode {type(apdu).__name__}")


# --- decoding ---------------------------------------------------------------------------------
def _skip_data(buf: bytes, pos: int) -> int:
    try:
        return skip(buf, pos)
    except AxdrError as exc:
        raise ApduError(f"bad data: {exc}") from exc


def _read_access(buf: bytes, pos: int) -> tuple[SelectiveAccess | None, int]:
    if pos >= len(buf):
        raise ApduError("truncated access selection")
    if buf[pos] == 0:
        return None, pos + 1
    if pos + 2 > len(buf):
        raise ApduError("truncated access selector")
    selector = buf[pos + 1]
    end = _skip_data(buf, pos + 2)
    return SelectiveAccess(selector, bytes(buf[pos + 2 : end])), end


def _read_ref(buf: bytes, pos: int) -> tuple[tuple[int, bytes, int], int]:
    if pos + 9 > len(buf):
        raise ApduError("truncated object reference")
    return _REF.unpack_from(buf, pos), pos + 9


def _read_result(buf: bytes, pos: int) -> tuple[bytes | int, int]:
    if pos >= len(buf):
        raise ApduError("truncated result")
    if buf[pos] == 1:
        if pos + 1 >= len(buf):
            raise ApduError("truncated data-access-result")
        return buf[pos + 1], pos + 2
    if buf[pos] != 0:
        raise ApduError(f"bad result choice {buf[pos]}")
    end = _skip_data(buf, pos + 1)
    return bytes(buf[pos + 1 : end]), end


def _done(buf: bytes, pos: int) -> None:
    if pos != len(buf):
        raise ApduError(f"{len(buf) - pos} trailing bytes in APDU")


def decode_apdu(buf: bytes) -> Request | Response:
    """Decode one plain service APDU; raise :class:`ApduError` when malformed."""
    if len(buf) < 3:
        raise ApduError("APDU too short")
    tag, kind, iid = buf[0], buf[1], buf[2]
    if tag == GET_REQUEST:
        if kind == 1:
            (cid, ln, attr), pos = _read_ref(buf, 3)
            access, pos = _read_access(buf, pos)
            _done(buf, pos)
            return GetRequestNormal(iid, AttributeRef(cid, ln, attr), access)
        if kind == 2:
            _done(buf, 7)
            return GetRequestNext(iid, _U32.unpack_from(buf, 3)[0])
        if kind == 3:
            count, pos = _length(buf, 3)
            items = []
            for _ in range(count):
                (cid, ln, attr), pos = _read_ref(buf, pos)
                access, pos = _read_access(buf, pos)
                items.append((AttributeRef(cid, ln, attr), access))
            _done(buf, pos)
            return GetRequestWithList(iid, tuple(items))
    elif tag == GET_RESPONSE:
        if kind == 1:
            if len(buf) > 4 and buf[3] == 0:
                # the data runs to the end of the APDU: the caller decodes it (and so checks
                # it) once, instead of walking a long profile buffer twice
                return GetResponseNormal(iid, bytes(buf[4:]))
            res, pos = _read_result(buf, 3)
            _done(buf, pos)
            return GetResponseNormal(iid, res)
        if kind == 2:
            if len(buf) < 10:
                raise ApduError("truncated data block")
            last = buf[3] != 0
            number = _U32.unpack_from(buf, 4)[0]
            if buf[8] == 1:
                _done(buf, 10)
                return GetResponseWithDatablock(iid, last, number, buf[9])
            n, pos = _length(buf, 9)
            _done(buf, pos + n)
            return GetResponseWithDatablock(iid, last, number, bytes(buf[pos : pos + n]))
        if kind == 3:
            count, pos = _length(buf, 3)
            results = []
            for _ in range(count):
                r, pos = _read_result(buf, pos)
                results.append(r)
            _done(buf, pos)
            return GetResponseWithList(iid, tuple(results))
    elif tag == SET_REQUEST and kind == 1:
        (cid, ln, attr), pos = _read_ref(buf, 3)
        access, pos = _read_access(buf, pos)
        end = _skip_data(buf, pos)
        _done(buf, end)
        return SetRequestNormal(iid, AttributeRef(cid, ln, attr), bytes(buf[pos:end]), access)
    elif tag == SET_RESPONSE and kind == 1:
        if len(buf) < 4:
            raise ApduError("truncated set response")
        _done(buf, 4)
        return SetResponseNormal(iid, buf[3])
    elif tag == ACTION_REQUEST and kind == 1:
        (cid, ln, mid), pos = _read_ref(buf, 3)
        if pos >= len(buf):
            raise ApduError("truncated action request")
        params = None
        if buf[pos] == 1:
            end = _skip_data(buf, pos + 1)
            params = bytes(buf[pos + 1 : end])
            pos = end
        else:
            pos += 1
        _done(buf, pos)
        return ActionRequestNormal(iid, MethodRef(cid, ln, mid), params)
    elif tag == ACTION_RESPONSE and kind == 1:
        if len(buf) < 4:
            raise ApduError("truncated action response")
        result = buf[3]
        if len(buf) == 4 or buf[4] == 0:
            _done(buf, min(len(buf), 5))
            return ActionResponseNormal(iid, result)
        ret, pos = _read_result(buf, 5)
        _done(buf, pos)
        return ActionResponseNormal(iid, result, ret)
    elif tag == EXCEPTION_RESPONSE:
        ic = _U32.unpack_from(buf, 3)[0] if buf[2] == 6 and len(buf) >= 7 else None
        # exception-response: state-error, service-error [, invocation counter]
        return ExceptionResponse(buf[1], buf[2], ic)
    raise ApduError(f"unsupported APDU 0x{tag:02x}/{kind}")


def _length(buf: bytes, pos: int) -> tuple[int, int]:
    try:
        return decode_length(buf, pos)
    except AxdrError as exc:
        raise ApduError(str(exc)) from exc
