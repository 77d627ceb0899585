"""The server (meter) side of a DLMS association as a pure state machine.

:class:`ServerAssociation` takes one APDU and returns the response APDU: AARQ → AARE
(no security for the public client, lowest-level password, or HLS-GMAC with suite-0
ciphering), the HLS challenge answer, GET (normal, next block, with-list), SET, ACTION and
RLRQ. The COSEM objects themselves sit behind :class:`CosemHandler`; invocation counters
live in a :class:`CounterStore` so that replay protection outlives one connection.
:class:`~.connection.ServerConnection` adds the TCP wrapper and routes frames by wPort.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from openami.protocols.dlms import acse, apdu, security
from openami.protocols.dlms.acse import AcseDiagnostic, AcseError, AssociationResult, Mechanism
from openami.protocols.dlms.apdu import (
    ActionRequestNormal,
    ActionResponseNormal,
    ApduError,
    ExceptionResponse,
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
    SelectiveAccess,
    SetRequestNormal,
    SetResponseNormal,
)
from openami.protocols.dlms.axdr import AxdrError, decode_all, octet_string
from openami.protocols.dlms.cosem import (
    ASSOCIATION_LN,
    ActionResult,
    AttributeRef,
    ClassId,
    DataAccessResult,
    MethodRef,
)
from openami.protocols.dlms.security import Keys, SecurityError

PUBLIC_CLIENT = 16
SERVER_MAX_RECEIVE_PDU = 2048
MIN_CLIENT_PDU = 64


class State(Enum):
    IDLE = "idle"
    PENDING_HLS = "pending-hls"  # AARE sent, waiting for the client's challenge answer
    ASSOCIATED = "associated"


class CosemHandler(Protocol):
    """The COSEM objects of one logical device."""

    def get(
        self, ctx: ServerAssociation, attr: AttributeRef, access: SelectiveAccess | None
    ) -> bytes | int:
        """Encoded ``Data``, or a :class:`DataAccessResult` error."""
        ...

    def set(
        self,
        ctx: ServerAssociation,
        attr: AttributeRef,
        access: SelectiveAccess | None,
        value: bytes,
    ) -> int:
        """A :class:`DataAccessResult`."""
        ...

    def action(
        self, ctx: ServerAssociation, method: MethodRef, parameters: bytes | None
    ) -> tuple[int, bytes | None]:
        """(:class:`ActionResult`, encoded return data or None)."""
        ...

    def on_security_event(self, ctx: ServerAssociation, what: str) -> None:
        """Told about refused associations and rejected invocation counters (for event logs)."""
        ...


class CounterStore(Protocol):
    """Invocation counters of one logical device, kept across connections."""

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


def exception_response(state_error: int, service_error: int, ic: int | None = None) -> bytes:
    return apdu.encode_apdu(ExceptionResponse(state_error, service_error, ic))


class ServerAssociation:
    """One client's association with one logical device."""

    def __init__(
        self,
        handler: CosemHandler,
        credentials: ServerCredentials,
        counters: CounterStore,
        client_sap: int,
        server_sap: int = 1,
        challenge_source: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.handler = handler
        self.credentials = credentials
        self.counters = counters
        self.client_sap = client_sap
        self.server_sap = server_sap
        self._challenge_source = challenge_source
        self.state = State.IDLE
        self.mechanism = Mechanism.NONE
        self.ciphered = False
        self.client_title = b""
        self.client_max_pdu = SERVER_MAX_RECEIVE_PDU
        self.conformance = 0
        self._stoc = b""
        self._ctos = b""
        self._blocks: tuple[int, bytes, int, int] | None = None  # invoke, raw, size, sent no.

    @property
    def can_write(self) -> bool:
        """SET and ACTION need an authenticated (password or HLS) association."""
        return self.state is State.ASSOCIATED and self.mechanism != Mechanism.NONE

    # -- entry point ----------------------------------------------------------------------------
    def handle(self, data: bytes) -> bytes | None:
        """Process one APDU, return the response APDU (None: nothing to answer)."""
        if not data:
            return exception_response(2, 3)
        tag = data[0]
        if tag == acse.AARQ:
            return self._on_aarq(data)
        if tag == acse.RLRQ:
            self._reset()
            return acse.encode_rlre(0)
        if self.state is State.IDLE:
            return exception_response(1, 1)  # service-not-allowed, operation-not-possible
        if self.ciphered:
            if tag not in security.PLAIN_TAGS:
                return exception_response(1, 1)
            try:
                glo = security.parse_glo(data)
            except SecurityError:
                return exception_response(1, 5)
            try:
                plain = security.unwrap(glo, self._keys(), self.client_title)
            except SecurityError:
                self.handler.on_security_event(self, "deciphering-error")
                return exception_response(1, 5)  # deciphering-error
            if not self.counters.accept_client_counter(self.client_title, glo.invocation_counter):
                self.handler.on_security_event(self, "invocation-counter-replay")
                expected = self.counters.expected_client_counter(self.client_title)
                return exception_response(1, 6, expected)
            response = self._on_service(plain)
            if response is None or response[0] not in security.GLO_TAGS:
                return response
            return security.wrap(
                response,
                self._keys(),
                self.credentials.system_title,
                self.counters.next_server_counter(),
            )
        return self._on_service(data)

    def _keys(self) -> Keys:
        keys = self.credentials.keys
        if keys is None:  # pragma: no cover - guarded at association time
            raise SecurityError("no keys configured")
        return keys

    def _reset(self) -> None:
        self.state = State.IDLE
        self.mechanism = Mechanism.NONE
        self.ciphered = False
        self._blocks = None

    # -- association ----------------------------------------------------------------------------
    def _reject(self, context: int, diagnostic: AcseDiagnostic, what: str) -> bytes:
        self._reset()
        if what:
            self.handler.on_security_event(self, what)
        return acse.encode_aare(
            acse.Aare(
                context=context,
                result=AssociationResult.REJECTED_PERMANENT,
                diagnostic=diagnostic,
                user_information=acse.INITIATE_ERROR_OTHER,
            )
        )

    def _on_aarq(self, data: bytes) -> bytes:
        self._reset()
        try:
            aarq = acse.decode_aarq(data)
        except (AcseError, ValueError):
            return self._reject(acse.LN_NO_CIPHERING, AcseDiagnostic.NO_REASON_GIVEN, "")
        ctx = aarq.context
        if ctx not in (acse.LN_NO_CIPHERING, acse.LN_WITH_CIPHERING):
            return self._reject(ctx, AcseDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED, "")
        public = self.client_sap == PUBLIC_CLIENT
        mech = aarq.mechanism
        if public and (mech != Mechanism.NONE or ctx != acse.LN_NO_CIPHERING):
            return self._reject(
                ctx, AcseDiagnostic.AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNISED, ""
            )
        if not public and mech == Mechanism.NONE:
            return self._reject(ctx, AcseDiagnostic.AUTHENTICATION_REQUIRED, "")
        stoc: bytes | None = None
        if mech == Mechanism.LOW:
            secret = self.credentials.password
            if ctx != acse.LN_NO_CIPHERING:
                return self._reject(ctx, AcseDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED, "")
            if secret is None or not hmac.compare_digest(secret, aarq.authentication_value or b""):
                return self._reject(
                    ctx, AcseDiagnostic.AUTHENTICATION_FAILURE, "authentication-failure"
                )
            user_info = aarq.user_information
        elif mech == Mechanism.HIGH_GMAC:
            keys = self.credentials.keys
            if keys is None or ctx != acse.LN_WITH_CIPHERING:
                return self._reject(ctx, AcseDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED, "")
            title = aarq.calling_ap_title or b""
            ctos = aarq.authentication_value or b""
            if len(title) != 8 or not 8 <= len(ctos) <= 64:
                return self._reject(ctx, AcseDiagnostic.AUTHENTICATION_REQUIRED, "")
            try:
                glo = security.parse_glo(aarq.user_information)
                user_info = security.unwrap(glo, keys, title)
            except SecurityError:
                return self._reject(
                    ctx, AcseDiagnostic.AUTHENTICATION_FAILURE, "authentication-failure"
                )
            if not self.counters.accept_client_counter(title, glo.invocation_counter):
                return self._reject(
                    ctx, AcseDiagnostic.AUTHENTICATION_FAILURE, "invocation-counter-replay"
                )
            self.client_title = title
            self._ctos = ctos
            stoc = self._challenge_source(16)
        else:  # Mechanism.NONE, public client
            user_info = aarq.user_information
        try:
            init = acse.decode_initiate_request(user_info)
        except AcseError:
            return self._reject(ctx, AcseDiagnostic.NO_REASON_GIVEN, "")
        if init.dlms_version < 6:
            return self._reject(ctx, AcseDiagnostic.NO_REASON_GIVEN, "")
        self.mechanism = mech
        self.conformance = init.conformance & acse.SERVER_CONFORMANCE
        self.client_max_pdu = max(MIN_CLIENT_PDU, init.max_receive_pdu_size or 0xFFFF)
        response = acse.encode_initiate_response(
            acse.InitiateResponse(self.conformance, SERVER_MAX_RECEIVE_PDU)
        )
        title_out: bytes | None = None
        if mech == Mechanism.HIGH_GMAC:
            self.ciphered = True
            self.state = State.PENDING_HLS
            self._stoc = stoc or b""
            title_out = self.credentials.system_title
            response = security.wrap(
                response, self._keys(), title_out, self.counters.next_server_counter()
            )
        else:
            self.state = State.ASSOCIATED
        return acse.encode_aare(
            acse.Aare(
                context=ctx,
                result=AssociationResult.ACCEPTED,
                # HLS: accepted, but the client must still answer the challenge
                diagnostic=(
                    AcseDiagnostic.AUTHENTICATION_REQUIRED
                    if mech == Mechanism.HIGH_GMAC
                    else AcseDiagnostic.NULL
                ),
                user_information=response,
                responding_ap_title=title_out,
                mechanism=mech,
                authentication_value=stoc,
            )
        )

    def _on_hls_answer(self, req: ActionRequestNormal) -> bytes:
        m = req.method
        if (
            m.class_id != ClassId.ASSOCIATION_LN
            or m.logical_name != ASSOCIATION_LN
            or (m.method_id != 1)
        ):
            return apdu.encode_apdu(
                ActionResponseNormal(req.invoke_id, ActionResult.READ_WRITE_DENIED)
            )
        try:
            answer = decode_all(req.parameters or b"")
            if not isinstance(answer, bytes):
                raise SecurityError("answer is not an octet-string")
            security.check_gmac_response(self._keys(), self.client_title, self._stoc, answer)
        except (SecurityError, AxdrError):
            self.handler.on_security_event(self, "authentication-failure")
            return apdu.encode_apdu(ActionResponseNormal(req.invoke_id, ActionResult.OTHER_REASON))
        self.state = State.ASSOCIATED
        reply = security.gmac_response(
            self._keys(),
            self.credentials.system_title,
            self.counters.next_server_counter(),
            self._ctos,
        )
        return apdu.encode_apdu(
            ActionResponseNormal(req.invoke_id, ActionResult.SUCCESS, octet_string(reply))
        )

    # -- services ---------------------------------------------------------------------------------
    def _on_service(self, data: bytes) -> bytes | None:
        try:
            req = apdu.decode_apdu(data)
        except ApduError:
            return exception_response(2, 3)  # service-unknown, other-reason
        if self.state is State.PENDING_HLS:
            if isinstance(req, ActionRequestNormal):
                return self._on_hls_answer(req)
            return exception_response(1, 1)
        h = self.handler
        if isinstance(req, GetRequestNormal):
            self._blocks = None
            result = h.get(self, req.attribute, req.access)
            if isinstance(result, int):
                return apdu.encode_apdu(GetResponseNormal(req.invoke_id, result))
            return self._get_reply(req.invoke_id, result, b"\xc4\x01" + bytes((req.invoke_id, 0)))
        if isinstance(req, GetRequestNext):
            return self._next_block(req)
        if isinstance(req, GetRequestWithList):
            self._blocks = None
            results = tuple(h.get(self, a, acc) for a, acc in req.items)
            plain = apdu.encode_apdu(GetResponseWithList(req.invoke_id, results))
            raw = plain[3:]
            return self._get_reply(req.invoke_id, raw, plain[:3])
        if isinstance(req, SetRequestNormal):
            if not self.can_write:
                res = int(DataAccessResult.READ_WRITE_DENIED)
            else:
                res = h.set(self, req.attribute, req.access, req.value)
            return apdu.encode_apdu(SetResponseNormal(req.invoke_id, res))
        if isinstance(req, ActionRequestNormal):
            m = req.method
            if m.class_id == ClassId.ASSOCIATION_LN and m.method_id == 1:
                return apdu.encode_apdu(
                    ActionResponseNormal(req.invoke_id, ActionResult.READ_WRITE_DENIED)
                )
            if not self.can_write:
                return apdu.encode_apdu(
                    ActionResponseNormal(req.invoke_id, ActionResult.READ_WRITE_DENIED)
                )
            code, ret = h.action(self, req.method, req.parameters)
            return apdu.encode_apdu(ActionResponseNormal(req.invoke_id, code, ret))
        return exception_response(2, 2)  # a response APDU sent to a server: service-not-supported

    def _limit(self) -> int:
        """Largest plain APDU that fits the client's PDU size once ciphered."""
        return self.client_max_pdu - (4 + 5 + security.TAG_SIZE if self.ciphered else 0)

    def _get_reply(self, invoke_id: int, raw: bytes, head: bytes) -> bytes:
        """``head + raw`` as one APDU when it fits the client's PDU size, else block 1."""
        limit = self._limit()
        if len(head) + len(raw) <= limit:
            return head + raw
        if not self.conformance & acse.CONF_BLOCK_TRANSFER_WITH_GET:
            return apdu.encode_apdu(GetResponseNormal(invoke_id, DataAccessResult.OTHER_REASON))
        room = limit - 13  # block header (9) + raw-data length (up to 3) + choice (1)
        self._blocks = (invoke_id, raw, room, 1)
        return apdu.encode_apdu(GetResponseWithDatablock(invoke_id, False, 1, raw[:room]))

    def _next_block(self, req: GetRequestNext) -> bytes:
        if self._blocks is None:
            return apdu.encode_apdu(
                GetResponseWithDatablock(
                    req.invoke_id, True, req.block_number, DataAccessResult.NO_LONG_GET_IN_PROGRESS
                )
            )
        invoke_id, raw, room, sent = self._blocks
        if req.block_number != sent:
            self._blocks = None
            return apdu.encode_apdu(
                GetResponseWithDatablock(
                    req.invoke_id,
                    True,
                    req.block_number,
                    DataAccessResult.DATA_BLOCK_NUMBER_INVALID,
                )
            )
        start = sent * room
        chunk = raw[start : start + room]
        last = start + room >= len(raw)
        self._blocks = None if last else (invoke_id, raw, room, sent + 1)
        return apdu.encode_apdu(GetResponseWithDatablock(req.invoke_id, last, sent + 1, chunk))


__all__ = [
    "PUBLIC_CLIENT",
    "CosemHandler",
    "CounterStore",
    "MemoryCounterStore",
    "ServerAssociation",
    "ServerCredentials",
    "State",
]
