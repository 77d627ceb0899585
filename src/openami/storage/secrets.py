"""Keys kept outside the database, and secrets sealed at rest with them.

Three keys, each from the environment or from an owner-only file (0600) in the key
directory (the data directory by default), never from the database itself:

- the **master key** (``OPENAMI_MASTER_KEY``, 64 hex digits, or ``master.key``, 32 raw
  bytes): seals secrets stored in the database (webhook secrets, the ESPI id key) and the
  DLMS key stores (:mod:`openami.storage.dlms_keys`);
- the **audit key** (``OPENAMI_AUDIT_KEY`` or ``audit-hmac.key``): keys the audit chain
  (HMAC-SHA-256), so an entry cannot be forged or the chain re-hashed without it;
- the **audit signing key** (``OPENAMI_AUDIT_SIGNING_KEY``, the 32-byte Ed25519 seed in
  hex, or ``audit-signing.key``): signs the audit checkpoints; its public half is written
  next to it (``audit-signing.pub``) for whoever checks the log elsewhere.

A key missing from both places is created (random, 0600) when the caller may write, never
when it only checks. :func:`keys_for` finds the keys of a database: those of a key
directory given with :func:`use_key_dir` (``openami serve`` gives the data directory), else
those next to a SQLite file; a memory database gets random keys that live as long as it
does; a PostgreSQL database without a key directory uses the environment only.

:class:`SecretBox` seals short text values with AES-256-GCM under the master key, binding
what the value is (e.g. ``webhook-secret/<id>``) as additional data, so a sealed value
copied to another row does not open.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import stat
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from openami.storage.dlms_counters import write_private_atomically

if TYPE_CHECKING:
    from openami.storage.sql.database import Database

KEY_BYTES = 32
MASTER_KEY_ENV = "OPENAMI_MASTER_KEY"
AUDIT_KEY_ENV = "OPENAMI_AUDIT_KEY"
AUDIT_SIGNING_KEY_ENV = "OPENAMI_AUDIT_SIGNING_KEY"
MASTER_KEY_FILE = "master.key"
AUDIT_KEY_FILE = "audit-hmac.key"
AUDIT_SIGNING_KEY_FILE = "audit-signing.key"
AUDIT_PUBLIC_KEY_FILE = "audit-signing.pub"
#: signed checkpoints of the audit chain (JSON lines), kept with the keys
CHECKPOINT_FILE = "audit-checkpoints.jsonl"
SEALED_PREFIX = "openami-sealed:v1:"
_NONCE_BYTES = 12


class SecretKeyError(RuntimeError):
    """A key that cannot be used: missing, malformed, readable by others, or wrong."""


def key_from_env(env: str) -> bytes | None:
    """The key in environment variable ``env`` (64 hex digits), None when unset."""
    text = os.environ.get(env)
    if not text:
        return None
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise SecretKeyError(f"{env} must be 64 hex digits") from None
    if len(key) != KEY_BYTES:
        raise SecretKeyError(f"{env} must be 64 hex digits (32 bytes)")
    return key


def read_key_file(key_file: Path) -> bytes:
    """A 32-byte key from an owner-only file; refuses a file others may read."""
    try:
        mode = stat.S_IMODE(key_file.stat().st_mode)
        key = key_file.read_bytes()
    except OSError as exc:
        raise SecretKeyError(f"cannot read the key file {key_file}: {exc}") from exc
    if mode & 0o077:
        raise SecretKeyError(f"{key_file} is readable by others (mode {mode:o}); chmod 600 it")
    if len(key) != KEY_BYTES:
        raise SecretKeyError(f"{key_file} must hold exactly {KEY_BYTES} bytes")
    return key


def create_key_file(key_file: Path) -> bytes:
    """A new random key written to ``key_file`` (0600); refuses to overwrite one."""
    if key_file.exists():
        raise SecretKeyError(f"{key_file} exists; a key is never overwritten")
    key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    write_private_atomically(key_file, key)
    return key


def load_key(env: str, key_file: Path | None, create: bool = False) -> bytes | None:
    """The key from ``env``, else from ``key_file``; created there when missing and
    ``create``; None when there is none and it may not be created."""
    key = key_from_env(env)
    if key is not None:
        return key
    if key_file is None:
        return None
    if key_file.exists():
        return read_key_file(key_file)
    if not create:
        return None
    try:
        return create_key_file(key_file)
    except SecretKeyError:  # another process created it meanwhile
        return read_key_file(key_file)


def key_id(key: bytes) -> str:
    """A short public name of a key (not the key): the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(b"openami-key-id:" + key).hexdigest()[:16]


