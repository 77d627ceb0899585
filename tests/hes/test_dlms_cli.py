"""`openami dlms serve` as a real process and `openami dlms read` against it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner

from openami.cli.dlms import command


@contextmanager
def serving(*extra: str, data_dir: Path) -> Iterator[int]:
    """`openami dlms serve` on a free port with ``extra`` options: its port."""
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
            "--data-dir",
            str(data_dir),
            *extra,
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
        if "--demo-secrets" in extra:
            assert "DEMO secrets" in seen  # demo keys are announced, never silent
        yield port
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    with serving("--demo-secrets", data_dir=tmp_path / "meter") as port:
        yield port


def test_read_prints_a_table_with_each_security_level(served: int, tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "hes")]
    for extra in (["--demo-secrets"], ["--demo-secrets"], ["--password", "openami-demo"]):
        result = runner.invoke(
            command, ["read", "--port", str(served), "--meter", "3", *data, *extra]
        )
        assert result.exit_code == 0, result.output
        assert "import register 1.0.1.8.0.255" in result.output
        assert "connected" in result.output
        assert re.search(r"\d+ A", result.output)
        assert result.output.count(":30 ") + result.output.count(":00 ") >= 48
    # the second HLS read went on from the saved counter, never asking the meter
    assert len(list((tmp_path / "hes" / "dlms-hes-counters").iterdir())) == 1
    public = runner.invoke(command, ["read", "--port", str(served), "--meter", "3", *data])
    assert public.exit_code == 0, public.output
    assert "OAM0000000000004" in public.output and "import register" not in public.output
    refused = runner.invoke(
        command, ["read", "--port", str(served), *data, "--password", "not-the-password"]
    )
    assert refused.exit_code != 0 and "refused" in refused.output


def test_the_counter_comes_from_the_meter_only_when_asked(served: int, tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(
        command,
        ["read", "--port", str(served), "--data-dir", str(tmp_path / "a"), "--demo-secrets"],
    )
    assert first.exit_code == 0, first.output
    # another HES without saved counters starts at 1: a replay the meter refuses
    fresh = ["read", "--port", str(served), "--data-dir", str(tmp_path / "b"), "--demo-secrets"]
    refused = runner.invoke(command, fresh)
    assert refused.exit_code != 0 and "refused" in refused.output
    trusting = runner.invoke(command, [*fresh, "--counter-from-meter"])
    assert trusting.exit_code == 0, trusting.output
    assert "demo/test peers only" in trusting.output


def test_per_meter_keys_from_the_key_stores_and_rotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAMI_MASTER_KEY", raising=False)
    runner = CliRunner()
    data = tmp_path / "site"
    init = runner.invoke(command, ["keys-init", "--meters", "20", "--data-dir", str(data)])
    assert init.exit_code == 0, init.output
    assert "20 meters provisioned" in init.output
    assert oct((data / "master.key").stat().st_mode & 0o777) == "0o600"
    with serving(data_dir=data) as port:
        args = ["--port", str(port), "--meter", "4", "--data-dir", str(data)]
        read = runner.invoke(command, ["read", *args])
        assert read.exit_code == 0, read.output
        assert "import register 1.0.1.8.0.255" in read.output  # HLS with meter 5's own keys
        with structlog.testing.capture_logs() as logs:
            rotated = runner.invoke(command, ["rotate-keys", *args])
        assert rotated.exit_code == 0, rotated.output
        assert [e["step"] for e in logs if e["event"] == "dlms.key_rotation"] == [
            "start",
            "done",
        ]
        again = runner.invoke(command, ["read", *args])
        assert again.exit_code == 0, again.output
        # the demo keys open no meter of a provisioned site
        demo = runner.invoke(command, ["read", *args, "--demo-secrets", "--counter-from-meter"])
        assert demo.exit_code != 0
