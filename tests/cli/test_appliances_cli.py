"""`openami appliances serve` and `openami hems run` end to end: the served home is found,
controlled, and the decision shows in the live table."""

from __future__ import annotations

import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from openami.cli.main import cli

EXAMPLE_POLICY = Path(__file__).resolve().parents[2] / "examples" / "hems-policy.toml"
APPLIANCES, METER = "127.0.0.31", "127.0.0.32"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def test_hems_run_controls_a_served_home() -> None:
    port = _free_port(APPLIANCES)
    args = ["appliances", "serve", "--home", "42", "--bind", APPLIANCES, "--port", str(port)]
    args += ["--meter-bind", METER, "--meter-port", str(port), "--all-appliances"]
    args += ["--reply-to-sender-port", "--no-multicast", "--history-days", "1"]
    args += ["--duration", "90"]  # stopped by SIGINT below; a bound for a hung test
    proc = subprocess.Popen(
        [sys.executable, "-m", "openami.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        banner = ""
        deadline = time.monotonic() + 60  # a loaded machine takes long to import
        while "home 42" not in banner and time.monotonic() < deadline:  # the nodes are up
            if select.select([proc.stderr], [], [], 0.5)[0]:
                banner += proc.stderr.readline()
        assert "home 42" in banner, banner
        run = ["hems", "run", "--policy", str(EXAMPLE_POLICY), "--udp", f"{METER}:{port}"]
        run += ["--appliances", f"{APPLIANCES}:{port}", "--local-port", "0"]
        run += ["--count", "1", "--timeout", "2"]
        result = CliRunner().invoke(cli, run)
        assert result.exit_code == 0, result.output
        assert "HEMS decisions" in result.output
        assert "027E01" in result.output  # the EV charger was discovered
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "frames received" in err


def test_hems_run_refuses_a_bad_policy(tmp_path: Path) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text('[priorities]\nshed = ["ev", "dishwasher"]\n')
    result = CliRunner().invoke(
        cli,
        ["hems", "run", "--policy", str(bad), "--udp", "127.0.0.1", "--appliances", "127.0.0.1"],
    )
    assert result.exit_code == 1
    assert "priorities.shed" in result.output
