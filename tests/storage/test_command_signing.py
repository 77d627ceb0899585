"""The hub's command signing key: made 0600 in the data directory, refused when others can
read it, or taken from OPENAMI_COMMAND_SIGNING_KEY; a signature covers every field."""

from __future__ import annotations

import stat
from dataclasses import replace
from pathlib import Path

import pytest

from openami.storage.repositories.command_signing import (
    SIGNING_KEY_ENV,
    SIGNING_KEY_FILE,
    SignedCommand,
    SigningKeyError,
    load_signing_key,
)


def test_key_file_is_private_and_stable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    signer = load_signing_key(tmp_path)
    path = tmp_path / SIGNING_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_signing_key(tmp_path).public_key == signer.public_key
    path.chmod(0o644)
    with pytest.raises(SigningKeyError):
        load_signing_key(tmp_path)
    monkeypatch.setenv(SIGNING_KEY_ENV, "11" * 32)
    assert load_signing_key(tmp_path).public_key != signer.public_key
    monkeypatch.setenv(SIGNING_KEY_ENV, "not hex")
    with pytest.raises(SigningKeyError):
        load_signing_key(tmp_path)


def test_signature_covers_every_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    signer = load_signing_key(tmp_path)
    verifier = signer.verifier()
    command = signer.sign(SignedCommand(1, 7, 0, 100.0, "rq-1", ("ann", "bob"), 200.0))
    assert verifier.valid(command)
    for change in (
        {"kind": 2},
        {"meter_id": 8},
        {"argument": 40},
        {"effective_s": 101.0},
        {"request_id": "rq-2"},
        {"approvals": ("ann",)},
        {"expires_s": 1e12},
        {"signature": ""},
    ):
        assert not verifier.valid(replace(command, **change)), change  # type: ignore[arg-type]
