"""`openami demo --once` as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path


def test_demo_once_prints_kpis_and_writes_private_credentials(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "openami"
    result = subprocess.run(
        [
            str(exe),
            "demo",
            "--once",
            "--meters",
            "200",
            "--days",
            "1",
            "--start",
            "2026-11-01",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "A-route KPIs for 2026-11-01" in result.stdout
    for label in ("mesh", "cellular", "plc", "all"):
        assert label in result.stdout
    creds_path = tmp_path / "demo-credentials.json"
    creds = json.loads(creds_path.read_text())
    assert stat.S_IMODE(os.stat(creds_path).st_mode) == 0o600
    assert len(creds["clients"]) >= 3
    assert creds["token_url"].endswith("/oauth/token")
    assert len(creds["example"]["supply_point_id"]) == 22
    assert creds["customer"]["supply_point_id"] == creds["example"]["supply_point_id"]
    assert len(creds["customer"]["password"]) >= 12
    assert creds["third_party"]["authorize_url"].endswith("/oauth/authorize")


def test_demo_rejects_bad_options(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "openami"
    result = subprocess.run(
        [str(exe), "demo", "--once", "--meters", "0", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--meters and --days must be at least 1" in result.stderr
