"""Ed25519 signatures that tie a remote switching command to the request it serves.

The hub signs every remote switching command it sends (disconnect, reconnect, amperage
setting) over a canonical text of: command kind, meter id, argument, the instant it takes
effect, the request id, the operators who approved it, and an expiry. The HES verifies the
signature with the hub's public key before it queues the command, and refuses an unsigned,
altered or expired one (see :mod:`openami.hes.switch_guard`).

The private key (32 raw bytes, the Ed25519 seed) comes from ``OPENAMI_COMMAND_SIGNING_KEY``
(64 hex digits) or from a key file (0600, refused when others can read it), made on first
use in the data directory. Only this storage module opens the key file.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from openami.storage.dlms_counters import write_private_atomically

SIGNING_KEY_ENV = "OPENAMI_COMMAND_SIGNING_KEY"
SIGNING_KEY_FILE = "command-signing.key"
_SEED_BYTES = 32
_FORMAT = "openami-command/1"


class SigningKeyError(RuntimeError):
    """The command signing key cannot be used (missing, malformed, readable by others)."""


@dataclass(frozen=True)
class SignedCommand:
    """A remote switching command as the hub authorised it; ``signature`` is hex."""

    kind: int
    meter_id: int
    argument: int
    effective_s: float
    request_id: str
    approvals: tuple[str, ...]
    expires_s: float
    signature: str = ""

    def payload(self) -> bytes:
        """The canonical bytes that are signed (every field but the signature)."""
        for text in (self.request_id, *self.approvals):
            if "\n" in text or "|" in text:
                raise ValueError("request ids and operator names have no '|' or newline")
        fields = (
            _FORMAT,
            str(int(self.kind)),
            str(int(self.meter_id)),
            str(int(self.argument)),
            repr(float(self.effective_s)),
            self.request_id,
            ",".join(sorted(self.approvals)),
            repr(float(self.expires_s)),
        )
        return "|".join(fields).encode()


class CommandSigner:
    """Signs commands with the hub's private key."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != _SEED_BYTES:
            raise SigningKeyError(f"an Ed25519 signing key is {_SEED_BYTES} bytes")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)

    def sign(self, command: SignedCommand) -> SignedCommand:
        return replace(command, signature=self._key.sign(command.payload()).hex())

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte public key the HES verifies with."""
        return self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def verifier(self) -> CommandVerifier:
        return CommandVerifier(self.public_key)


class CommandVerifier:
    """Checks signatures with the hub's public key."""

    def __init__(self, public_key: bytes) -> None:
        self._key = Ed25519PublicKey.from_public_bytes(public_key)

    def valid(self, command: SignedCommand) -> bool:
        try:
            signature = bytes.fromhex(command.signature)
            self._key.verify(signature, command.payload())
        except (ValueError, InvalidSignature):
            return False
        return True


def load_signing_key(data_dir: Path) -> CommandSigner:
    """The hub's signer: from ``OPENAMI_COMMAND_SIGNING_KEY``, else the key file in
    ``data_dir`` (created 0600 with a new random key when there is none)."""
    text = os.environ.get(SIGNING_KEY_ENV)
    if text:
        try:
            seed = bytes.fromhex(text.strip())
        except ValueError:
            raise SigningKeyError(f"{SIGNING_KEY_ENV} must be 64 hex digits") from None
        if len(seed) != _SEED_BYTES:
            raise SigningKeyError(f"{SIGNING_KEY_ENV} must be 64 hex digits (32 bytes)")
        return CommandSigner(seed)
    path = data_dir / SIGNING_KEY_FILE
    if not path.exists():
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private_atomically(path, os.urandom(_SEED_BYTES))
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        seed = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"cannot read the command signing key {path}: {exc}") from exc
    if mode & 0o077:
        raise SigningKeyError(f"{path} is readable by others (mode {mode:o}); chmod 600 it")
    if len(seed) != _SEED_BYTES:
        raise SigningKeyError(f"{path} must hold exactly {_SEED_BYTES} bytes")
    return CommandSigner(seed)
