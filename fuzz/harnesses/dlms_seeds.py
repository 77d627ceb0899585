"""Real DLMS APDUs made with openami's own encoders: the seeds of the DLMS harnesses."""

from __future__ import annotations

from datetime import datetime, timedelta

from openami.clock import JST
from openami.protocols.dlms import acse, apdu, axdr, profile
from openami.protocols.dlms.cosem import (
    CLOCK_LN,
    DISCONNECT_CONTROL_LN,
    LOAD_PROFILE_LN,
    AttributeRef,
    ClassId,
    MethodRef,
)
from openami.protocols.dlms.security import Keys

KEYS = Keys(bytes(range(16)), bytes(range(0xD0, 0xE0)))  # fuzz fixture keys (Gurux test keys)
CLIENT_TITLE = b"OPENAMI1"
START = datetime(2026, 11, 1, tzinfo=JST)

CLOCK = AttributeRef(ClassId.CLOCK, CLOCK_LN, 2)
PROFILE_BUFFER = AttributeRef(ClassId.PROFILE_GENERIC, LOAD_PROFILE_LN, 2)
DISCONNECT = MethodRef(ClassId.DISCONNECT_CONTROL, DISCONNECT_CONTROL_LN, 1)


def requests() -> dict[str, bytes]:
    """Plain GET/SET/ACTION requests a HES sends."""
    by_range = profile.by_range(START, START + timedelta(hours=2))
    items: dict[str, apdu.Request] = {
        "get-clock": apdu.GetRequestNormal(0xC1, CLOCK),
        "get-profile-range": apdu.GetRequestNormal(0xC2, PROFILE_BUFFER, by_range),
        "get-profile-entry": apdu.GetRequestNormal(0xC3, PROFILE_BUFFER, profile.by_entry(1, 4)),
        "get-next": apdu.GetRequestNext(0xC4, 2),
        "get-list": apdu.GetRequestWithList(0xC5, ((CLOCK, None), (PROFILE_BUFFER, by_range))),
        "set-clock": apdu.SetRequestNormal(
            0xC6, CLOCK, axdr.octet_string(axdr.encode_datetime(START))
        ),
        "action-disconnect": apdu.ActionRequestNormal(0xC7, DISCONNECT, axdr.i8(0)),
    }
    return {name: apdu.encode_apdu(item) for name, item in items.items()}


def responses() -> dict[str, bytes]:
    items: dict[str, apdu.Response] = {
        "get-response-data": apdu.GetResponseNormal(
            0xC1, axdr.octet_string(axdr.encode_datetime(START))
        ),
        "get-response-error": apdu.GetResponseNormal(0xC1, 4),
        "get-response-block": apdu.GetResponseWithDatablock(0xC1, False, 1, b"\x01\x02\x02\x00"),
        "get-response-list": apdu.GetResponseWithList(0xC1, (axdr.u8(1), 3)),
        "set-response": apdu.SetResponseNormal(0xC1, 0),
        "action-response": apdu.ActionResponseNormal(0xC1, 0, axdr.u32(7)),
        "exception": apdu.ExceptionResponse(1, 6, 99),
    }
    return {name: apdu.encode_apdu(item) for name, item in items.items()}


def associations() -> dict[str, bytes]:
    initiate = acse.encode_initiate_request(acse.InitiateRequest(0x00101D, 0xFFFF))
    items = {
        "aarq-public": acse.encode_aarq(
            acse.Aarq(acse.LN_NO_CIPHERING, acse.Mechanism.NONE, initiate)
        ),
        "aarq-lls": acse.encode_aarq(
            acse.Aarq(acse.LN_NO_CIPHERING, acse.Mechanism.LOW, initiate, None, b"fuzz-password")
        ),
        "aarq-hls": acse.encode_aarq(
            acse.Aarq(
                acse.LN_WITH_CIPHERING, acse.Mechanism.HIGH_GMAC, initiate, CLIENT_TITLE, b"C" * 16
            )
        ),
        "aare": acse.encode_aare(
            acse.Aare(
                acse.LN_NO_CIPHERING,
                acse.AssociationResult(0),
                0,
                acse.encode_initiate_response(acse.InitiateResponse(0x00101D, 0x0400)),
            )
        ),
        "rlrq": acse.encode_rlrq(),
        "rlre": acse.encode_rlre(),
    }
    return items
