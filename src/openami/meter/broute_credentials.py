"""The B-route ID and password a smart meter holds, as the utility provisioned them.

A meter answers B-route joins (PANA on the Wi-SUN module) only with the pair it holds; the
utility writes that pair over the A route (HES command ``SET_BROUTE_CREDENTIALS``) and
clears it when the customer's service is revoked. Sparse: only provisioned meters have an
entry, so a fleet of millions costs nothing until customers apply.

The password is never read back in clear: the head-end confirms a write by the ID and a
**proof**, HMAC-SHA-256 keyed with the password over a fresh challenge
(:func:`password_proof`), which it compares with the proof of the password it sent.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

#: a B-route ID: 32 hex digits (SKSTACK's SKSETRBID takes exactly 32 characters)
RBID_PATTERN = re.compile(r"^[0-9A-F]{32}$")
PASSWORD_LENGTH = 12
_PROOF_LABEL = b"openami-broute-proof:"


@dataclass(frozen=True)
class BrouteCredentials:
    """One meter's B-route ID (32 upper-case hex digits) and password (12 characters)."""

    rbid: str
    password: str

    def __post_init__(self) -> None:
        if not RBID_PATTERN.match(self.rbid):
            raise ValueError("a B-route ID has 32 upper-case hex digits")
        if len(self.password) != PASSWORD_LENGTH or not self.password.isascii():
            raise ValueError(f"a B-route password has {PASSWORD_LENGTH} ASCII characters")

    def __repr__(self) -> str:  # never print the password
        return f"BrouteCredentials(rbid='…{self.rbid[-4:]}', password='****')"


def password_proof(password: str, challenge: bytes) -> bytes:
    """HMAC-SHA-256 of ``challenge`` keyed with the password: proves the password without
    revealing it."""
    return hmac.new(password.encode(), _PROOF_LABEL + challenge, hashlib.sha256).digest()


class MeterBrouteCredentials:
    """The pairs held by a fleet's meters, by position in the fleet."""

    def __init__(self) -> None:
        self._held: dict[int, BrouteCredentials] = {}

    def __len__(self) -> int:
        return len(self._held)

    def set(self, position: int, credentials: BrouteCredentials) -> None:
        self._held[int(position)] = credentials

    def clear(self, position: int) -> None:
        """The meter forgets its pair: no B-route join succeeds until a new one is written."""
        self._held.pop(int(position), None)

    def of(self, position: int) -> BrouteCredentials | None:
        """The pair the meter holds (for the meter's own radio), None when it has none."""
        return self._held.get(int(position))

    def rbid(self, position: int) -> str | None:
        """The read-back of the ID."""
        held = self._held.get(int(position))
        return None if held is None else held.rbid

    def proof(self, position: int, challenge: bytes) -> bytes | None:
        """The read-back of the password: its proof over ``challenge``, never the password."""
        held = self._held.get(int(position))
        return None if held is None else password_proof(held.password, challenge)
