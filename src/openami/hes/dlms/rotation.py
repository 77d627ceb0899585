"""Key rotation from the head-end: new suite-0 keys for one meter, sent by key transfer.

:func:`rotate_keys` associates with the meter's current keys (HLS, authenticated
encryption), sends fresh random encryption and authentication keys wrapped with the meter's
master key (Security Setup ``global_key_transfer``), then proves the change by associating
with the new keys, and only then saves them in the HES key store. Every step is logged as an
audit event (``dlms.key_rotation``: meter, outcome; never a key).

If the outcome is unknown (the connection broke after the request left), the new keys are
tried first, then the old ones: the store ends with whichever keys the meter answers to, so
a lost answer never locks the HES out of a meter.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Protocol

import structlog

from openami.hes.dlms.client import ClientCounterStore, DlmsClient
from openami.protocols.dlms.cosem import CLOCK_LN, AttributeRef, ClassId
from openami.protocols.dlms.errors import DlmsError, DlmsServiceError
from openami.protocols.dlms.security import DeviceSecrets, Keys

log = structlog.get_logger(__name__)

_SESSION_ERRORS = (DlmsError, ConnectionError, OSError, asyncio.TimeoutError)


class SecretStore(Protocol):
    """The HES's per-meter secrets (in practice :class:`openami.storage.dlms_keys.DlmsKeyStore`)."""

    def get(self, meter_id: int) -> DeviceSecrets | None: ...

    def put(self, meter_id: int, secrets: DeviceSecrets) -> None: ...


class KeyRotationError(RuntimeError):
    """The keys of a meter could not be rotated (the store keeps the keys that work)."""


@dataclass(frozen=True)
class MeterAddress:
    host: str
    port: int
    server_wport: int
    meter_id: int
    system_title: bytes = b"OPENAMI\x01"
    timeout_s: float = 10.0


async def _works(address: MeterAddress, keys: Keys, counters: ClientCounterStore | None) -> bool:
    try:
        async with await DlmsClient.connect(
            address.host,
            address.port,
            address.server_wport,
            keys=keys,
            system_title=address.system_title,
            timeout_s=address.timeout_s,
            counters=counters,
            counter_key=f"meter-{address.meter_id}",
        ) as client:
            await client.get(AttributeRef(ClassId.CLOCK, CLOCK_LN, 2))
    except _SESSION_ERRORS:
        return False
    return True


async def rotate_keys(
    address: MeterAddress,
    store: SecretStore,
    counters: ClientCounterStore | None = None,
    new_keys: Keys | None = None,
) -> Keys:
    """Rotate the meter's keys; the new keys (saved in ``store``) or KeyRotationError."""
    meter_id = address.meter_id
    current = store.get(meter_id)
    if current is None or current.keys is None or current.master_key is None:
        raise KeyRotationError(f"meter {meter_id}: no keys and master key in the key store")
    fresh = new_keys or Keys(secrets.token_bytes(16), secrets.token_bytes(16))
    log.info("dlms.key_rotation", meter_id=meter_id, step="start", audit=True)
    sent = False
    try:
        async with await DlmsClient.connect(
            address.host,
            address.port,
            address.server_wport,
            keys=current.keys,
            system_title=address.system_title,
            timeout_s=address.timeout_s,
            counters=counters,
            counter_key=f"meter-{meter_id}",
        ) as client:
            sent = True
            await client.transfer_keys(current.master_key, fresh)
    except DlmsServiceError as exc:  # the meter said no: nothing changed
        log.warning("dlms.key_rotation", meter_id=meter_id, step="refused", audit=True)
        raise KeyRotationError(f"meter {meter_id} refused the key transfer: {exc}") from exc
    except _SESSION_ERRORS as exc:
        if not sent:
            log.warning("dlms.key_rotation", meter_id=meter_id, step="unreachable", audit=True)
            raise KeyRotationError(f"meter {meter_id} unreachable: {exc}") from exc
    # prove the change before the store forgets the old keys
    if await _works(address, fresh, counters):
        store.put(meter_id, DeviceSecrets(current.password, fresh, current.master_key))
        log.info("dlms.key_rotation", meter_id=meter_id, step="done", audit=True)
        return fresh
    if await _works(address, current.keys, counters):
        log.warning("dlms.key_rotation", meter_id=meter_id, step="not-applied", audit=True)
        raise KeyRotationError(f"meter {meter_id} kept its old keys")
    log.error("dlms.key_rotation", meter_id=meter_id, step="unknown", audit=True)
    raise KeyRotationError(
        f"meter {meter_id} answers neither the old nor the new keys; the store keeps the old"
    )


__all__ = ["KeyRotationError", "MeterAddress", "SecretStore", "rotate_keys"]
