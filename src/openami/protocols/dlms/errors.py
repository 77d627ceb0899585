"""One error root for DLMS/COSEM, split by who is at fault.

::

    DlmsError (.code)
    ├── LocalDlmsProtocolError    our side misused a machine (a GET before the association…)
    ├── RemoteDlmsProtocolError   the peer sent something illegal (wrong invoke-id or wPort,
    │                             a response in the wrong state, a replayed counter…);
    │                             ``.reply`` holds the answer the protocol gives, if any
    ├── DlmsServiceError          the peer answered legally with a failure (data-access-result,
    │   └── AssociationRefused    action-result, exception-response, a rejected AARQ)
    └── DlmsCodecError            bytes that do not decode (also a ValueError); the machines
                                  turn these into RemoteDlmsProtocolError for received bytes
"""

from __future__ import annotations


class DlmsError(Exception):
    """Every DLMS error. ``code`` is the protocol's number for it where there is one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class LocalDlmsProtocolError(DlmsError):
    """Our side asked a machine for something its state does not allow."""


class RemoteDlmsProtocolError(DlmsError):
    """The peer sent something illegal.

    ``reply`` is what the protocol answers (an exception-response or a rejecting AARE, ready for
    the wire) or None when there is nothing to answer; ``fatal`` says the byte stream cannot
    be trusted any more and the connection must close; ``security_event`` names a failure a
    meter keeps in its event log ("deciphering-error", "invocation-counter-replay").
    """

    def __init__(
        self,
        message: str,
        code: int | None = None,
        *,
        reply: bytes | None = None,
        fatal: bool = False,
        security_event: str | None = None,
    ) -> None:
        super().__init__(message, code)
        self.reply = reply
        self.fatal = fatal
        self.security_event = security_event


class DlmsServiceError(DlmsError):
    """The peer answered correctly, with a failure (``code``: its result code)."""


class AssociationRefused(DlmsServiceError):
    """The meter rejected the AARQ (wrong password/keys, unsupported mechanism…) or failed HLS."""


class DlmsCodecError(DlmsError, ValueError):
    """Bytes that are not a well-formed DLMS structure (A-XDR, APDU, ACSE, wrapper, glo)."""


__all__ = [
    "AssociationRefused",
    "DlmsCodecError",
    "DlmsError",
    "DlmsServiceError",
    "LocalDlmsProtocolError",
    "RemoteDlmsProtocolError",
]
