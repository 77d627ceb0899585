"""Per-meter DLMS secrets, encrypted at rest under a master key kept outside the file.

One JSON file (0600, written atomically) holds, per meter id, the LLS password, the suite-0
encryption and authentication keys and the meter's master key (KEK, for key transfer), each
meter's record sealed with AES-256-GCM under the store's master key, the meter id bound as
additional data (a record copied to another meter does not open). Nothing in the file is
readable without the master key, which comes from the environment (``OPENAMI_MASTER_KEY``,
64 hex digits) or from a key file (32 raw bytes, 0600, never inside the store's file).

The meter emulator and the HES each have their own store (provisioning writes both with the
same secrets, as a meter factory hands a utility its meters' keys); a key change through the
Security Setup object writes the new keys to each side's store.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from openami.protocols.dlms.security import DeviceSecrets, Keys
from openami.storage.dlms_counters import write_private_atomically
from openami.storage.secrets import (
    KEY_BYTES,
    MASTER_KEY_ENV,
    SecretKeyError,
    create_key_file,
    load_key,
)

MASTER_KEY_BYTES = KEY_BYTES
FORMAT = "openami-dlms-keys/1"
_NONCE_BYTES = 12


class KeyStoreError(SecretKeyError):
    """The key store or its master key cannot be used (missing, wrong, damaged)."""


def load_master_key(key_file: Path | None = None) -> bytes:
    """The master key from ``OPENAMI_MASTER_KEY`` (64 hex digits), else from ``key_file``
    (the same key as :mod:`openami.storage.secrets` uses)."""
    try:
        key = load_key(MASTER_KEY_ENV, key_file)
    except SecretKeyError as exc:
        raise KeyStoreError(str(exc)) from exc
    if key is None and key_file is None:
        raise KeyStoreError(f"no master key: set {MASTER_KEY_ENV} or give a key file")
    if key is None:
        raise KeyStoreError(f"cannot read the master key file {key_file}: it does not exist")
    return key


def create_master_key_file(key_file: Path) -> bytes:
    """A new random master key written to ``key_file`` (0600); refuses to overwrite one."""
    try:
        return create_key_file(key_file)
    except SecretKeyError as exc:
        raise KeyStoreError(str(exc)) from exc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _hex_or_none(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _secrets_to_json(device: DeviceSecrets) -> bytes:
    keys = device.keys
    return json.dumps(
        {
            "password": _hex_or_none(device.password),
            "encryption_key": _hex_or_none(keys.encryption_key if keys else None),
            "authentication_key": _hex_or_none(keys.authentication_key if keys else None),
            "master_key": _hex_or_none(device.master_key),
        }
    ).encode()


def _secrets_from_json(raw: bytes) -> DeviceSecrets:
    record: dict[str, Any] = json.loads(raw)

    def value(name: str) -> bytes | None:
        text = record.get(name)
        return None if text is None else bytes.fromhex(text)

    ek, ak = value("encryption_key"), value("authentication_key")
    keys = Keys(ek, ak) if ek is not None and ak is not None else None
    return DeviceSecrets(value("password"), keys, value("master_key"))


def new_device_secrets() -> DeviceSecrets:
    """Fresh random secrets for one meter (password: 16 url-safe characters)."""
    return DeviceSecrets(
        secrets.token_urlsafe(12).encode("ascii"),
        Keys(secrets.token_bytes(16), secrets.token_bytes(16)),
        secrets.token_bytes(16),
    )


class DlmsKeyStore:
    """The encrypted per-meter secrets of one side (meter emulator or HES)."""

    def __init__(self, path: Path, master_key: bytes) -> None:
        if len(master_key) != MASTER_KEY_BYTES:
            raise KeyStoreError("the key store's master key has 32 bytes")
        self.path = Path(path)
        self._aead = AESGCM(master_key)
        self._sealed: dict[str, dict[str, str]] = {}
        self._cache: dict[int, DeviceSecrets] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        try:
            document = json.loads(self.path.read_bytes())
        except (OSError, ValueError) as exc:
            raise KeyStoreError(f"cannot read the key store {self.path}: {exc}") from exc
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise KeyStoreError(f"{self.path} is not an openami DLMS key store")
        meters = document.get("meters")
        if not isinstance(meters, dict):
            raise KeyStoreError(f"{self.path}: no meters")
        self._sealed = meters
        if meters:  # a wrong master key is told at once, not at the first association
            self.get(int(next(iter(meters))))

    @staticmethod
    def _aad(meter_id: int) -> bytes:
        return f"{FORMAT}/meter/{int(meter_id)}".encode()

    def meter_ids(self) -> list[int]:
        return sorted(int(m) for m in self._sealed)

    def get(self, meter_id: int) -> DeviceSecrets | None:
        """The secrets of ``meter_id``, or None when the store has none for it."""
        cached = self._cache.get(meter_id)
        if cached is not None:
            return cached
        record = self._sealed.get(str(int(meter_id)))
        if record is None:
            return None
        try:
            nonce = base64.b64decode(record["nonce"], validate=True)
            sealed = base64.b64decode(record["sealed"], validate=True)
            device = _secrets_from_json(self._aead.decrypt(nonce, sealed, self._aad(meter_id)))
        except InvalidTag:
            raise KeyStoreError(
                f"the master key does not open {self.path} (meter {meter_id}): wrong key "
                "or tampered record"
            ) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyStoreError(f"{self.path}: damaged record of meter {meter_id}") from exc
        self._cache[meter_id] = device
        return device

    def put(self, meter_id: int, device: DeviceSecrets) -> None:
        """Seal and save the secrets of ``meter_id`` (durable when this returns)."""
        self.put_many({meter_id: device})

    def put_many(self, devices: dict[int, DeviceSecrets]) -> None:
        sealed = dict(self._sealed)
        for meter_id, device in devices.items():
            nonce = secrets.token_bytes(_NONCE_BYTES)
            ct = self._aead.encrypt(nonce, _secrets_to_json(device), self._aad(meter_id))
            sealed[str(int(meter_id))] = {"nonce": _b64(nonce), "sealed": _b64(ct)}
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        document = {"format": FORMAT, "meters": sealed}
        write_private_atomically(self.path, json.dumps(document, indent=1).encode())
        self._sealed = sealed
        self._cache.update(devices)


__all__ = [
    "MASTER_KEY_ENV",
    "DlmsKeyStore",
    "KeyStoreError",
    "create_master_key_file",
    "load_master_key",
    "new_device_secrets",
]
