"""The client (head-end) side of a DLMS association as a pure state machine.

It builds request APDUs and interprets response APDUs; a transport moves the bytes. Long
GET responses come back in blocks: :meth:`ClientAssociation.on_get_response` then returns a
:class:`NextBlock` whose request must be sent, until the value is complete.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

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
    SelectiveAccess,
    SetRequestNormal,
    SetResponseNormal,
)
from openami.protocols.dlms.axdr import AxdrError, decode_all, decode_length, octet_string, skip
from openami.protocols.dlms.cosem import ASSOCIATION_LN, AttributeRef, ClassId, MethodRef
from openami.protocols.dlms.security import Keys, SecurityError

CLIENT_CONFORMANCE = acse.SERVER_CONFORMANCE | acse.CONF_BLOCK_TRANSFER_WITH_SET


class DlmsError(Exception):
    """The meter answered with an error (data-access or action result, exception response)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class AssociationRefused(DlmsError):
    """The meter rejected the AARQ (wrong password/keys, unsupported mechanism...)."""


@dataclass(frozen=True, slots=True)
class NextBlock:
    """Send ``request`` and feed its response to the same ``on_*_response`` method."""

    request: bytes


@dataclass(frozen=True, slots=True)
class ListItemError:
    """One failed entry of a GET-with-list."""

    code: int


