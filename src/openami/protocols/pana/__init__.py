"""PANA (RFC 5191) with EAP-PSK (RFC 4764) and the link protection after it, sans I/O.

:class:`PanaClient` (the HEMS's module) and :class:`PanaAgent` (the meter) exchange bytes;
:func:`authenticate` runs them in memory. :func:`psk_from_password` is openami's own
mapping of a B-route password to the 16-byte PSK (the real one is not public: see
docs/protocols.md, "PANA on the B route"). :class:`LinkSecurity` protects datagrams after
the session is up.
"""

import hashlib

from openami.protocols.pana.eap_psk import EapPskPeer, EapPskServer, derive_keys, key_setup
from openami.protocols.pana.errors import PanaError, PanaFormatError, PanaProtocolError
from openami.protocols.pana.link import LinkSecurity, link_key
from openami.protocols.pana.message import PANA_PORT, PanaMessage, decode
from openami.protocols.pana.session import (
    PanaAgent,
    PanaClient,
    PanaResult,
    authenticate,
    terminate,
)

PSK_LABEL = b"openami B-route PSK v1:"


def psk_from_password(password: str) -> bytes:
    """openami's 16-byte EAP-PSK PSK of a B-route password (not a real module's)."""
    return hashlib.sha256(PSK_LABEL + password.encode()).digest()[:16]


__all__ = [
    "PANA_PORT",
    "EapPskPeer",
    "EapPskServer",
    "LinkSecurity",
    "PanaAgent",
    "PanaClient",
    "PanaError",
    "PanaFormatError",
    "PanaMessage",
    "PanaProtocolError",
    "PanaResult",
    "authenticate",
    "decode",
    "derive_keys",
    "key_setup",
    "link_key",
    "psk_from_password",
    "terminate",
]
