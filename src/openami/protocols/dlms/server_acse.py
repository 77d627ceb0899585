"""What a DLMS server checks before it associates: secrets, invocation counters, the AARQ.

:func:`check_aarq` reads one AARQ against a logical device's :class:`ServerCredentials` and
:class:`CounterStore` and gives an :class:`AarqVerdict`: accepted (with the negotiated
conformance and PDU size, and for HLS-GMAC the challenge to send), or refused with the ACSE
diagnostic and, where it matters, the event to log. It decides nothing about state: the
association machine (:mod:`.server_session`) does.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Protocol

from openami.protocols.dlms import acse, apdu, security
from openami.protocols.dlms.acse import AcseDiagnostic, Mechanism
from openami.protocols.dlms.apdu import ExceptionResponse
from openami.protocols.dlms.errors import DlmsCodecError, RemoteDlmsProtocolError
from openami.protocols.dlms.security import Keys
from openami.protocols.peer import RandomBytes

PUBLIC_CLIENT = 16
SERVER_MAX_RECEIVE_PDU = 2048
MIN_CLIENT_PDU = 64
CHALLENGE_BYTES = 16
_INITIATE_GLO = frozenset({acse.GLO_INITIATE_REQUEST})


class CounterStore(Protocol):
    """Invocation counters of one logical device, kept across connections (and restarts,
    when the store persists them: see ``openami.meter.dlms.state``)."""

    highest: int  # the highest client counter accepted from any client (-1: none)

    def accept_client_counter(self, client_title: bytes, ic: int) -> bool:
        """True and remember ``ic`` if it is above every counter seen from that client."""
        ...

    def expected_client_counter(self, client_title: bytes) -> int: ...

    def next_server_counter(self) -> int: ...


@dataclass
class MemoryCounterStore:
    """A :class:`CounterStore` in memory."""

    client: dict[bytes, int] = field(default_factory=dict)
    server: int = 0
    highest: int = -1  # the highest client counter accepted from any client

    def accept_client_counter(self, client_title: bytes, ic: int) -> bool:
        last = self.client.get(client_title, -1)
        if ic <= last:
            return False
        self.client[client_title] = ic
        self.highest = max(self.highest, ic)
        return True

    def expected_client_counter(self, client_title: bytes) -> int:
        return self.client.get(client_title, -1) + 1

    def next_server_counter(self) -> int:
        self.server += 1
        return self.server


@dataclass(frozen=True)
class ServerCredentials:
    """Secrets of one logical device. ``None`` disables that authentication level."""

    system_title: bytes
    password: bytes | None = None
    keys: Keys | None = None

    def __repr__(self) -> str:
        return f"ServerCredentials(system_title={self.system_title.hex()}, secrets=<hidden>)"


@dataclass(frozen=True)
class AarqVerdict:
    """The outcome of :func:`check_aarq`. ``refusal`` is None when the AARQ is accepted."""

    context: int
    mechanism: Mechanism
    refusal: AcseDiagnostic | None = None
    security_event: str | None = None
    client_title: bytes = b""
    conformance: int = 0
    client_max_pdu: int = SERVER_MAX_RECEIVE_PDU
    ctos: bytes = b""  # the client's challenge (HLS)
    stoc: bytes = b""  # our challenge (HLS)


def exception_response(state_error: int, service_error: int, ic: int | None = None) -> bytes:
    return apdu.encode_apdu(ExceptionResponse(state_error, service_error, ic))


def refuse(
    message: str,
    state_error: int,
    service_error: int,
    *,
    ic: int | None = None,
    security_event: str | None = None,
) -> RemoteDlmsProtocolError:
    """The error for an illegal request, carrying the exception-response that answers it."""
    return RemoteDlmsProtocolError(
        message,
        service_error,
        reply=exception_response(state_error, service_error, ic),
        security_event=security_event,
    )


def decipher_request(data: bytes, keys: Keys, client_title: bytes, counters: CounterStore) -> bytes:
    """The plain request inside a glo APDU of an HLS association, after the security policy
    (authenticated encryption, a request tag: checked before deciphering), the tag and the
    invocation counter (saved by ``counters`` before the request is served)."""
    if data[0] not in security.PLAIN_TAGS:
        raise refuse("a plain APDU in a ciphered association", 1, 1)
    try:
        glo = security.parse_glo(data)
    except DlmsCodecError as exc:
        raise refuse(
            f"malformed glo APDU: {exc}", 1, 5, security_event="deciphering-error"
        ) from exc
    try:
        security.check_policy(glo, security.REQUEST_GLO_TAGS)
    except DlmsCodecError as exc:
        raise refuse(
            f"refused by the security policy: {exc}",
            1,
            5,
            security_event="security-policy-violation",
        ) from exc
    try:
        plain = security.unwrap(glo, keys, client_title)
    except DlmsCodecError as exc:
        raise refuse(
            f"deciphering failed: {exc}", 1, 5, security_event="deciphering-error"
        ) from exc
    if not counters.accept_client_counter(client_title, glo.invocation_counter):
        raise refuse(
            f"invocation counter {glo.invocation_counter} already used",
            1,
            6,
            ic=counters.expected_client_counter(client_title),
            security_event="invocation-counter-replay",
        )
    return plain


ASSOCIATION_LOCKED = "association-locked"  # the security event of a lock that starts


def locked_out(data: bytes) -> AarqVerdict:
    """The refusal of an AARQ while its client is locked out (its secret is not read)."""
    try:
        context = acse.decode_aarq(data).context
    except DlmsCodecError:
        context = acse.LN_NO_CIPHERING
    return _refused(context, AcseDiagnostic.AUTHENTICATION_FAILURE)


def _refused(
    context: int, diagnostic: AcseDiagnostic, security_event: str | None = None
) -> AarqVerdict:
    return AarqVerdict(context, Mechanism.NONE, diagnostic, security_event)


def check_aarq(
    data: bytes,
    client_sap: int,
    credentials: ServerCredentials,
    counters: CounterStore,
    random_bytes: RandomBytes,
) -> AarqVerdict:
    """Read an AARQ: who may associate how (public client: none; others: password or HLS)."""
    try:
        aarq = acse.decode_aarq(data)
    except DlmsCodecError:
        return _refused(acse.LN_NO_CIPHERING, AcseDiagnostic.NO_REASON_GIVEN)
    context = aarq.context
    if context not in (acse.LN_NO_CIPHERING, acse.LN_WITH_CIPHERING):
        return _refused(context, AcseDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED)
    public = client_sap == PUBLIC_CLIENT
    mechanism = aarq.mechanism
    if public and (mechanism != Mechanism.NONE or context != acse.LN_NO_CIPHERING):
        return _refused(context, AcseDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED)
    if not public and mechanism == Mechanism.NONE:
        return _refused(context, AcseDiagnostic.AUTHENTICATION_REQUIRED)
    if mechanism == Mechanism.LOW:
        return _with_initiate(_check_password(aarq, credentials), aarq.user_information)
    if mechanism == Mechanism.HIGH_GMAC:
        verdict, user_info = _check_hls(aarq, credentials, counters, random_bytes)
        return _with_initiate(verdict, user_info)
    return _with_initiate(AarqVerdict(context, mechanism), aarq.user_information)


def _check_password(aarq: acse.Aarq, credentials: ServerCredentials) -> AarqVerdict:
    context = aarq.context
    secret = credentials.password
    if context != acse.LN_NO_CIPHERING:
        return _refused(context, AcseDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED)
    if secret is None or not hmac.compare_digest(secret, aarq.authentication_value or b""):
        return _refused(context, AcseDiagnostic.AUTHENTICATION_FAILURE, "authentication-failure")
    return AarqVerdict(context, Mechanism.LOW)


def _check_hls(
    aarq: acse.Aarq,
    credentials: ServerCredentials,
    counters: CounterStore,
    random_bytes: RandomBytes,
) -> tuple[AarqVerdict, bytes]:
    context = aarq.context
    keys = credentials.keys
    if keys is None or context != acse.LN_WITH_CIPHERING:
        return _refused(context, AcseDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED), b""
    title = aarq.calling_ap_title or b""
    ctos = aarq.authentication_value or b""
    if len(title) != 8 or not 8 <= len(ctos) <= 64:
        return _refused(context, AcseDiagnostic.AUTHENTICATION_REQUIRED), b""
    try:
        glo = security.parse_glo(aarq.user_information)
        security.check_policy(glo, _INITIATE_GLO)
    except DlmsCodecError:
        violation = "security-policy-violation"
        return _refused(context, AcseDiagnostic.AUTHENTICATION_FAILURE, violation), b""
    try:
        user_info = security.unwrap(glo, keys, title)
    except DlmsCodecError:
        failure = "authentication-failure"
        return _refused(context, AcseDiagnostic.AUTHENTICATION_FAILURE, failure), b""
    if not counters.accept_client_counter(title, glo.invocation_counter):
        replay = "invocation-counter-replay"
        return _refused(context, AcseDiagnostic.AUTHENTICATION_FAILURE, replay), b""
    verdict = AarqVerdict(
        context,
        Mechanism.HIGH_GMAC,
        client_title=title,
        ctos=ctos,
        stoc=random_bytes(CHALLENGE_BYTES),
    )
    return verdict, user_info


def _with_initiate(verdict: AarqVerdict, user_info: bytes) -> AarqVerdict:
    """Complete an accepted verdict with the xDLMS initiate request it carries."""
    if verdict.refusal is not None:
        return verdict
    try:
        init = acse.decode_initiate_request(user_info)
    except DlmsCodecError:
        return _refused(verdict.context, AcseDiagnostic.NO_REASON_GIVEN)
    if init.dlms_version < 6:
        return _refused(verdict.context, AcseDiagnostic.NO_REASON_GIVEN)
    return AarqVerdict(
        verdict.context,
        verdict.mechanism,
        client_title=verdict.client_title,
        conformance=init.conformance & acse.SERVER_CONFORMANCE,
        client_max_pdu=max(MIN_CLIENT_PDU, init.max_receive_pdu_size or 0xFFFF),
        ctos=verdict.ctos,
        stoc=verdict.stoc,
    )


__all__ = [
    "ASSOCIATION_LOCKED",
    "PUBLIC_CLIENT",
    "SERVER_MAX_RECEIVE_PDU",
    "AarqVerdict",
    "CounterStore",
    "MemoryCounterStore",
    "ServerCredentials",
    "check_aarq",
    "decipher_request",
    "exception_response",
    "locked_out",
    "refuse",
]
