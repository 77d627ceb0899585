"""Per-meter secrets and their change over the air: the Security Setup object (class 64).

Each emulated meter has its own :class:`~openami.protocols.dlms.security.DeviceSecrets`
(password, suite-0 keys, master key) from a :class:`Keyring` (in practice the encrypted key
store :class:`openami.storage.dlms_keys.DlmsKeyStore`, wired by the CLI), or, for demos and
tests only, one set shared by every meter.

Security Setup 0.0.43.0.0.255 (version 0): attribute 2 security_policy (3: every message
authenticated and encrypted), 3 security_suite (0), 4 client_system_title (of this
association), 5 server_system_title; method 2 global_key_transfer: an array of
``{key_id, key_wrapped}``, keys wrapped with the meter's master key (AES key wrap). Only an
HLS association may call it; the new keys are saved in the keyring first, then used from the
next association on (the current one finishes under the keys that opened it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import structlog

from openami.protocols.dlms import axdr
from openami.protocols.dlms.cosem import ActionResult, DataAccessResult
from openami.protocols.dlms.security import (
    KEY_ID_AUTHENTICATION,
    KEY_ID_ENCRYPTION,
    KEY_ID_MASTER,
    DeviceSecrets,
    Keys,
    SecurityError,
    decode_key_transfer,
)
from openami.protocols.dlms.server_session import ServerAssociation

log = structlog.get_logger(__name__)

SECURITY_POLICY_AUTHENTICATED_ENCRYPTED = 3
METHOD_SECURITY_ACTIVATE = 1
METHOD_KEY_TRANSFER = 2


class Keyring(Protocol):
    """Per-meter secrets, kept somewhere safe (``put`` must be durable when it returns)."""

    def get(self, meter_id: int) -> DeviceSecrets | None: ...

    def put(self, meter_id: int, secrets: DeviceSecrets) -> None: ...


class SharedSecrets:
    """One set of secrets for every meter: demos and tests only (key changes stay in memory,
    per meter)."""

    def __init__(self, secrets: DeviceSecrets) -> None:
        self.secrets = secrets
        self.changed: dict[int, DeviceSecrets] = {}

    def get(self, meter_id: int) -> DeviceSecrets | None:
        return self.changed.get(meter_id, self.secrets)

    def put(self, meter_id: int, secrets: DeviceSecrets) -> None:
        self.changed[meter_id] = secrets


def security_setup_attribute(
    ctx: ServerAssociation, attribute_id: int, server_title: bytes
) -> bytes:
    if attribute_id == 2:
        return axdr.enum(SECURITY_POLICY_AUTHENTICATED_ENCRYPTED)
    if attribute_id == 3:
        return axdr.enum(0)
    if attribute_id == 4:
        return axdr.octet_string(ctx.client_title)
    return axdr.octet_string(server_title)


def key_transfer(
    keyring: Keyring,
    meter_id: int,
    method_id: int,
    parameters: bytes | None,
    on_changed: Callable[[], None],
) -> int:
    """Serve a Security Setup method; the action result."""
    if method_id == METHOD_SECURITY_ACTIVATE:
        return ActionResult.SUCCESS  # suite 0, policy 3 is the only one: nothing to change
    current = keyring.get(meter_id)
    if current is None or current.master_key is None or current.keys is None:
        return ActionResult.OTHER_REASON  # no master key: keys cannot be transferred
    try:
        new = decode_key_transfer(current.master_key, parameters or b"")
    except SecurityError as exc:
        log.warning("dlms.key_transfer_refused", meter_id=meter_id, reason=str(exc))
        return DataAccessResult.TYPE_UNMATCHED
    if set(new) - {KEY_ID_ENCRYPTION, KEY_ID_AUTHENTICATION, KEY_ID_MASTER}:
        return ActionResult.OTHER_REASON  # no broadcast key in openami's meters
    keys = Keys(
        new.get(KEY_ID_ENCRYPTION, current.keys.encryption_key),
        new.get(KEY_ID_AUTHENTICATION, current.keys.authentication_key),
    )
    updated = DeviceSecrets(current.password, keys, new.get(KEY_ID_MASTER, current.master_key))
    keyring.put(meter_id, updated)  # durable before the meter says yes
    on_changed()
    log.info("dlms.keys_changed", meter_id=meter_id, key_ids=sorted(new))
    return ActionResult.SUCCESS


__all__ = [
    "Keyring",
    "SharedSecrets",
    "key_transfer",
    "security_setup_attribute",
]
