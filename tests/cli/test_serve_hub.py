"""`openami serve hub`: refused clearly before anything is opened when misused; a replica
over a store without the shared interval store is refused too."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from openami.cli.main import cli
from openami.settings import Settings, SettingsError
from openami.wiring_hub import open_hub_replica

ENV = {"OPENAMI_SHARED_VALUES_URI": None, "OPENAMI_REDIS_URL": None}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["serve", "hub", *args], env=ENV)
    return result.exit_code, result.output


def test_a_replica_needs_the_shared_values(tmp_path: Path) -> None:
    code, out = run("--data-dir", str(tmp_path / "d"))
    assert code == 2 and "--shared-values" in out
    assert not (tmp_path / "d").exists()  # nothing opened
    with pytest.raises(ValueError, match="shared interval store"):
        open_hub_replica(Settings(data_dir=tmp_path / "d"))
    assert not (tmp_path / "d").exists()


def test_at_least_one_worker(tmp_path: Path) -> None:
    code, out = run("--workers", "0", "--shared-values", str(tmp_path / "s"))
    assert code == 2 and "--workers: at least 1" in out, out


def test_redis_url_must_be_redis(tmp_path: Path) -> None:
    code, out = run("--shared-values", str(tmp_path / "s"), "--redis", "http://x")
    assert code == 1 and "redis_url must start with redis://" in out
    with pytest.raises(SettingsError):
        Settings(redis_url="127.0.0.1:6379")
    shown = Settings(redis_url="redis://user:pw@127.0.0.1:6379/0").shown()["redis_url"]
    assert "pw" not in shown  # a password in the URL is never shown
