"""Issue #15 §4: webhook secrets and the ESPI id key are sealed at rest under a master key
kept outside the database; values stored in clear by earlier versions are sealed on open."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from openami.storage.repositories import Database, open_in_data_dir
from openami.storage.repositories.settings import SettingsStore
from openami.storage.repositories.webhooks import Subscription, WebhookStore
from openami.storage.secrets import (
    MASTER_KEY_ENV,
    MASTER_KEY_FILE,
    SEALED_PREFIX,
    SecretKeyError,
    keys_for,
)
from openami.storage.sql import tables as t

CLEAR_SECRET = "whsec-very-secret-0123456789"
CLEAR_ID_KEY = "ab" * 32


def _stored(database: Database, sql: str) -> list[str]:
    with database.read() as connection:
        return [str(r[0]) for r in connection.execute(sa.text(sql))]


def test_webhook_secrets_and_the_espi_id_key_are_not_stored_in_clear(database: Database) -> None:
    webhooks = WebhookStore(database)
    webhooks.add_subscription(Subscription("sub-1", "c1", "https://r.example/h", CLEAR_SECRET, 1.0))
    settings = SettingsStore(database)
    assert settings.get_or_set("espi_id_key", CLEAR_ID_KEY) == CLEAR_ID_KEY
    stored_secret = _stored(database, "SELECT secret FROM webhook_subscriptions")[0]
    stored_key = _stored(database, "SELECT value FROM settings WHERE name = 'espi_id_key'")[0]
    assert CLEAR_SECRET not in stored_secret and stored_secret.startswith(SEALED_PREFIX)
    assert CLEAR_ID_KEY not in stored_key and stored_key.startswith(SEALED_PREFIX)
    # the stores hand the clear values to the hub, which signs and derives ids with them
    assert webhooks.subscription("sub-1").secret == CLEAR_SECRET  # type: ignore[union-attr]
    assert WebhookStore(database).subscriptions("c1")[0].secret == CLEAR_SECRET
    assert SettingsStore(database).get("espi_id_key") == CLEAR_ID_KEY
    # a sealed value copied to another row does not open there
    with database.write() as connection:
        connection.execute(
            t.webhook_subscriptions.insert().values(
                subscription_id="sub-2",
                client_id="c1",
                callback_url="https://x/h",
                secret=stored_secret,
                created_at=2.0,
                active=True,
                format="json",
            )
        )
    with pytest.raises(SecretKeyError, match="wrong key or tampered"):
        webhooks.subscription("sub-2")


def test_clear_values_of_an_earlier_version_are_sealed_on_open(database: Database) -> None:
    with database.write() as connection:  # as an earlier version stored them
        connection.execute(
            t.webhook_subscriptions.insert().values(
                subscription_id="old",
                client_id="c1",
                callback_url="https://r.example/h",
                secret=CLEAR_SECRET,
                created_at=1.0,
                active=True,
                format="json",
            )
        )
        connection.execute(t.settings.insert().values(name="espi_id_key", value=CLEAR_ID_KEY))
        connection.execute(t.settings.insert().values(name="not_secret", value="plain"))
    webhooks, settings = WebhookStore(database), SettingsStore(database)
    assert _stored(database, "SELECT secret FROM webhook_subscriptions")[0].startswith(
        SEALED_PREFIX
    )
    assert _stored(database, "SELECT value FROM settings WHERE name = 'espi_id_key'")[0].startswith(
        SEALED_PREFIX
    )
    assert _stored(database, "SELECT value FROM settings WHERE name = 'not_secret'") == ["plain"]
    assert webhooks.subscription("old").secret == CLEAR_SECRET  # type: ignore[union-attr]
    assert settings.get("espi_id_key") == CLEAR_ID_KEY and settings.get("not_secret") == "plain"


def test_the_master_key_is_an_owner_only_file_outside_the_database(tmp_path: Path) -> None:
    database = open_in_data_dir(tmp_path)
    SettingsStore(database).get_or_set("espi_id_key", CLEAR_ID_KEY)
    database.close()
    key_file = tmp_path / MASTER_KEY_FILE
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert key_file.read_bytes() not in (tmp_path / "registry.sqlite").read_bytes()
    assert CLEAR_ID_KEY.encode() not in (tmp_path / "registry.sqlite").read_bytes()
    # without its master key nothing opens: a clear error, never a guess
    key_file.rename(tmp_path / "elsewhere.key")
    (tmp_path / MASTER_KEY_FILE).write_bytes(os.urandom(32))
    (tmp_path / MASTER_KEY_FILE).chmod(0o600)
    database = open_in_data_dir(tmp_path)
    with pytest.raises(SecretKeyError, match="does not open"):
        SettingsStore(database).get("espi_id_key")
    database.close()


def test_the_master_key_may_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MASTER_KEY_ENV, "cd" * 32)
    database = open_in_data_dir(tmp_path)
    assert keys_for(database).master_key == bytes.fromhex("cd" * 32)
    SettingsStore(database).get_or_set("espi_id_key", CLEAR_ID_KEY)
    database.close()
    assert not (tmp_path / MASTER_KEY_FILE).exists()
    monkeypatch.setenv(MASTER_KEY_ENV, "not hex")
    database = open_in_data_dir(tmp_path)
    with pytest.raises(SecretKeyError, match="64 hex"):
        SettingsStore(database).get("espi_id_key")
    database.close()
