"""One error root for PANA and EAP-PSK.

::

    PanaError
    ├── PanaFormatError      bytes that are not a PANA message, AVP or EAP packet (ValueError)
    └── PanaProtocolError    a well-formed message that is wrong here: unexpected in the
                             state, wrong sequence number or session, a MAC, AUTH or
                             protected-channel tag that does not verify, a replayed frame
"""

from __future__ import annotations


class PanaError(Exception):
    """Every PANA / EAP-PSK error."""


class PanaFormatError(PanaError, ValueError):
    """Malformed bytes."""


class PanaProtocolError(PanaError):
    """A message that does not fit the exchange, or fails a cryptographic check."""


__all__ = ["PanaError", "PanaFormatError", "PanaProtocolError"]