class ClientAssociation:
    """One association to one logical device, from the client's side."""

    def __init__(
        self,
        mechanism: Mechanism = Mechanism.NONE,
        password: bytes | None = None,
        keys: Keys | None = None,
        system_title: bytes = b"OPENAMI\x01",
        invocation_counter: int = 1,
        max_receive_pdu: int = 0xFFFF,
    ) -> None:
        if mechanism == Mechanism.LOW and not password:
            raise ValueError("lowest-level security needs a password")
        if mechanism == Mechanism.HIGH_GMAC and (keys is None or len(system_title) != 8):
            raise ValueError("HLS-GMAC needs suite-0 keys and an 8-byte system title")
        self.mechanism = mechanism
        self.password = password
        self.keys = keys
        self.system_title = system_title
        self.invocation_counter = invocation_counter  # next counter to use
        self.max_receive_pdu = max_receive_pdu
        self.ciphered = mechanism == Mechanism.HIGH_GMAC
        self.server_title = b""
        self.server_max_pdu = 0
        self.conformance = 0
        self.associated = False
        self._ctos = os.urandom(16)
        self._stoc = b""
        self._last_server_ic = -1
        self._invoke = 0
        self._blocks: list[bytes] = []
        self._block_no = 0

    # -- helpers ----------------------------------------------------------------------------
    def _next_invoke(self) -> int:
        self._invoke = (self._invoke + 1) & 0x0F
        return 0xC0 | self._invoke  # high priority, confirmed service

    def _keys(self) -> Keys:
        if self.keys is None:
            raise SecurityError("no keys")
        return self.keys

    def _seal(self, plain: bytes) -> bytes:
        if not self.ciphered:
            return plain
        ic = self.invocation_counter
        self.invocation_counter += 1
        return security.wrap(plain, self._keys(), self.system_title, ic)

    def _open(self, data: bytes) -> bytes:
        if not self.ciphered:
            return data
        if data and data[0] == apdu.EXCEPTION_RESPONSE:
            return data
        glo = security.parse_glo(data)
        if glo.invocation_counter <= self._last_server_ic:
            raise SecurityError("replayed invocation counter in a server response")
        plain = security.unwrap(glo, self._keys(), self.server_title)
        self._last_server_ic = glo.invocation_counter
        return plain

    def _decode(self, data: bytes) -> apdu.Request | apdu.Response:
        response = apdu.decode_apdu(self._open(data))
        if isinstance(response, ExceptionResponse):
            ic = f" (expected invocation counter {response.invocation_counter})"
            raise DlmsError(
                f"exception response: state error {response.state_error}, service error "
                f"{response.service_error}{ic if response.invocation_counter is not None else ''}",
                response.service_error,
            )
        return response

    # -- association ------------------------------------------------------------------------
    def aarq(self) -> bytes:
        init = acse.encode_initiate_request(
            acse.InitiateRequest(CLIENT_CONFORMANCE, self.max_receive_pdu)
        )
        if self.mechanism == Mechanism.HIGH_GMAC:
            return acse.encode_aarq(
                acse.Aarq(
                    context=acse.LN_WITH_CIPHERING,
                    mechanism=self.mechanism,
                    user_information=self._seal(init),
                    calling_ap_title=self.system_title,
                    authentication_value=self._ctos,
                )
            )
        return acse.encode_aarq(
            acse.Aarq(
                context=acse.LN_NO_CIPHERING,
                mechanism=self.mechanism,
                user_information=init,
                authentication_value=self.password,
            )
        )

    def on_aare(self, data: bytes) -> bytes | None:
        """Check the AARE; return the HLS challenge answer to send next (None when done)."""
        aare = acse.decode_aare(data)
        if aare.result != AssociationResult.ACCEPTED:
            raise AssociationRefused(
                f"association refused: result {aare.result.name}, diagnostic {aare.diagnostic}",
                aare.diagnostic,
            )
        info = aare.user_information or b""
        if self.ciphered:
            self.server_title = aare.responding_ap_title or b""
            if len(self.server_title) != 8 or not aare.authentication_value:
                raise AssociationRefused("HLS AARE without system title or challenge")
            self._stoc = aare.authentication_value
            info = self._open(info)
        init = acse.decode_initiate_response(info)
        self.server_max_pdu = init.max_receive_pdu_size
        self.conformance = init.conformance
        if self.mechanism != Mechanism.HIGH_GMAC:
            self.associated = True
            return None
        ic = self.invocation_counter
        self.invocation_counter += 1
        answer = security.gmac_response(self._keys(), self.system_title, ic, self._stoc)
        req = ActionRequestNormal(
            self._next_invoke(),
            MethodRef(ClassId.ASSOCIATION_LN, ASSOCIATION_LN, 1),
            octet_string(answer),
        )
        return self._seal(apdu.encode_apdu(req))

    def on_hls_response(self, data: bytes) -> None:
        resp = self._decode(data)
        if not isinstance(resp, ActionResponseNormal) or resp.result != 0:
            raise AssociationRefused("the meter refused our HLS-GMAC answer")
        ret = resp.return_data
        if not isinstance(ret, bytes):
            raise AssociationRefused("the meter did not answer our HLS challenge")
        answer = decode_all(ret)
        if not isinstance(answer, bytes):
            raise AssociationRefused("malformed HLS answer")
        try:
            security.check_gmac_response(self._keys(), self.server_title, self._ctos, answer)
        except SecurityError as exc:
            raise AssociationRefused(f"the meter failed HLS authentication: {exc}") from exc
        self.associated = True

    def release(self) -> bytes:
        self.associated = False
        return acse.encode_rlrq(0)

    # -- GET --------------------------------------------------------------------------------
    def get(self, attr: AttributeRef, access: SelectiveAccess | None = None) -> bytes:
        self._blocks = []
        return self._seal(apdu.encode_apdu(GetRequestNormal(self._next_invoke(), attr, access)))

    def get_with_list(self, items: list[tuple[AttributeRef, SelectiveAccess | None]]) -> bytes:
        self._blocks = []
        return self._seal(apdu.encode_apdu(GetRequestWithList(self._next_invoke(), tuple(items))))

    def _block(self, resp: GetResponseWithDatablock) -> bytes | None:
        if isinstance(resp.raw, int):
            raise DlmsError(f"block transfer failed: data-access-result {resp.raw}", resp.raw)
        if resp.block_number != len(self._blocks) + 1:
            raise DlmsError(f"unexpected block {resp.block_number}")
        self._blocks.append(resp.raw)
        if resp.last_block:
            raw = b"".join(self._blocks)
            self._blocks = []
            return raw
        return None

    def _next_request(self, block_number: int) -> NextBlock:
        return NextBlock(
            self._seal(apdu.encode_apdu(GetRequestNext(self._next_invoke(), block_number)))
        )

    def on_get_response(self, data: bytes) -> bytes | NextBlock:
        """Encoded ``Data`` of a GET-normal, or the next block request to send."""
        resp = self._decode(data)
        if isinstance(resp, GetResponseNormal):
            if isinstance(resp.result, int):
                raise DlmsError(f"GET failed: data-access-result {resp.result}", resp.result)
            return resp.result
        if isinstance(resp, GetResponseWithDatablock):
            raw = self._block(resp)
            return self._next_request(resp.block_number) if raw is None else raw
        raise DlmsError(f"unexpected response {type(resp).__name__} to GET")

    def on_get_with_list_response(self, data: bytes) -> list[bytes | ListItemError] | NextBlock:
        resp = self._decode(data)
        if isinstance(resp, GetResponseWithList):
            return [ListItemError(r) if isinstance(r, int) else r for r in resp.results]
        if isinstance(resp, GetResponseWithDatablock):
            raw = self._block(resp)
            if raw is None:
                return self._next_request(resp.block_number)
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
                raise DlmsError(f"malformed GET-with-list blocks: {exc}") from exc
            return out
        if isinstance(resp, GetResponseNormal) and isinstance(resp.result, int):
            raise DlmsError(f"GET failed: data-access-result {resp.result}", resp.result)
        raise DlmsError(f"unexpected response {type(resp).__name__} to GET-with-list")

    # -- SET / ACTION -----------------------------------------------------------------------
    def set(self, attr: AttributeRef, value: bytes, access: SelectiveAccess | None = None) -> bytes:
        return self._seal(
            apdu.encode_apdu(SetRequestNormal(self._next_invoke(), attr, value, access))
        )

    def on_set_response(self, data: bytes) -> None:
        resp = self._decode(data)
        if not isinstance(resp, SetResponseNormal):
            raise DlmsError(f"unexpected response {type(resp).__name__} to SET")
        if resp.result != 0:
            raise DlmsError(f"SET failed: data-access-result {resp.result}", resp.result)

    def action(self, method: MethodRef, parameters: bytes | None = None) -> bytes:
        return self._seal(
            apdu.encode_apdu(ActionRequestNormal(self._next_invoke(), method, parameters))
        )

    def on_action_response(self, data: bytes) -> bytes | None:
        resp = self._decode(data)
        if not isinstance(resp, ActionResponseNormal):
            raise DlmsError(f"unexpected response {type(resp).__name__} to ACTION")
        if resp.result != 0:
            raise DlmsError(f"ACTION failed: action-result {resp.result}", resp.result)
        if isinstance(resp.return_data, int):
            raise DlmsError(f"ACTION data error {resp.return_data}", resp.return_data)
        return resp.return_data
