"""The ESPI id key in the registry's SQLite file (table ``espi_settings``).

The hub makes opaque UsagePoint ids as an HMAC of the supply point ID under a deployment
key; without a configured key, a random one is created once and kept here, so ids stay
stable across restarts. The key never leaves the hub: no API, log or page shows it.
"""

from __future__ import annotations

import secrets

from openami.storage.sqlite_registry import SqliteRegistryStore

SCHEMA = "CREATE TABLE IF NOT EXISTS espi_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
KEY_BYTES = 32


class EspiSettingsStore:
    def __init__(self, store: SqliteRegistryStore) -> None:
        self.store = store
        store.execute(SCHEMA)

    def id_key(self) -> bytes:
        """The stored id key, created (random, 32 bytes) on first use."""
        self.store.execute(
            "INSERT OR IGNORE INTO espi_settings (name, value) VALUES ('id_key', ?)",
            (secrets.token_hex(KEY_BYTES),),
        )
        rows = self.store.execute("SELECT value FROM espi_settings WHERE name = 'id_key'")
        return bytes.fromhex(str(rows[0][0]))
