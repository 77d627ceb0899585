"""The client (head-end) side of a DLMS association as a sans-I/O peer over the TCP wrapper.

``send(event) -> bytes`` gives a wrapper frame to write; ``receive_data`` takes what the meter
sent; ``next_event`` gives :mod:`.events` (or ``NEED_DATA``). The machine checks every answer:
the wrapper frame's wPorts, the invoke-id against the request, the kind of response against
the state (a SET response to a GET is refused), and with suite 0 the meter's invocation
counters and its HLS-GMAC answer. Anything illegal raises :class:`RemoteDlmsProtocolError`;
asking for something the state does not allow raises :class:`LocalDlmsProtocolError`.

A long GET comes back in blocks: each :class:`BlockReceived` is followed by
``send(GetNextBlock())`` until the :class:`Value` arrives.
"""

from __future__ import annotations

from collections import deque
from enum import Enum

from openami.protocols.dlms import acse, apdu, security
from openami.protocols.dlms.acse import AssociationResult, Mechanism
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
from openami.protocols.dlms.axdr import AxdrError, decode_all, decode_length, octet_string, skip
from openami.protocols.dlms.cosem import ASSOCIATION_LN, ClassId, MethodRef
from openami.protocols.dlms.errors import (
    DlmsCodecError,
    LocalDlmsProtocolError,
    RemoteDlmsProtocolError,
)
from openami.protocols.dlms.events import (
    Action,
    ActionDone,
    AnswerChallenge,
    Associate,
    Associated,
    AssociationRejected,
    BlockReceived,
    ChallengeReceived,
    ClientEvent,
    ClientRequest,
    Get,
    GetList,
    GetNextBlock,
    ListItemError,
    Release,
    Released,
    ServiceFailed,
    Set,
    Value,
    ValueList,
    Written,
)
from openami.protocols.dlms.security import Keys
from openami.protocols.dlms.wrapper import WrapperDecoder, WrapperFrame, encode_wrapper
from openami.protocols.peer import NEED_DATA, RandomBytes, Transitions, Wait

CLIENT_CONFORMANCE = acse.SERVER_CONFORMANCE | acse.CONF_BLOCK_TRANSFER_WITH_SET
CHALLENGE_BYTES = 16


class ClientState(Enum):
    IDLE = "idle"
    AWAITING_AARE = "awaiting-aare"
    CHALLENGED = "challenged"  # HLS accepted: our answer to the meter's challenge is due
    AWAITING_HLS_RESULT = "awaiting-hls-result"
    ASSOCIATED = "associated"
    AWAITING_GET = "awaiting-get"
    GET_BLOCK = "get-block"  # a block of a long GET arrived: GetNextBlock is due
    AWAITING_LIST = "awaiting-list"
    LIST_BLOCK = "list-block"
    AWAITING_SET = "awaiting-set"
    AWAITING_ACTION = "awaiting-action"
    AWAITING_RLRE = "awaiting-rlre"


