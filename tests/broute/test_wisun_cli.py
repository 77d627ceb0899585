"""`openami broute wisun` as a process, read by the HEMS client through its symlink."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from openami.cli.main import cli
from openami.hems import MeterClient
from openami.hems.skstack import JoinFailed, SkstackTransport

RBID = "00112233445566778899AABBCCDDEEFF"
PASSWORD = "0123456789AB"


def test_cli_module_serves_a_meter_and_cleans_up(tmp_path: Path) -> None:
    link = tmp_path / "ttyWISUN"
    env = {**os.environ, "OPENAMI_BROUTE_PASSWORD": PASSWORD}
    args = ["-m", "openami.cli.main", "broute", "wisun", "--link", str(link), "--rbid", RBID]
    proc = subprocess.Popen(
        [sys.executable, *args, "--dialect", "bp35a1", "--duration", "30", "--history-days", "3"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60  # the process's start, on a loaded machine
        while not link.is_symlink() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert link.is_symlink()
        transport = SkstackTransport(str(link), RBID, PASSWORD, drain_s=0.05).open()
        assert transport.dialect.value == "bp35a1"
        client = MeterClient(transport, timeout_s=2)
        reading = client.read_live()
        history = client.read_history(1)
        client.close()
        assert reading.power_w is not None and reading.import_kwh is not None
        assert reading.import_kwh > 0 and all(s.import_kwh is not None for s in history)
        with pytest.raises(JoinFailed):
            SkstackTransport(str(link), RBID, "BADPASSWORD0", drain_s=0.05, join_retries=1).open()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err.decode()
    assert not link.exists()
    text = out.decode() + err.decode()
    assert "virtual Wi-SUN module" in text and PASSWORD not in text


def test_cli_rejects_bad_credentials_shape(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["broute", "wisun", "--link", str(tmp_path / "x"), "--rbid", "short", "--password", "p"],
    )
    assert result.exit_code != 0 and "32" in result.output
    assert not (tmp_path / "x").exists()
    result = runner.invoke(cli, ["broute", "wisun", "--help"])
    assert result.exit_code == 0 and "--fail-sends" in result.output


def test_cli_refuses_to_replace_a_file_or_use_a_missing_directory(tmp_path: Path) -> None:
    runner = CliRunner()
    occupied = tmp_path / "occupied"
    occupied.write_text("keep me")
    base = ["broute", "wisun", "--rbid", RBID, "--password", PASSWORD, "--duration", "0"]
    result = runner.invoke(cli, [*base, "--link", str(occupied)])
    assert result.exit_code != 0 and "not a symlink" in result.output
    assert occupied.read_text() == "keep me"
    result = runner.invoke(cli, [*base, "--link", str(tmp_path / "missing" / "tty")])
    assert result.exit_code != 0 and "cannot create the module" in result.output
