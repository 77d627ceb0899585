"""Typed events of the DLMS association machines (see :mod:`openami.protocols.peer`).

Client side (:class:`~.client_session.ClientAssociation`):

- sent: :class:`Associate`, :class:`AnswerChallenge`, :class:`Get`, :class:`GetList`,
  :class:`GetNextBlock`, :class:`Set`, :class:`Action`, :class:`Release`;
- received: :class:`Associated`, :class:`ChallengeReceived`, :class:`AssociationRejected`,
  :class:`Value`, :class:`ValueList`, :class:`BlockReceived`, :class:`Written`,
  :class:`ActionDone`, :class:`ServiceFailed`, :class:`Released`.

Server side (:class:`~.server_session.ServerAssociation`): every received request is answered
by exactly one ``send``:

=========================== ==========================================
received                    answered with
=========================== ==========================================
:class:`AssociationRequest` :class:`AssociationResponse`
:class:`ChallengeAnswer`    :class:`ChallengeResult`
:class:`ReleaseRequest`     :class:`ReleaseResponse`
:class:`NextBlockRequest`   :class:`NextBlockResponse`
:class:`GetRequest`         :class:`GetResponse`
:class:`GetListRequest`     :class:`GetListResponse`
:class:`SetRequest`         :class:`SetResponse`
:class:`ActionRequest`      :class:`ActionResponse`
=========================== ==========================================

The first four are the association's own business: the machine has already decided the
answer, so :func:`protocol_response` gives it. Any pending request may instead be answered
with an :class:`~.apdu.ExceptionResponse`.
"""

from __future__ import annotations

from dataclasses import dataclass

from openami.protocols.dlms.acse import AcseDiagnostic, Mechanism
from openami.protocols.dlms.apdu import SelectiveAccess
from openami.protocols.dlms.cosem import AttributeRef, MethodRef


# -- client: sent ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Associate:
    """Send the AARQ (mechanism, secrets and system title come from the machine)."""


@dataclass(frozen=True, slots=True)
class AnswerChallenge:
    """Answer the meter's HLS-GMAC challenge (ACTION Association LN method 1)."""


@dataclass(frozen=True, slots=True)
class Get:
    attribute: AttributeRef
    access: SelectiveAccess | None = None


@dataclass(frozen=True, slots=True)
class GetList:
    items: tuple[tuple[AttributeRef, SelectiveAccess | None], ...]


@dataclass(frozen=True, slots=True)
class GetNextBlock:
    """Ask for the next block of a long GET after :class:`BlockReceived`."""


@dataclass(frozen=True, slots=True)
class Set:
    attribute: AttributeRef
    value: bytes  # encoded Data
    access: SelectiveAccess | None = None


@dataclass(frozen=True, slots=True)
class Action:
    method: MethodRef
    parameters: bytes | None = None  # encoded Data


@dataclass(frozen=True, slots=True)
class Release:
    """Send the RLRQ."""


ClientRequest = Associate | AnswerChallenge | Get | GetList | GetNextBlock | Set | Action | Release


# -- client: received -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Associated:
    conformance: int
    server_max_pdu: int


@dataclass(frozen=True, slots=True)
class ChallengeReceived:
    """The AARE accepted HLS-GMAC: send :class:`AnswerChallenge` next."""


@dataclass(frozen=True, slots=True)
class AssociationRejected:
    """The meter refused the AARQ or our challenge answer (``diagnostic``: its reason code)."""

    diagnostic: int
    reason: str