S = ClientState
TRANSITIONS: Transitions[ClientState] = Transitions(
    {
        # what we send
        (S.IDLE, Associate): S.AWAITING_AARE,
        (S.CHALLENGED, AnswerChallenge): S.AWAITING_HLS_RESULT,
        (S.ASSOCIATED, Get): S.AWAITING_GET,
        (S.ASSOCIATED, GetList): S.AWAITING_LIST,
        (S.GET_BLOCK, GetNextBlock): S.AWAITING_GET,
        (S.LIST_BLOCK, GetNextBlock): S.AWAITING_LIST,
        (S.ASSOCIATED, Set): S.AWAITING_SET,
        (S.ASSOCIATED, Action): S.AWAITING_ACTION,
        (S.ASSOCIATED, Release): S.AWAITING_RLRE,
        # what the meter answers
        (S.AWAITING_AARE, Associated): S.ASSOCIATED,
        (S.AWAITING_AARE, ChallengeReceived): S.CHALLENGED,
        (S.AWAITING_AARE, AssociationRejected): S.IDLE,
        (S.AWAITING_HLS_RESULT, Associated): S.ASSOCIATED,
        (S.AWAITING_HLS_RESULT, AssociationRejected): S.IDLE,
        (S.AWAITING_GET, Value): S.ASSOCIATED,
        (S.AWAITING_GET, BlockReceived): S.GET_BLOCK,
        (S.AWAITING_GET, ServiceFailed): S.ASSOCIATED,
        (S.AWAITING_LIST, ValueList): S.ASSOCIATED,
        (S.AWAITING_LIST, BlockReceived): S.LIST_BLOCK,
        (S.AWAITING_LIST, ServiceFailed): S.ASSOCIATED,
        (S.AWAITING_SET, Written): S.ASSOCIATED,
        (S.AWAITING_SET, ServiceFailed): S.ASSOCIATED,
        (S.AWAITING_ACTION, ActionDone): S.ASSOCIATED,
        (S.AWAITING_ACTION, ServiceFailed): S.ASSOCIATED,
        (S.AWAITING_RLRE, Released): S.IDLE,
    }
)

# the response APDUs each waiting state accepts (an exception-response is accepted by all),
# keyed by the member's identity (hashing an Enum member runs Python code)
_EXPECTED: dict[int, tuple[type, ...]] = {
    id(S.AWAITING_HLS_RESULT): (ActionResponseNormal,),
    id(S.AWAITING_GET): (GetResponseNormal, GetResponseWithDatablock),
    id(S.AWAITING_LIST): (GetResponseWithList, GetResponseWithDatablock, GetResponseNormal),
    id(S.AWAITING_SET): (SetResponseNormal,),
    id(S.AWAITING_ACTION): (ActionResponseNormal,),
}


