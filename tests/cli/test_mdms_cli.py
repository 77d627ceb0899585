"""`openami mdms ingest / export / edit` as a user runs them: real subprocesses."""

from __future__ import annotations

import csv
import io
import json
import stat
import subprocess
import sys
from pathlib import Path

from tests.mdms.vee_world import make_data_dir, reads_csv

from openami.storage.repositories.audit import AuditLog

EXE = str(Path(sys.executable).parent / "openami")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, "mdms", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_ingest_export_edit_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids = make_data_dir(data, 3)
    good = reads_csv(tmp_path / "reads.csv", ids, 48)
    text = good.read_text().splitlines()
    # one bad row appended, and the read of the first point at 10:00 JST removed (a gap)
    gap_line = next(i for i, ln in enumerate(text) if ln.startswith(ids[0] + ",2026-11-01T10:00"))
    removed = text.pop(gap_line)
    text.append(f"{ids[1]},2026-11-01T10:00:00,5,0")  # no offset
    good.write_text("\n".join(text) + "\n")

    res = run("ingest", str(good), "--data-dir", str(data), "--json")
    assert res.returncode == 3, res.stderr  # completed, with bad rows
    report = json.loads(res.stdout)
    assert report["rows"] == 3 * 49 and report["good_rows"] == 3 * 49 - 1
    assert report["bad"] == [
        {
            "line": 3 * 49 + 1,
            "reason": "slot_start: must be ISO 8601 with a UTC offset, "
            "e.g. 2026-11-01T10:30:00+09:00",
        }
    ]
    assert report["estimation"]["by_method"] == {"E1": 2}  # 09:30 and 10:00 of point 0

    res = run(
        "export",
        "--supply-point",
        ids[0],
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-01",
        "--data-dir",
        str(data),
    )
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == 48
    assert [r["quality"] for r in rows].count("measured") == 46
    est = [r for r in rows if r["quality"] == "estimated"]
    assert [r["slot_start"] for r in est] == [
        "2026-11-01T09:30:00+09:00",
        "2026-11-01T10:00:00+09:00",
    ]
    assert {r["method"] for r in est} == {"E1"} and {r["flags"] for r in est} == {"V03"}
    # the estimates add up to the register difference 09:30 → 10:30
    regs = {ln.split(",")[1][11:16]: int(ln.split(",")[2]) for ln in text if ln.startswith(ids[0])}
    assert int(est[0]["import_wh"]) + int(est[1]["import_wh"]) == regs["10:30"] - regs["09:30"]
    assert removed.split(",")[1].startswith("2026-11-01T10:00")

    res = run(
        "edit",
        "--supply-point",
        ids[0],
        "--slot-start",
        "2026-11-01T09:00:00+09:00",
        "--import-wh",
        "1",
        "--user",
        "erin",
        "--reason",
        "test edit",
        "--data-dir",
        str(data),
    )
    assert res.returncode == 0, res.stderr
    assert "stored 1 edited value" in res.stdout and "V05" in res.stderr
    audit = AuditLog.open_for_checking(data / "registry.sqlite")  # the edit is in the chain
    entry = list(audit.entries())[-1]
    assert (entry.actor, entry.action, entry.subject) == ("erin", "mdms manual edit", ids[0])
    assert '"reason":"test edit"' in entry.detail and audit.verify().ok
    audit.close()
    res = run(
        "export",
        "--supply-point",
        ids[0],
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-01",
        "--data-dir",
        str(data),
    )
    row = list(csv.DictReader(io.StringIO(res.stdout)))[18]
    assert (row["import_wh"], row["quality"], row["method"], row["version"]) == (
        "1",
        "edited",
        "M",
        "2",
    )


def test_settle_prints_daily_sums_and_writes_slot_rows(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids = make_data_dir(data, 2)
    res = run("ingest", str(reads_csv(tmp_path / "r.csv", ids, 48)), "--data-dir", str(data))
    assert res.returncode == 0, res.stderr
    out = tmp_path / "settle.csv"
    res = run("settle", "--date", "2026-11-01", "--output", str(out), "--data-dir", str(data))
    assert res.returncode == 0, res.stderr
    assert "settlement run 1 (preliminary)" in res.stdout and "BG1" in res.stdout
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 48 * 3  # area, balancing group and retailer level per slot
    assert {r["quality"] for r in rows} == {"measured"} and {r["points"] for r in rows} == {"2"}
    bill = tmp_path / "bill.csv"
    res = run(
        "bill",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-01",
        "--output",
        str(bill),
        "--data-dir",
        str(data),
    )
    assert res.returncode == 0, res.stderr
    billed = list(csv.DictReader(io.StringIO(bill.read_text())))
    assert [r["supply_point_id"] for r in billed] == ids
    assert {r["v05_ok"] for r in billed} == {"true"} and {r["missing"] for r in billed} == {"0"}
    days = tmp_path / "days"
    res = run(
        "compact",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-01",
        "--out",
        str(days),
        "--data-dir",
        str(data),
    )
    assert res.returncode == 0, res.stderr
    assert "2 supply points" in res.stdout
    res = run("completeness", "--date", "2026-11-01", "--json", "--data-dir", str(data))
    assert res.returncode == 0, res.stderr
    overall = json.loads(res.stdout)[-1]
    # imported weeks after the day: all measured, none of it within the delivery horizons
    assert (overall["area_code"], overall["points"], overall["reading_rate"]) == ("all", 2, 1.0)
    assert overall["available_60min"] == 0.0 and overall["available_60min_met"] is False
    assert (days / "day=2026-11-01" / "values.parquet").stat().st_size > 0
    # what the commands write holds consumption data: the owner's alone
    for private in (out, bill, days / "day=2026-11-01" / "values.parquet"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    for directory in (days, days / "day=2026-11-01"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory


def test_clear_errors(tmp_path: Path) -> None:
    res = run(
        "export",
        "--supply-point",
        "123",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-01",
        "--data-dir",
        str(tmp_path),
    )
    assert res.returncode == 1 and "no registry" in res.stderr
    make_data_dir(tmp_path, 1)
    res = run(
        "export",
        "--supply-point",
        "123",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-01",
        "--data-dir",
        str(tmp_path),
    )
    assert res.returncode == 2 and "22 digits" in res.stderr
    res = run("ingest", "--help")
    assert res.returncode == 0 and "export_register_wh" in res.stdout
