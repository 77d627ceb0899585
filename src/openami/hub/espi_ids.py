"""Opaque ESPI resource ids: a UsagePoint id never contains the 22-digit supply point ID.

A UsagePoint id is an HMAC-SHA256 of the supply point ID under a deployment key
(``HubContext.espi_id_key``, else the ``OPENAMI_ESPI_ID_KEY`` environment variable (hex),
else a random key kept in the registry database), shaped as a UUID. The index from ids
back to supply points is built from the registry service and kept in the app's state.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Any

from openami.hub.context import HubContext
from openami.protocols.espi import jp
from openami.storage.repositories.settings import SettingsStore

MIN_KEY_BYTES = 16
KEY_BYTES = 32  # a generated key's length


@dataclass
class UsagePointIndex:
    key: bytes
    by_uuid: dict[str, tuple[int, str]]  # usage point id -> (supply_point_key, supply point ID)
    by_key: dict[int, str]  # supply_point_key -> usage point id
    count: int  # supply points when it was built

    def usage_point_id(self, supply_point_key: int, supply_point_id: str) -> str:
        cached = self.by_key.get(supply_point_key)
        if cached is not None:
            return cached
        return usage_point_id(self.key, supply_point_id)


def usage_point_id(id_key: bytes, supply_point_id: str) -> str:
    return str(jp.opaque_uuid(id_key, "UsagePoint", supply_point_id))


def id_key(context: HubContext) -> bytes:
    """The deployment key of opaque ids (see the module doc for where it comes from)."""
    if context.espi_id_key is not None:
        return context.espi_id_key
    env = os.environ.get("OPENAMI_ESPI_ID_KEY")
    if env:
        try:
            key = bytes.fromhex(env)
        except ValueError:
            raise RuntimeError("OPENAMI_ESPI_ID_KEY must be hex") from None
        if len(key) < MIN_KEY_BYTES:
            raise RuntimeError(f"OPENAMI_ESPI_ID_KEY must hold at least {MIN_KEY_BYTES} bytes")
        return key
    settings = SettingsStore(context.clients.database)
    return bytes.fromhex(settings.get_or_set("espi_id_key", secrets.token_hex(KEY_BYTES)))


def usage_point_index(state: Any, context: HubContext, refresh: bool = False) -> UsagePointIndex:
    """The index kept in the app's ``state``: built on first use, rebuilt on ``refresh``
    when supply points were added since."""
    index: UsagePointIndex | None = getattr(state, "espi_index", None)
    if index is not None and not refresh:
        return index
    points = context.registry.supply_points_table()
    if index is not None and points.num_rows == index.count:
        return index
    key = index.key if index is not None else id_key(context)
    ids = context.registry.supply_point_id_map(points.column("supply_point_key").to_pylist())
    by_uuid = {usage_point_id(key, sp): (k, sp) for k, sp in ids.items()}
    by_key = {k: up for up, (k, _) in by_uuid.items()}
    index = UsagePointIndex(key, by_uuid, by_key, points.num_rows)
    state.espi_index = index
    return index
