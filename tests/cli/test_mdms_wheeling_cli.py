"""`openami mdms wheeling` as a user runs it: a real subprocess on a data directory."""

from __future__ import annotations

import csv
import stat
import subprocess
import sys
from pathlib import Path

from tests.mdms.vee_world import make_data_dir, reads_csv

EXE = str(Path(sys.executable).parent / "openami")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, "mdms", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_wheeling_writes_one_invoice_per_retailer(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    ids = make_data_dir(data, 3)  # Tokyo area, retailer R1, 60 A
    reads = reads_csv(tmp_path / "reads.csv", ids, 48)  # 2026-11-01 (in every period)
    assert run("ingest", str(reads), "--data-dir", str(data)).returncode == 0
    res = run("wheeling", "--period", "2026-11", "--data-dir", str(data), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "determinants" in res.stderr  # progress
    assert "R1" in res.stdout and "wrote 2 files" in res.stdout
    csv_path, html_path = out / "wheeling_R1_2026-11.csv", out / "wheeling_R1_2026-11.html"
    for path in (csv_path, html_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert sorted(r["supply_point_id"] for r in rows) == sorted(ids)
    assert all(float(r["kwh"]) > 0 and int(r["missing_slots"]) > 0 for r in rows)
    total = sum(int(r["total_yen"]) for r in rows)
    assert f"¥{total:,}" in html_path.read_text(encoding="utf-8")
    assert f"{total:,}" in res.stdout


def test_clear_errors_for_bad_periods_and_unknown_tariffs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_data_dir(data, 1)
    res = run("wheeling", "--period", "2026-13", "--data-dir", str(data))
    assert res.returncode == 2 and "YYYY-MM" in res.stderr
    hokkaido_only = tmp_path / "t.toml"
    hokkaido_only.write_text(
        '[menus]\n"01" = "x"\n[[tariff]]\narea_code = "01"\nmenu = "x"\n'
        'valid_from = 2024-01-01\nbasic_unit = "contract"\nbasic_yen = 50\n'
        "energy_yen_per_kwh = 3\n",
        "utf-8",
    )
    res = run(
        "wheeling", "--period", "2026-11", "--tariffs", str(hokkaido_only),
        "--data-dir", str(data), "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert res.returncode == 1 and "E_UNKNOWN_TARIFF" in res.stderr and "'03'" in res.stderr
    assert not (tmp_path / "o").exists()  # nothing written
