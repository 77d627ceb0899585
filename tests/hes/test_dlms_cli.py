"""`openami dlms serve` as a real process and `openami dlms read` against it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from openami.cli.dlms import command


@pytest.fixture
def served() -> Iterator[int]:
    env = dict(os.environ, COLUMNS="200")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "openami.cli.main",
            "dlms",
            "serve",
            "--port",
            "0",
            "--meters",
            "20",
            "--history-days",
            "2",
            "--demo-secrets",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        seen = ""
        deadline = time.monotonic() + 30
        port = None
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
            match = re.search(r"on 127\.0\.0\.1:(\d+)", line)
            if match:
                port = int(match.group(1))
        assert port is not None, seen
        assert "DEMO secrets" in seen  # demo keys are announced, never silent
        yield port
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_read_prints_a_table_with_each_security_level(served: int) -> None:
    runner = CliRunner()
    for extra in (["--demo-secrets"], ["--password", "openami-demo"], []):
        result = runner.invoke(command, ["read", "--port", str(served), "--meter", "3", *extra])
        assert result.exit_code == 0, result.output
        assert "import register 1.0.1.8.0.255" in result.output
        assert "connected" in result.output
        assert re.search(r"\d+ A", result.output)
        assert result.output.count(":30 ") + result.output.count(":00 ") >= 48
    refused = runner.invoke(
        command, ["read", "--port", str(served), "--password", "not-the-password"]
    )
    assert refused.exit_code != 0 and "refused" in refused.output