@dataclass(frozen=True, slots=True)
class Value:
    """Encoded ``Data`` of a GET (every block joined)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class ListItemError:
    """One failed entry of a GET-with-list (a data-access-result)."""

    code: int


@dataclass(frozen=True, slots=True)
class ValueList:
    items: tuple[bytes | ListItemError, ...]


@dataclass(frozen=True, slots=True)
class BlockReceived:
    """A block of a long GET arrived: send :class:`GetNextBlock` for the next one."""

    block_number: int


@dataclass(frozen=True, slots=True)
class Written:
    """The SET succeeded."""


@dataclass(frozen=True, slots=True)
class ActionDone:
    return_data: bytes | None  # encoded Data


@dataclass(frozen=True, slots=True)
class ServiceFailed:
    """The meter answered the request with a failure: a data-access-result, an action-result
    or an exception-response (``code``: that number)."""

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Released:
    """The RLRE arrived: the association is over."""


ClientEvent = (
    Associated
    | ChallengeReceived
    | AssociationRejected
    | Value
    | ValueList
    | BlockReceived
    | Written
    | ActionDone
    | ServiceFailed
    | Released
)


# -- server: received -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AssociationRequest:
    """An AARQ, already checked: ``refusal`` is None when it will be accepted.

    ``security_event`` names a failure worth an entry in the meter's event log.
    """

    mechanism: Mechanism
    client_title: bytes
    refusal: AcseDiagnostic | None
    security_event: str | None = None


@dataclass(frozen=True, slots=True)
class ChallengeAnswer:
    """The client's answer to our HLS challenge, already checked (``valid``); ``locked``:
    refused unread because the client is locked out after failed associations."""

    invoke_id: int
    valid: bool
    security_event: str | None = None
    locked: bool = False


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    """An RLRQ."""


@dataclass(frozen=True, slots=True)
class NextBlockRequest:
    invoke_id: int
    block_number: int


@dataclass(frozen=True, slots=True)
class GetRequest:
    invoke_id: int
    attribute: AttributeRef
    access: SelectiveAccess | None


@dataclass(frozen=True, slots=True)
class GetListRequest:
    invoke_id: int
    items: tuple[tuple[AttributeRef, SelectiveAccess | None], ...]


@dataclass(frozen=True, slots=True)
class SetRequest:
    """``permitted`` is False when this association may not write (answer read-write-denied)."""

    invoke_id: int
    attribute: AttributeRef
    value: bytes
    access: SelectiveAccess | None
    permitted: bool


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """``permitted`` is False when this association may not act (answer read-write-denied)."""

    invoke_id: int
    method: MethodRef
    parameters: bytes | None
    permitted: bool


ServerEvent = (
    AssociationRequest
    | ChallengeAnswer
    | ReleaseRequest
    | NextBlockRequest
    | GetRequest
    | GetListRequest
    | SetRequest
    | ActionRequest
)


# -- server: sent ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AssociationResponse:
    """The AARE for the pending :class:`AssociationRequest` (accepted unless it was refused)."""


@dataclass(frozen=True, slots=True)
class ChallengeResult:
    """The answer to a :class:`ChallengeAnswer` (our own GMAC when it was valid)."""


@dataclass(frozen=True, slots=True)
class ReleaseResponse:
    """The RLRE."""


@dataclass(frozen=True, slots=True)
class NextBlockResponse:
    """The next block of the long GET in progress (or the error the request deserves)."""


@dataclass(frozen=True, slots=True)
class GetResponse:
    """Encoded ``Data`` or a data-access-result; sent in blocks when it is too long."""

    result: bytes | int


@dataclass(frozen=True, slots=True)
class GetListResponse:
    results: tuple[bytes | int, ...]


@dataclass(frozen=True, slots=True)
class SetResponse:
    result: int


@dataclass(frozen=True, slots=True)
class ActionResponse:
    result: int
    return_data: bytes | None = None


ProtocolRequest = AssociationRequest | ChallengeAnswer | ReleaseRequest | NextBlockRequest
ServiceRequest = GetRequest | GetListRequest | SetRequest | ActionRequest


def protocol_response(
    request: ServerEvent,
) -> AssociationResponse | ChallengeResult | ReleaseResponse | NextBlockResponse | None:
    """The answer to a request the association handles itself; None for COSEM services."""
    if isinstance(request, AssociationRequest):
        return AssociationResponse()
    if isinstance(request, ChallengeAnswer):
        return ChallengeResult()
    if isinstance(request, ReleaseRequest):
        return ReleaseResponse()
    if isinstance(request, NextBlockRequest):
        return NextBlockResponse()
    return None