@dataclass
class KeyRing:
    """The keys of one database: loaded on first use, created when ``create``."""

    key_dir: Path | None
    create: bool = True
    _fixed: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _signing: Ed25519PrivateKey | None = None

    @classmethod
    def ephemeral(cls) -> KeyRing:
        """Random keys held in memory only (for a memory database)."""
        names = (MASTER_KEY_ENV, AUDIT_KEY_ENV, AUDIT_SIGNING_KEY_ENV)
        return cls(None, False, {n: secrets.token_bytes(KEY_BYTES) for n in names})

    def _key(self, env: str, file_name: str, create: bool | None = None) -> bytes | None:
        with self._lock:
            if env in self._fixed:
                return self._fixed[env]
            path = None if self.key_dir is None else self.key_dir / file_name
            may_create = self.create if create is None else create
            if may_create and path is not None and not path.exists():
                self._refuse_replacing(env, path)
            key = load_key(env, path, may_create)
            if key is not None:
                self._fixed[env] = key
            return key

    def _refuse_replacing(self, env: str, path: Path) -> None:
        """A missing audit key is not replaced by a new one once checkpoints were signed:
        the old entries and checkpoints would no longer verify."""
        checkpoints = self.checkpoint_file
        if env == MASTER_KEY_ENV or os.environ.get(env) or checkpoints is None:
            return
        if checkpoints.is_file() and checkpoints.stat().st_size > 0:
            raise SecretKeyError(
                f"{path} is missing but {checkpoints} holds signed checkpoints: restore the "
                f"key from its backup (or set {env}); a new key would break the chain"
            )

    def _required(self, env: str, file_name: str, what: str) -> bytes:
        key = self._key(env, file_name)
        if key is None:
            where = f" or {self.key_dir / file_name}" if self.key_dir is not None else ""
            raise SecretKeyError(f"no {what}: set {env}{where}")
        return key

    @property
    def master_key(self) -> bytes:
        return self._required(MASTER_KEY_ENV, MASTER_KEY_FILE, "master key")

    @property
    def audit_key(self) -> bytes | None:
        """The audit chain's HMAC key as found (never created here); None if there is none."""
        return self._key(AUDIT_KEY_ENV, AUDIT_KEY_FILE, create=False)

    def require_audit_key(self) -> bytes:
        """The audit key, created when missing and this ring may create keys."""
        return self._required(AUDIT_KEY_ENV, AUDIT_KEY_FILE, "audit key")

    def require_signing_key(self) -> Ed25519PrivateKey:
        """The checkpoints' signing key (created when missing and allowed); its public half
        is written next to it."""
        if self._signing is not None:
            return self._signing
        seed = self._required(AUDIT_SIGNING_KEY_ENV, AUDIT_SIGNING_KEY_FILE, "audit signing key")
        private = Ed25519PrivateKey.from_private_bytes(seed)
        self._write_public(private.public_key())
        self._signing = private
        return private

    @property
    def public_key(self) -> Ed25519PublicKey | None:
        """The checkpoints' public key: from the signing key, else ``audit-signing.pub``."""
        seed = self._key(AUDIT_SIGNING_KEY_ENV, AUDIT_SIGNING_KEY_FILE, create=False)
        if seed is not None:
            return Ed25519PrivateKey.from_private_bytes(seed).public_key()
        if self.key_dir is None:
            return None
        path = self.key_dir / AUDIT_PUBLIC_KEY_FILE
        try:
            return Ed25519PublicKey.from_public_bytes(bytes.fromhex(path.read_text().strip()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise SecretKeyError(f"{path} is not an Ed25519 public key: {exc}") from None

    def _write_public(self, public: Ed25519PublicKey) -> None:
        if self.key_dir is None or not self.create:
            return
        path = self.key_dir / AUDIT_PUBLIC_KEY_FILE
        text = public.public_bytes_raw().hex() + "\n"
        if not path.exists() or path.read_text() != text:
            write_private_atomically(path, text.encode())

    @property
    def signed_before(self) -> bool:
        """True when this key directory's signing key has signed (its public half is
        written with the first checkpoint)."""
        return self.key_dir is not None and (self.key_dir / AUDIT_PUBLIC_KEY_FILE).exists()

    @property
    def checkpoint_file(self) -> Path | None:
        return None if self.key_dir is None else self.key_dir / CHECKPOINT_FILE


_rings: weakref.WeakKeyDictionary[Database, KeyRing] = weakref.WeakKeyDictionary()
_rings_lock = threading.Lock()


def use_key_dir(database: Database, key_dir: Path, create: bool = True) -> KeyRing:
    """Keep the keys of ``database`` in ``key_dir`` (0700; files 0600)."""
    if create:
        key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    ring = KeyRing(Path(key_dir), create)
    with _rings_lock:
        _rings[database] = ring
    return ring


def keys_for(database: Database, create: bool = True) -> KeyRing:
    """The key ring of ``database`` (see the module doc for where its keys are)."""
    with _rings_lock:
        ring = _rings.get(database)
        if ring is None:
            if database.path is not None:
                ring = KeyRing(database.path.parent, create)
            elif database.dialect == "sqlite":  # memory: lives as long as the database
                ring = KeyRing.ephemeral()
            else:
                ring = KeyRing(None, False)
            _rings[database] = ring
        return ring


class SecretBox:
    """AES-256-GCM sealing of text values under the master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise SecretKeyError("the master key has 32 bytes")
        self._aead = AESGCM(master_key)

    @staticmethod
    def is_sealed(value: str) -> bool:
        return value.startswith(SEALED_PREFIX)

    def seal(self, value: str, what: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode(), what.encode())
        return SEALED_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, value: str, what: str) -> str:
        """The clear text of a sealed value (a value stored before sealing is returned as
        it is: such values are sealed on open, see the stores)."""
        if not self.is_sealed(value):
            return value
        try:
            raw = base64.b64decode(value[len(SEALED_PREFIX) :], validate=True)
            clear = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], what.encode())
        except InvalidTag:
            raise SecretKeyError(
                f"the master key does not open the stored {what}: wrong key or tampered value"
            ) from None
        except ValueError as exc:
            raise SecretKeyError(f"the stored {what} is damaged: {exc}") from None
        return clear.decode()


def secret_box(database: Database) -> SecretBox:
    """The sealing box of ``database``'s master key."""
    return SecretBox(keys_for(database).master_key)


__all__ = [
    "AUDIT_KEY_ENV",
    "AUDIT_SIGNING_KEY_ENV",
    "MASTER_KEY_ENV",
    "KeyRing",
    "SecretBox",
    "SecretKeyError",
    "create_key_file",
    "key_id",
    "keys_for",
    "load_key",
    "read_key_file",
    "secret_box",
    "use_key_dir",
]
