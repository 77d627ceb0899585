"""`openami demo --once` as a user runs it: a real subprocess."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from openami.cli.demo import _clear_for_fresh_city
from openami.storage.repositories import DATA_DIR_FILE, open_in_data_dir
from openami.storage.repositories.audit import AuditLog, AuditRecord


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


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "openami"
    return subprocess.run(
        [str(exe), "demo", "--once", "--meters", "80", "--start", "2026-11-01", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_demo_resumes_its_city_and_starts_afresh_only_when_told(tmp_path: Path) -> None:
    data_dir = tmp_path / "city"
    first = _demo("--data-dir", str(data_dir))
    assert first.returncode == 0, first.stderr
    secret = json.loads((data_dir / "demo-credentials.json").read_text())["clients"][0]
    assert secret["client_secret"] not in first.stdout + first.stderr  # never printed
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    for path in data_dir.iterdir():
        assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0, path

    again = _demo("--data-dir", str(data_dir))
    assert again.returncode == 0, again.stderr
    assert "resuming the city" in again.stdout
    assert json.loads((data_dir / "demo-credentials.json").read_text())["clients"][0] == secret

    fresh = _demo("--data-dir", str(data_dir), "--fresh")
    assert fresh.returncode == 0, fresh.stderr
    renewed = json.loads((data_dir / "demo-credentials.json").read_text())["clients"][0]
    assert renewed["client_secret"] != secret["client_secret"]
    # the old city, audit log included, was moved aside, not deleted
    (aside,) = tmp_path.glob("city.old-*")
    assert json.loads((aside / "demo-credentials.json").read_text())["clients"][0] == secret
    assert "moved to" in fresh.stdout


def test_demo_refuses_a_directory_that_is_not_its_own(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = _demo("--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "refusing to overwrite" in result.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_fresh_never_deletes_an_audit_log(tmp_path: Path) -> None:
    """Issue #15 §4: `openami demo --fresh` used to delete the data directory, audit log and
    all; now it moves it aside, and the moved log still verifies with its keys."""
    data_dir = tmp_path / "city"
    database = open_in_data_dir(data_dir)
    AuditLog(database).append(AuditRecord(1.0, "request", "c1", "GET /x", "api-access"))
    database.close()
    aside = _clear_for_fresh_city(data_dir, fresh=True, resuming=True)
    assert aside is not None and not data_dir.exists()
    assert aside.parent == tmp_path and aside.name.startswith("city.old-")
    log = AuditLog.open_for_checking(aside / DATA_DIR_FILE)
    result = log.verify()
    log.close()
    assert result.ok and result.entries == 1
    data_dir.mkdir()
    (data_dir / "x").write_text("again")
    second = _clear_for_fresh_city(data_dir, fresh=True, resuming=True)
    assert second is not None and second != aside and (second / "x").read_text() == "again"
