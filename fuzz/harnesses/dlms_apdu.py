"""DLMS service and association APDUs: the plain APDU decoder (GET/SET/ACTION requests and
responses, exception responses), selective-access parameters, AARQ/AARE/RLRQ/RLRE, the
xDLMS initiate APDUs and the glo-ciphered envelope (split, not deciphered).

Allowed: :class:`DlmsCodecError` (the codecs' documented error; a ValueError). Checks: an
APDU that decodes re-encodes to bytes that decode to the same value (exception-responses
excepted: they are read leniently, a missing invocation counter and trailing bytes pass).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from fuzz.engine import Finding
from fuzz.harnesses.dlms_seeds import associations, requests, responses
from openami.protocols.dlms import acse, apdu, profile, security
from openami.protocols.dlms.errors import DlmsCodecError

ALLOWED = (DlmsCodecError,)
MAX_LEN = 1024


def _plain(data: bytes) -> None:
    decoded = apdu.decode_apdu(data)
    again = apdu.decode_apdu(apdu.encode_apdu(decoded))
    # exception-responses are read leniently (trailing bytes, a missing counter): not compared
    if again != decoded and not isinstance(decoded, apdu.ExceptionResponse):
        raise Finding(f"APDU does not round-trip: {decoded!r} -> {again!r}")
    accesses = []
    if isinstance(decoded, apdu.GetRequestNormal | apdu.SetRequestNormal):
        accesses.append(decoded.access)
    elif isinstance(decoded, apdu.GetRequestWithList):
        accesses.extend(access for _ref, access in decoded.items)
    for access in accesses:
        if access is not None:
            with contextlib.suppress(DlmsCodecError):
                profile.parse_access(access)


def _association(data: bytes) -> None:
    for decode in (
        acse.decode_aarq,
        acse.decode_aare,
        acse.decode_initiate_request,
        acse.decode_initiate_response,
        security.parse_glo,
    ):
        with contextlib.suppress(DlmsCodecError):
            decode(data)
    for expected in (acse.RLRQ, acse.RLRE):
        with contextlib.suppress(DlmsCodecError):
            acse.decode_release(data, expected)


def setup() -> Callable[[bytes], None]:
    def one_input(data: bytes) -> None:
        _association(data)
        _plain(data)

    return one_input


def seeds() -> dict[str, bytes]:
    out = {**requests(), **responses(), **associations()}
    out["glo-get"] = security.wrap(requests()["get-clock"], security_keys(), b"OPENAMI1", 7)
    return out


def security_keys() -> security.Keys:
    from fuzz.harnesses.dlms_seeds import KEYS

    return KEYS