class ClientAssociation:
    """One association to one logical device (``server_wport``), from the client's side."""

    def __init__(
        self,
        mechanism: Mechanism = Mechanism.NONE,
        password: bytes | None = None,
        keys: Keys | None = None,
        system_title: bytes = b"OPENAMI\x01",
        invocation_counter: int = 1,
        max_receive_pdu: int = 0xFFFF,
        *,
        client_wport: int = 16,
        server_wport: int = 1,
        random_bytes: RandomBytes | None = None,
    ) -> None:
        if mechanism == Mechanism.LOW and not password:
            raise LocalDlmsProtocolError("lowest-level security needs a password")
        if mechanism == Mechanism.HIGH_GMAC and (keys is None or len(system_title) != 8):
            raise LocalDlmsProtocolError("HLS-GMAC needs suite-0 keys and an 8-byte system title")
        if mechanism == Mechanism.HIGH_GMAC and random_bytes is None:
            raise LocalDlmsProtocolError("HLS-GMAC needs a source of random challenge bytes")
        self.mechanism = mechanism
        self.password = password
        self.keys = keys
        self.system_title = system_title
        self.invocation_counter = invocation_counter  # next counter to use
        self.max_receive_pdu = max_receive_pdu
        self.client_wport = client_wport
        self.server_wport = server_wport
        self.ciphered = mechanism == Mechanism.HIGH_GMAC
        self.state = ClientState.IDLE
        self.server_title = b""
        self.server_max_pdu = 0
        self.conformance = 0
        self._random_bytes = random_bytes
        self._decoder = WrapperDecoder()
        self._frames: deque[WrapperFrame] = deque()
        self._ctos = b""
        self._stoc = b""
        self._last_server_ic = -1
        self._invoke = 0
        self._invoke_id = -1  # the invoke-id the pending response must carry
        self._blocks: list[bytes] = []

    @property
    def associated(self) -> bool:
        return self.state not in (
            ClientState.IDLE,
            ClientState.AWAITING_AARE,
            ClientState.CHALLENGED,
            ClientState.AWAITING_HLS_RESULT,
        )

    # -- the peer shape ---------------------------------------------------------------------------
    def send(self, event: ClientRequest) -> bytes:
        """The wrapper frame carrying ``event``; raises LocalDlmsProtocolError when not allowed."""
        after = TRANSITIONS.after(self.state, type(event))
        if after is None:
            allowed = ", ".join(TRANSITIONS.allowed_in(self.state)) or "nothing"
            raise LocalDlmsProtocolError(
                f"cannot send {type(event).__name__} in state {self.state.value} "
                f"(allowed: {allowed})"
            )
        payload = self._encode(event)
        self.state = after
        return encode_wrapper(self.client_wport, self.server_wport, payload)

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the meter (decoded by ``next_event``)."""
        try:
            self._frames.extend(self._decoder.feed(data))
        except DlmsCodecError as exc:
            raise RemoteDlmsProtocolError(f"not a wrapper stream: {exc}", fatal=True) from exc

    def next_event(self) -> ClientEvent | Wait:
        if not self._frames:
            return NEED_DATA
        frame = self._frames.popleft()
        if frame.source != self.server_wport or frame.destination != self.client_wport:
            raise RemoteDlmsProtocolError(
                f"frame from wPort {frame.source} to wPort {frame.destination}, expected "
                f"{self.server_wport} to {self.client_wport}"
            )
        event = self._interpret(frame.payload)
        after = TRANSITIONS.after(self.state, type(event))
        if after is None:
            raise RemoteDlmsProtocolError(
                f"{type(event).__name__} is not an answer in state {self.state.value}"
            )
        self.state = after
        return event

    # -- sending ----------------------------------------------------------------------------------
    def _next_invoke(self) -> int:
        self._invoke = (self._invoke + 1) & 0x0F
        self._invoke_id = 0xC0 | self._invoke  # high priority, confirmed service
        return self._invoke_id

    def _keys(self) -> Keys:
        if self.keys is None:
            raise LocalDlmsProtocolError("no suite-0 keys")
        return self.keys

    def _seal(self, plain: bytes) -> bytes:
        if not self.ciphered:
            return plain
        ic = self.invocation_counter
        self.invocation_counter += 1
        return security.wrap(plain, self._keys(), self.system_title, ic)

    def _encode(self, event: ClientRequest) -> bytes:
        if isinstance(event, Get):  # the most frequent first
            self._blocks = []
            request: apdu.Request = GetRequestNormal(
                self._next_invoke(), event.attribute, event.access
            )
        elif isinstance(event, Associate):
            return self._aarq()
        elif isinstance(event, AnswerChallenge):
            return self._challenge_answer()
        elif isinstance(event, Release):
            return acse.encode_rlrq(0)
        elif isinstance(event, GetList):
            self._blocks = []
            request = GetRequestWithList(self._next_invoke(), event.items)
        elif isinstance(event, GetNextBlock):
            request = GetRequestNext(self._next_invoke(), len(self._blocks))
        elif isinstance(event, Set):
            request = SetRequestNormal(
                self._next_invoke(), event.attribute, event.value, event.access
            )
        else:
            request = ActionRequestNormal(self._next_invoke(), event.method, event.parameters)
        return self._seal(apdu.encode_apdu(request))

    def _aarq(self) -> bytes:
        init = acse.encode_initiate_request(
            acse.InitiateRequest(CLIENT_CONFORMANCE, self.max_receive_pdu)
        )
        if self.mechanism != Mechanism.HIGH_GMAC:
            return acse.encode_aarq(
                acse.Aarq(
                    context=acse.LN_NO_CIPHERING,
                    mechanism=self.mechanism,
                    user_information=init,
                    authentication_value=self.password,
                )
            )
        assert self._random_bytes is not None  # checked in __init__
        self._ctos = self._random_bytes(CHALLENGE_BYTES)
        return acse.encode_aarq(
            acse.Aarq(
                context=acse.LN_WITH_CIPHERING,
                mechanism=self.mechanism,
                user_information=self._seal(init),
                calling_ap_title=self.system_title,
                authentication_value=self._ctos,
            )
        )

    def _challenge_answer(self) -> bytes:
        ic = self.invocation_counter
        self.invocation_counter += 1
        answer = security.gmac_response(self._keys(), self.system_title, ic, self._stoc)
        request = ActionRequestNormal(
            self._next_invoke(),
            MethodRef(ClassId.ASSOCIATION_LN, ASSOCIATION_LN, 1),
            octet_string(answer),
        )
        return self._seal(apdu.encode_apdu(request))

    # -- receiving --------------------------------------------------------------------------------
    def _interpret(self, payload: bytes) -> ClientEvent:
        if self.state is ClientState.AWAITING_AARE:
            return self._on_aare(payload)
        if self.state is ClientState.AWAITING_RLRE:
            if payload[:1] != bytes((acse.RLRE,)):
                raise RemoteDlmsProtocolError("expected an RLRE")
            return Released()
        expected = _EXPECTED.get(id(self.state))
        if expected is None:
            raise RemoteDlmsProtocolError(f"unsolicited APDU in state {self.state.value}")
        response = self._decode(payload)
        if isinstance(response, ExceptionResponse):
            return self._on_exception(response)
        if not isinstance(response, expected):
            raise RemoteDlmsProtocolError(
                f"{type(response).__name__} does not answer the request in state {self.state.value}"
            )
        if response.invoke_id != self._invoke_id:
            raise RemoteDlmsProtocolError(
                f"response invoke-id 0x{response.invoke_id:02x}, request had "
                f"0x{self._invoke_id:02x}"
            )
        return self._on_response(response)

    def _open(self, data: bytes) -> bytes:
        if not self.ciphered or (data and data[0] == apdu.EXCEPTION_RESPONSE):
            return data
        try:
            glo = security.parse_glo(data)
            security.check_policy(glo, security.RESPONSE_GLO_TAGS)
            if glo.invocation_counter <= self._last_server_ic:
                raise RemoteDlmsProtocolError("replayed invocation counter in a meter response")
            plain = security.unwrap(glo, self._keys(), self.server_title)
        except DlmsCodecError as exc:
            raise RemoteDlmsProtocolError(f"undecipherable response: {exc}") from exc
        self._last_server_ic = glo.invocation_counter
        return plain

    def _decode(self, data: bytes) -> apdu.Request | apdu.Response:
        try:
            return apdu.decode_apdu(self._open(data))
        except DlmsCodecError as exc:
            raise RemoteDlmsProtocolError(f"malformed response: {exc}") from exc

    def _on_exception(self, response: ExceptionResponse) -> ClientEvent:
        counter = response.invocation_counter
        reason = (
            f"exception response: state error {response.state_error}, service error "
            f"{response.service_error}"
            + ("" if counter is None else f" (expected invocation counter {counter})")
        )
        if self.state is ClientState.AWAITING_HLS_RESULT:
            return AssociationRejected(response.service_error, reason)
        return ServiceFailed(response.service_error, reason)

    def _on_aare(self, payload: bytes) -> ClientEvent:
        try:
            aare = acse.decode_aare(payload)
        except DlmsCodecError as exc:
            raise RemoteDlmsProtocolError(f"malformed AARE: {exc}") from exc
        if aare.result != AssociationResult.ACCEPTED:
            reason = f"association refused: result {aare.result.name}, diagnostic {aare.diagnostic}"
            return AssociationRejected(aare.diagnostic, reason)
        info = aare.user_information or b""
        if self.ciphered:
            self.server_title = aare.responding_ap_title or b""
            if len(self.server_title) != 8 or not aare.authentication_value:
                raise RemoteDlmsProtocolError("HLS AARE without system title or challenge")
            self._stoc = aare.authentication_value
            info = self._open(info)
        try:
            init = acse.decode_initiate_response(info)
        except DlmsCodecError as exc:
            raise RemoteDlmsProtocolError(f"malformed initiate response: {exc}") from exc
        self.server_max_pdu = init.max_receive_pdu_size
        self.conformance = init.conformance
        if self.mechanism == Mechanism.HIGH_GMAC:
            return ChallengeReceived()
        return Associated(self.conformance, self.server_max_pdu)

    def _on_response(self, response: apdu.Request | apdu.Response) -> ClientEvent:
        """The event for a response already checked against the request (kind, invoke-id)."""
        if isinstance(response, GetResponseNormal):
            if isinstance(response.result, int):
                code = response.result
                return ServiceFailed(code, f"GET failed: data-access-result {code}")
            return Value(response.result)
        if isinstance(response, ActionResponseNormal):
            if self.state is ClientState.AWAITING_HLS_RESULT:
                return self._on_hls_result(response)
            if response.result != 0:
                return ServiceFailed(response.result, f"ACTION failed: result {response.result}")
            if isinstance(response.return_data, int):
                code = response.return_data
                return ServiceFailed(code, f"ACTION data error {code}")
            return ActionDone(response.return_data)
        if isinstance(response, SetResponseNormal):
            if response.result != 0:
                return ServiceFailed(response.result, f"SET failed: result {response.result}")
            return Written()
        if isinstance(response, GetResponseWithList):
            items = tuple(ListItemError(r) if isinstance(r, int) else r for r in response.results)
            return ValueList(items)
        assert isinstance(response, GetResponseWithDatablock)
        return self._on_block(response)

    def _on_block(self, response: GetResponseWithDatablock) -> ClientEvent:
        if isinstance(response.raw, int):
            code = response.raw
            return ServiceFailed(code, f"block transfer failed: data-access-result {code}")
        if response.block_number != len(self._blocks) + 1:
            raise RemoteDlmsProtocolError(
                f"block {response.block_number}, expected {len(self._blocks) + 1}"
            )
        self._blocks.append(response.raw)
        if not response.last_block:
            return BlockReceived(response.block_number)
        raw = b"".join(self._blocks)
        self._blocks = []
        if self.state is ClientState.AWAITING_GET:
            return Value(raw)
        return ValueList(_split_list(raw))

    def _on_hls_result(self, response: ActionResponseNormal) -> ClientEvent:
        if response.result != 0 or not isinstance(response.return_data, bytes):
            return AssociationRejected(response.result, "the meter refused our HLS-GMAC answer")
        try:
            answer = decode_all(response.return_data)
            if not isinstance(answer, bytes):
                raise RemoteDlmsProtocolError("the meter's HLS answer is not an octet-string")
            security.check_gmac_response(self._keys(), self.server_title, self._ctos, answer)
        except DlmsCodecError as exc:
            raise RemoteDlmsProtocolError(f"the meter failed HLS authentication: {exc}") from exc
        return Associated(self.conformance, self.server_max_pdu)


def _split_list(raw: bytes) -> tuple[bytes | ListItemError, ...]:
    """The results of a GET-with-list that came in blocks (count, then choice + data each)."""
    try:
        count, pos = decode_length(raw, 0)
        out: list[bytes | ListItemError] = []
        for _ in range(count):
            if raw[pos] == 1:
                out.append(ListItemError(raw[pos + 1]))
                pos += 2
            else:
                end = skip(raw, pos + 1)
                out.append(raw[pos + 1 : end])
                pos = end
    except (AxdrError, IndexError) as exc:
        raise RemoteDlmsProtocolError(f"malformed GET-with-list blocks: {exc}") from exc
    return tuple(out)


__all__ = ["CLIENT_CONFORMANCE", "TRANSITIONS", "ClientAssociation", "ClientState"]
