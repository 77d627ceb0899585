"""Issue #15 §2.4: per-meter DLMS secrets in a key store encrypted at rest."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from openami.protocols.dlms.security import DeviceSecrets, Keys
from openami.storage.dlms_keys import (
    MASTER_KEY_ENV,
    DlmsKeyStore,
    KeyStoreError,
    create_master_key_file,
    load_master_key,
    new_device_secrets,
)

MASTER = bytes(range(32))  # test fixture secret


def test_secrets_are_per_meter_and_never_in_clear(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "dlms-meter-keys.json"
    store = DlmsKeyStore(path, MASTER)
    one, two = new_device_secrets(), new_device_secrets()
    store.put_many({1001: one, 1002: two})
    assert one.keys != two.keys and one.password != two.password
    assert one.master_key != two.master_key
    raw = path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for device in (one, two):
        assert device.keys is not None and device.password is not None
        for secret in (device.keys.encryption_key, device.keys.authentication_key):
            assert secret.hex().encode() not in raw and secret not in raw
        assert device.password not in raw
    again = DlmsKeyStore(path, MASTER)
    assert again.get(1001) == one and again.get(1002) == two and again.get(1003) is None
    assert again.meter_ids() == [1001, 1002]
    assert "hidden" in repr(one) and one.keys.encryption_key.hex() not in repr(one)


def test_a_wrong_master_key_or_a_moved_record_does_not_open(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    DlmsKeyStore(path, MASTER).put_many({1: new_device_secrets(), 2: new_device_secrets()})
    with pytest.raises(KeyStoreError, match="does not open"):
        DlmsKeyStore(path, bytes(32))
    document = json.loads(path.read_text())
    document["meters"]["1"], document["meters"]["2"] = (
        document["meters"]["2"],
        document["meters"]["1"],
    )
    path.write_text(json.dumps(document))
    with pytest.raises(KeyStoreError):
        DlmsKeyStore(path, MASTER).get(2)
    path.write_text("{")
    with pytest.raises(KeyStoreError, match="cannot read"):
        DlmsKeyStore(path, MASTER)


def test_master_key_from_environment_or_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MASTER_KEY_ENV, raising=False)
    with pytest.raises(KeyStoreError, match=MASTER_KEY_ENV):
        load_master_key(None)
    key_file = tmp_path / "master.key"
    created = create_master_key_file(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_master_key(key_file) == created
    with pytest.raises(KeyStoreError, match="never overwritten"):
        create_master_key_file(key_file)
    key_file.chmod(0o644)
    with pytest.raises(KeyStoreError, match="readable by others"):
        load_master_key(key_file)
    monkeypatch.setenv(MASTER_KEY_ENV, MASTER.hex())
    assert load_master_key(key_file) == MASTER  # the environment wins
    monkeypatch.setenv(MASTER_KEY_ENV, "abc")
    with pytest.raises(KeyStoreError, match="64 hex"):
        load_master_key(None)


def test_only_given_secrets_are_kept(tmp_path: Path) -> None:
    store = DlmsKeyStore(tmp_path / "k.json", MASTER)
    keys_only = DeviceSecrets(None, Keys(bytes(16), bytes(range(16))), None)
    store.put(7, keys_only)
    assert DlmsKeyStore(tmp_path / "k.json", MASTER).get(7) == keys_only
