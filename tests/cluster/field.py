"""A DLMS field and a HES service as subprocesses, sharing one accelerated clock."""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from openami.cli.dlms import command as dlms
from openami.clock import SLOT_SECONDS, AnchoredClock

OPENAMI = [sys.executable, "-m", "openami.cli.main"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class SharedClock:
    """The accelerated clock every process of a test is given (same three numbers)."""

    speed: float
    anchor_wall_s: float
    sim_at_anchor_s: float

    @classmethod
    def before_boundary(cls, speed: float, lead_wall_s: float) -> tuple[SharedClock, int]:
        """A clock reaching a :00/:30 boundary ``lead_wall_s`` wall seconds from now."""
        now = time.time()
        boundary = math.ceil(now / SLOT_SECONDS) + 1
        return cls(speed, now, boundary * SLOT_SECONDS - lead_wall_s * speed), boundary

    def args(self) -> list[str]:
        return [
            "--speed",
            str(self.speed),
            "--clock-anchor",
            repr(self.anchor_wall_s),
            "--clock-at-anchor",
            repr(self.sim_at_anchor_s),
        ]

    def clock(self) -> AnchoredClock:
        return AnchoredClock(self.sim_at_anchor_s, self.anchor_wall_s, self.speed)

    def wall_at(self, sim_s: float) -> float:
        return self.anchor_wall_s + (sim_s - self.sim_at_anchor_s) / self.speed


def provision(data_dir: Path, meters: int, port: int) -> None:
    """Keys for both sides and the field's endpoints (with supply points) in the registry."""
    runner = CliRunner()
    for args in (
        ["keys-init", "--meters", str(meters), "--data-dir", str(data_dir)],
        ["register-field", "--meters", str(meters), "--port", str(port), "--data-dir", "."],
    ):
        args = [str(data_dir) if a == "." else a for a in args]
        result = runner.invoke(dlms, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output


def first_boundary(log: Path, process: subprocess.Popen[bytes], timeout_s: float) -> int:
    """The first boundary the HES service will collect (from its ``hes.started`` log)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if '"hes.started"' in line:
                return int(json.loads(line)["next_boundary"])
        if process.poll() is not None:
            raise RuntimeError(f"the HES stopped: {log.read_text()}")
        time.sleep(0.2)
    raise RuntimeError(f"the HES did not start within {timeout_s} s")


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"the field stopped: {log.read_text()}") from None
            time.sleep(0.1)
    raise RuntimeError("the field did not listen within 60 s")


def field_dir(data_dir: Path) -> Path:
    """A data directory for the emulated field: its meters' key store and master key,
    copied to a RAM disk when there is one (the field writes a counter file per APDU; a
    rename costs ~2 ms on a busy disk, ~0.06 ms in /dev/shm). Remove it afterwards."""
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else data_dir.parent
    target = Path(tempfile.mkdtemp(prefix="openami-field-", dir=base))
    for name in ("master.key", "dlms-meter-keys.json"):
        shutil.copy2(data_dir / name, target / name)
    return target


def start_field(
    data_dir: Path, meters: int, port: int, clock: SharedClock, log: Path
) -> subprocess.Popen[bytes]:
    args = ["dlms", "serve", "--meters", str(meters), "--port", str(port)]
    args += ["--data-dir", str(data_dir), "--history-days", "1", "--no-fsync", *clock.args()]
    return subprocess.Popen([*OPENAMI, *args], stdout=log.open("wb"), stderr=subprocess.STDOUT)


def start_hes(
    data_dir: Path, bus_url: str, prefix: str, clock: SharedClock, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    args = ["--log-json", "serve", "hes", "--data-dir", str(data_dir), "--bus", bus_url]
    args += ["--bus-prefix", prefix, *clock.args(), *extra]
    return subprocess.Popen([*OPENAMI, *args], stdout=log.open("wb"), stderr=subprocess.STDOUT)
