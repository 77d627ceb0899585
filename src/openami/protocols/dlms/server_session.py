"""The server (meter) side of a DLMS association as a sans-I/O peer, one APDU at a time.

``receive_data(apdu)`` queues an APDU from the client; ``next_event()`` gives the request it
carries (see :mod:`.events`) after deciphering it and checking it against the state;
``send(response)`` answers that request and returns the APDU to send (ciphered under suite 0,
in blocks when a GET answer exceeds the client's PDU size). Every request gets exactly one
answer before the next one is read (until then ``next_event`` returns ``PAUSED``).

A request the state does not allow (a GET before the association, anything but the challenge
answer while HLS is pending, a response APDU), one that does not decode or decipher, or a
replayed invocation counter raises :class:`RemoteDlmsProtocolError` whose ``reply`` is the
exception-response to send; the association stays as it was. The AARQ is checked by
:func:`.server_acse.check_aarq`; challenges come from the injected ``random_bytes``.
:class:`~.connection.ServerConnection` adds the TCP wrapper and routes frames by wPort.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from enum import Enum

from openami.protocols.dlms import acse, apdu, security
from openami.protocols.dlms.acse import AcseDiagnostic, AssociationResult, Mechanism
from openami.protocols.dlms.apdu import (
    ActionRequestNormal,
    ActionResponseNormal,
    ExceptionResponse,
    GetRequestNext,
    GetRequestNormal,
    GetRequestWithList,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
    SetRequestNormal,
    SetResponseNormal,
)
from openami.protocols.dlms.axdr import decode_all, octet_string
from openami.protocols.dlms.cosem import ASSOCIATION_LN, ActionResult, ClassId, DataAccessResult
from openami.protocols.dlms.errors import (
    DlmsCodecError,
    LocalDlmsProtocolError,
)
from openami.protocols.dlms.events import (
    ActionRequest,
    ActionResponse,
    AssociationRequest,
    AssociationResponse,
    ChallengeAnswer,
    ChallengeResult,
    GetListRequest,
    GetListResponse,
    GetRequest,
    GetResponse,
    NextBlockRequest,
    NextBlockResponse,
    ReleaseRequest,
    ReleaseResponse,
    ServerEvent,
    SetRequest,
    SetResponse,
)
from openami.protocols.dlms.lockout import AssociationLockout
from openami.protocols.dlms.security import Keys
from openami.protocols.dlms.server_acse import (
    ASSOCIATION_LOCKED,
    PUBLIC_CLIENT,
    SERVER_MAX_RECEIVE_PDU,
    AarqVerdict,
    CounterStore,
    MemoryCounterStore,
    ServerCredentials,
    check_aarq,
    decipher_request,
    exception_response,
    locked_out,
    refuse,
)
from openami.protocols.peer import NEED_DATA, PAUSED, RandomBytes, Transitions, Wait

ServerResponse = (
    AssociationResponse
    | ChallengeResult
    | ReleaseResponse
    | NextBlockResponse
    | GetResponse
    | GetListResponse
    | SetResponse
    | ActionResponse
    | ExceptionResponse
)


class State(Enum):
    IDLE = "idle"
    ANSWERING_AARQ = "answering-aarq"
    CHALLENGED = "challenged"  # AARE sent, waiting for the client's challenge answer
    ANSWERING_CHALLENGE = "answering-challenge"
    ASSOCIATED = "associated"
    SERVING_GET = "serving-get"
    SERVING_LIST = "serving-list"
    SERVING_NEXT_BLOCK = "serving-next-block"
    SERVING_SET = "serving-set"
    SERVING_ACTION = "serving-action"
    RELEASING = "releasing"


_SERVING = (
    State.SERVING_GET,
    State.SERVING_LIST,
    State.SERVING_NEXT_BLOCK,
    State.SERVING_SET,
    State.SERVING_ACTION,
)
_STABLE = (State.IDLE, State.CHALLENGED, State.ASSOCIATED)
_UNAUTHENTICATED = (State.IDLE, State.ANSWERING_AARQ, State.CHALLENGED, State.ANSWERING_CHALLENGE)
_AARQ_OUTCOMES = (State.ASSOCIATED, State.CHALLENGED, State.IDLE)

TRANSITIONS: Transitions[State] = Transitions(
    {
        **{(s, AssociationRequest): State.ANSWERING_AARQ for s in _STABLE},
        **{(s, ReleaseRequest): State.RELEASING for s in _STABLE},
        (State.ANSWERING_AARQ, AssociationResponse): _AARQ_OUTCOMES,
        (State.CHALLENGED, ChallengeAnswer): State.ANSWERING_CHALLENGE,
        (State.ANSWERING_CHALLENGE, ChallengeResult): (State.ASSOCIATED, State.CHALLENGED),
        (State.ANSWERING_CHALLENGE, ExceptionResponse): State.CHALLENGED,
        (State.ASSOCIATED, GetRequest): State.SERVING_GET,
        (State.ASSOCIATED, GetListRequest): State.SERVING_LIST,
        (State.ASSOCIATED, NextBlockRequest): State.SERVING_NEXT_BLOCK,
        (State.ASSOCIATED, SetRequest): State.SERVING_SET,
        (State.ASSOCIATED, ActionRequest): State.SERVING_ACTION,
        (State.SERVING_GET, GetResponse): State.ASSOCIATED,
        (State.SERVING_LIST, GetListResponse): State.ASSOCIATED,
        (State.SERVING_NEXT_BLOCK, NextBlockResponse): State.ASSOCIATED,
        (State.SERVING_SET, SetResponse): State.ASSOCIATED,
        (State.SERVING_ACTION, ActionResponse): State.ASSOCIATED,
        **{(s, ExceptionResponse): State.ASSOCIATED for s in _SERVING},
        (State.RELEASING, ReleaseResponse): State.IDLE,
    }
)


class ServerAssociation:
    """One client's association with one logical device."""

    def __init__(
        self,
        credentials: ServerCredentials,
        counters: CounterStore,
        client_sap: int,
        server_sap: int = 1,
        *,
        random_bytes: RandomBytes,
        lockout: AssociationLockout | None = None,
    ) -> None:
        self.credentials = credentials
        self.lockout = lockout
        self.counters = counters
        self.client_sap = client_sap
        self.server_sap = server_sap
        self._random_bytes = random_bytes
        self.state = State.IDLE
        self.mechanism = Mechanism.NONE
        self.ciphered = False
        self.client_title = b""
        self.client_max_pdu = SERVER_MAX_RECEIVE_PDU
        self.conformance = 0
        self._stoc = b""
        self._ctos = b""
        self._inbox: deque[bytes] = deque()
        self._pending: ServerEvent | None = None
        self._verdict: AarqVerdict | None = None
        self._blocks: tuple[bytes, int, int] | None = None  # raw, block size, blocks sent

    @property
    def can_write(self) -> bool:
        """SET and ACTION need HLS (the password level reads only: a password crosses the
        wire in clear, so it must never be enough to switch a customer off)."""
        return self.mechanism == Mechanism.HIGH_GMAC and self.state not in _UNAUTHENTICATED

    # -- the peer shape -------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        """Queue one APDU from the client."""
        self._inbox.append(data if isinstance(data, bytes) else bytes(data))

    def next_event(self) -> ServerEvent | Wait:
        if self._pending is not None:
            return PAUSED  # one request at a time: the pending one is answered first
        if not self._inbox:
            return NEED_DATA
        event = self._read(self._inbox.popleft())
        after = TRANSITIONS.after(self.state, type(event))
        if after is None:
            raise refuse(f"{type(event).__name__} in state {self.state.value}", 1, 1)
        self.state = after
        self._pending = event
        return event

    def send(self, response: ServerResponse) -> bytes:
        """The APDU answering the pending request; LocalDlmsProtocolError if it does not fit."""
        outcome = self._outcome(response)
        after = TRANSITIONS.after(self.state, type(response), outcome)
        if after is None or self._pending is None:
            raise LocalDlmsProtocolError(
                f"cannot send {type(response).__name__} in state {self.state.value}"
            )
        self._check_permission(response)
        plain = self._encode(response, self._pending)
        self.state = after
        self._pending = None
        if not self.ciphered or plain[0] not in security.GLO_TAGS:
            return plain
        return security.wrap(
            plain, self._keys(), self.credentials.system_title, self.counters.next_server_counter()
        )

    # -- reading requests -----------------------------------------------------------------------
    def _read(self, data: bytes) -> ServerEvent:
        if not data:
            raise refuse("empty APDU", 2, 3)
        if data[0] == acse.AARQ:
            return self._read_aarq(data)
        if data[0] == acse.RLRQ:
            return ReleaseRequest()
        if self.state is State.IDLE:
            raise refuse("a service request before the association", 1, 1)
        plain = self._decipher(data) if self.ciphered else data
        try:
            request = apdu.decode_apdu(plain)
        except (DlmsCodecError, IndexError) as exc:
            raise refuse(f"undecodable APDU: {exc}", 2, 3) from exc
        if isinstance(request, ActionRequestNormal) and self.state is State.CHALLENGED:
            return self._read_challenge_answer(request)
        return self._service_event(request)

    def _service_event(self, request: apdu.Request | apdu.Response) -> ServerEvent:
        if isinstance(request, GetRequestNormal):
            return GetRequest(request.invoke_id, request.attribute, request.access)
        if isinstance(request, GetRequestNext):
            return NextBlockRequest(request.invoke_id, request.block_number)
        if isinstance(request, GetRequestWithList):
            return GetListRequest(request.invoke_id, request.items)
        if isinstance(request, SetRequestNormal):
            return SetRequest(
                request.invoke_id, request.attribute, request.value, request.access, self.can_write
            )
        if isinstance(request, ActionRequestNormal):
            method = request.method
            hls_method = method.class_id == ClassId.ASSOCIATION_LN and method.method_id == 1
            permitted = self.can_write and not hls_method
            return ActionRequest(request.invoke_id, method, request.parameters, permitted)
        if self.state is State.CHALLENGED:
            raise refuse("only the challenge answer is read while HLS is pending", 1, 1)
        raise refuse(f"{type(request).__name__} sent to a server", 2, 2)

    def _decipher(self, data: bytes) -> bytes:
        return decipher_request(data, self._keys(), self.client_title, self.counters)

    def _read_aarq(self, data: bytes) -> AssociationRequest:
        self._reset()
        lockout = self.lockout
        if lockout is not None and self.client_sap != PUBLIC_CLIENT and lockout.locked():
            verdict = locked_out(data)  # refused unread: no guess is checked while locked
        else:
            verdict = check_aarq(
                data, self.client_sap, self.credentials, self.counters, self._random_bytes
            )
            if lockout is not None and verdict.security_event is not None:
                if lockout.failed():
                    verdict = replace(verdict, security_event=ASSOCIATION_LOCKED)
            elif (
                lockout is not None
                and verdict.refusal is None
                and verdict.mechanism == Mechanism.LOW
            ):
                lockout.succeeded()  # HLS succeeds with the challenge answer
        self._verdict = verdict
        return AssociationRequest(
            verdict.mechanism, verdict.client_title, verdict.refusal, verdict.security_event
        )

    def _read_challenge_answer(self, request: ActionRequestNormal) -> ChallengeAnswer:
        method = request.method
        if (
            method.class_id != ClassId.ASSOCIATION_LN
            or method.logical_name != ASSOCIATION_LN
            or method.method_id != 1
        ):
            return ChallengeAnswer(request.invoke_id, False)
        lockout = self.lockout
        if lockout is not None and lockout.locked():
            return ChallengeAnswer(request.invoke_id, False, None, locked=True)
        try:
            answer = decode_all(request.parameters or b"")
            if not isinstance(answer, bytes):
                raise DlmsCodecError("the challenge answer is not an octet-string")
            security.check_gmac_response(self._keys(), self.client_title, self._stoc, answer)
        except DlmsCodecError:
            event = "authentication-failure"
            if lockout is not None and lockout.failed():
                event = ASSOCIATION_LOCKED
            return ChallengeAnswer(request.invoke_id, False, event)
        if lockout is not None:
            lockout.succeeded()
        return ChallengeAnswer(request.invoke_id, True)

    # -- answering ------------------------------------------------------------------------------
    def _outcome(self, response: ServerResponse) -> State | None:
        """Where a data-dependent answer leads (None: the table's only target)."""
        if isinstance(response, AssociationResponse) and self._verdict is not None:
            verdict = self._verdict
            if verdict.refusal is not None:
                return State.IDLE
            return (
                State.CHALLENGED if verdict.mechanism == Mechanism.HIGH_GMAC else State.ASSOCIATED
            )
        if isinstance(response, ChallengeResult) and isinstance(self._pending, ChallengeAnswer):
            return State.ASSOCIATED if self._pending.valid else State.CHALLENGED
        return None

    def _check_permission(self, response: ServerResponse) -> None:
        if not isinstance(response, (SetResponse, ActionResponse)) or response.result != 0:
            return  # only a success needs the right to write
        pending = self._pending
        if isinstance(pending, (SetRequest, ActionRequest)) and not pending.permitted:
            raise LocalDlmsProtocolError(
                f"{type(pending).__name__} is not permitted in this association: "
                "answer read-write-denied"
            )

    def _encode(self, response: ServerResponse, pending: ServerEvent) -> bytes:
        if isinstance(response, GetResponse):  # the most frequent first
            assert isinstance(pending, GetRequest)
            self._blocks = None
            if isinstance(response.result, int):
                return apdu.encode_apdu(GetResponseNormal(pending.invoke_id, response.result))
            head = bytes((apdu.GET_RESPONSE, 1, pending.invoke_id, 0))
            return self._get_reply(pending.invoke_id, response.result, head)
        if isinstance(response, ExceptionResponse):
            return apdu.encode_apdu(response)
        if isinstance(response, AssociationResponse):
            return self._aare()
        if isinstance(response, ChallengeResult):
            assert isinstance(pending, ChallengeAnswer)
            return self._challenge_result(pending)
        if isinstance(response, ReleaseResponse):
            self._reset()
            return acse.encode_rlre(0)
        if isinstance(response, NextBlockResponse):
            assert isinstance(pending, NextBlockRequest)
            return self._next_block(pending)
        assert isinstance(pending, (GetListRequest, SetRequest, ActionRequest))
        invoke_id = pending.invoke_id
        if isinstance(response, GetListResponse):
            self._blocks = None
            plain = apdu.encode_apdu(GetResponseWithList(invoke_id, response.results))
            return self._get_reply(invoke_id, plain[3:], plain[:3])
        if isinstance(response, SetResponse):
            return apdu.encode_apdu(SetResponseNormal(invoke_id, response.result))
        return apdu.encode_apdu(
            ActionResponseNormal(invoke_id, response.result, response.return_data)
        )

    def _aare(self) -> bytes:
        verdict = self._verdict
        assert verdict is not None
        self._verdict = None
        if verdict.refusal is not None:
            return acse.encode_aare(
                acse.Aare(
                    context=verdict.context,
                    result=AssociationResult.REJECTED_PERMANENT,
                    diagnostic=verdict.refusal,
                    user_information=acse.INITIATE_ERROR_OTHER,
                )
            )
        self.mechanism = verdict.mechanism
        self.conformance = verdict.conformance
        self.client_max_pdu = verdict.client_max_pdu
        response = acse.encode_initiate_response(
            acse.InitiateResponse(self.conformance, SERVER_MAX_RECEIVE_PDU)
        )
        hls = verdict.mechanism == Mechanism.HIGH_GMAC
        title_out: bytes | None = None
        if hls:
            self.ciphered = True
            self.client_title = verdict.client_title
            self._ctos, self._stoc = verdict.ctos, verdict.stoc
            title_out = self.credentials.system_title
            response = security.wrap(
                response, self._keys(), title_out, self.counters.next_server_counter()
            )
        return acse.encode_aare(
            acse.Aare(
                context=verdict.context,
                result=AssociationResult.ACCEPTED,
                # HLS: accepted, but the client must still answer the challenge
                diagnostic=AcseDiagnostic.AUTHENTICATION_REQUIRED if hls else AcseDiagnostic.NULL,
                user_information=response,
                responding_ap_title=title_out,
                mechanism=verdict.mechanism,
                authentication_value=verdict.stoc if hls else None,
            )
        )

    def _challenge_result(self, answer: ChallengeAnswer) -> bytes:
        if not answer.valid:
            result = ActionResult.OTHER_REASON
            if answer.security_event is None and not answer.locked:  # not an answer at all
                result = ActionResult.READ_WRITE_DENIED
            return apdu.encode_apdu(ActionResponseNormal(answer.invoke_id, result))
        reply = security.gmac_response(
            self._keys(),
            self.credentials.system_title,
            self.counters.next_server_counter(),
            self._ctos,
        )
        return apdu.encode_apdu(
            ActionResponseNormal(answer.invoke_id, ActionResult.SUCCESS, octet_string(reply))
        )

    def _keys(self) -> Keys:
        keys = self.credentials.keys
        if keys is None:  # pragma: no cover - guarded at association time
            raise LocalDlmsProtocolError("no keys configured")
        return keys

    def _reset(self) -> None:
        self.mechanism = Mechanism.NONE
        self.ciphered = False
        self._blocks = None

    # -- block transfer -------------------------------------------------------------------------
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
        self._blocks = (raw, room, 1)
        return apdu.encode_apdu(GetResponseWithDatablock(invoke_id, False, 1, raw[:room]))

    def _next_block(self, request: NextBlockRequest) -> bytes:
        invoke_id, number = request.invoke_id, request.block_number
        if self._blocks is None:
            no_get = DataAccessResult.NO_LONG_GET_IN_PROGRESS
            return apdu.encode_apdu(GetResponseWithDatablock(invoke_id, True, number, no_get))
        raw, room, sent = self._blocks
        if number != sent:
            self._blocks = None
            invalid = DataAccessResult.DATA_BLOCK_NUMBER_INVALID
            return apdu.encode_apdu(GetResponseWithDatablock(invoke_id, True, number, invalid))
        start = sent * room
        chunk = raw[start : start + room]
        last = start + room >= len(raw)
        self._blocks = None if last else (raw, room, sent + 1)
        return apdu.encode_apdu(GetResponseWithDatablock(invoke_id, last, sent + 1, chunk))


__all__ = [
    "PUBLIC_CLIENT",
    "TRANSITIONS",
    "CounterStore",
    "MemoryCounterStore",
    "ServerAssociation",
    "ServerCredentials",
    "ServerResponse",
    "State",
    "exception_response",
]
