"""`openami mdms imbalance` and `openami mdms loss-factors` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

from tests.cli.test_mdms_cli import run
from tests.mdms.vee_world import make_data_dir, reads_csv

from openami.clock import JST, day_first_slot
from openami.mdms.demand_plans import DemandPlans
from openami.storage.repositories import open_database
from openami.storage.repositories.balancing import DemandPlanStore

DAY = date(2026, 11, 1)


def submit_plan(data: Path, kwh: float) -> None:
    database = open_database(data / "registry.sqlite")
    body = json.dumps({"unit": "kWh", "areas": {"03": [kwh] * 48}}).encode()
    before = datetime(2026, 10, 31, tzinfo=JST).timestamp()
    DemandPlans(DemandPlanStore(database)).submit(
        "BG1", DAY, body, "application/json", "c-bg1", before
    )
    database.close()


def test_imbalance_from_the_settlement_run(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids = make_data_dir(data, 2)
    assert (
        run(
            "ingest", str(reads_csv(tmp_path / "r.csv", ids, 48)), "--data-dir", str(data)
        ).returncode
        == 0
    )
    res = run("imbalance", "--date", "2026-11-01", "--data-dir", str(data))
    assert res.returncode == 1 and "E_NO_SETTLEMENT_RUN" in res.stderr
    sums = tmp_path / "settle.csv"
    res = run("settle", "--date", "2026-11-01", "--output", str(sums), "--data-dir", str(data))
    assert res.returncode == 0, res.stderr
    submit_plan(data, 0.5)
    res = run("imbalance", "--date", "2026-11-01", "--json", "--data-dir", str(data))
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["kind"], out["settlement_run_id"], len(out["rows"])) == ("preliminary", 1, 48)
    metered = {
        int(r["slot"]): int(r["import_wh"])
        for r in csv.DictReader(io.StringIO(sums.read_text()))
        if r["level"] == "balancing_group"
    }
    first = day_first_slot(DAY)
    for row in out["rows"]:
        wh = metered[row["slot"]]
        assert row["metered_import_wh"] == wh and row["plan_wh"] == 500
        assert abs(row["imbalance_wh"] - (wh / (1 - 0.069) - 500)) < 1e-6
    assert {r["slot"] - first for r in out["rows"]} == set(range(48))
    res = run("imbalance", "--date", "2026-11-01", "--data-dir", str(data))
    assert res.returncode == 0 and "BG1" in res.stdout and "6.9" in res.stdout
    res = run("imbalance", "--date", "2026-11-01", "--kind", "final", "--data-dir", str(data))
    assert res.returncode == 1 and "E_NO_SETTLEMENT_RUN" in res.stderr


def test_loss_factors_show_and_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_data_dir(data, 1)
    res = run("loss-factors", "--json", "--data-dir", str(data))
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert len(rows) == 30 and all(r["source"] for r in rows)
    newer = tmp_path / "lf.csv"
    newer.write_text(
        "area_code,voltage_class,valid_from,loss_rate_pct,source\n"
        "03,low,2027-04-01,6.5,TEPCO PG 託送供給等約款 2027 (test figure)\n"
    )
    res = run(
        "loss-factors",
        "--load",
        str(newer),
        "--date",
        "2027-04-01",
        "--json",
        "--data-dir",
        str(data),
    )
    assert res.returncode == 0, res.stderr
    in_force = json.loads(res.stdout.split("\n", 1)[1])
    tokyo = next(r for r in in_force if (r["area_code"], r["voltage_class"]) == ("03", "low"))
    assert tokyo["loss_rate"] == 0.065 and len(in_force) == 30
    newer.write_text(
        "area_code,voltage_class,valid_from,loss_rate_pct,source\n99,low,2027-04-01,6.5,x\n"
    )
    res = run("loss-factors", "--load", str(newer), "--data-dir", str(data))
    assert res.returncode == 1 and "unknown area code" in res.stderr
    res = run("loss-factors", "--json", "--data-dir", str(data))  # the bad file stored nothing
    assert len(json.loads(res.stdout)) == 31


def test_the_demo_city_has_group_clients_and_an_imbalance(tmp_path: Path) -> None:
    """`openami demo --once`, then settle its day and compute the imbalance of every group
    (no plans yet: imbalance = loss-adjusted demand); each group has a demo client."""
    exe = Path(sys.executable).parent / "openami"
    demo = [str(exe), "demo", "--once", "--meters", "60", "--days", "1"]
    res = subprocess.run(
        [*demo, "--start", "2026-11-01", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    creds = json.loads((tmp_path / "demo-credentials.json").read_text())
    groups = {c["balancing_group_id"] for c in creds["balancing_group_clients"]}
    assert groups == {"BG01", "BG02", "BG03"}
    assert run("settle", "--date", "2026-11-01", "--data-dir", str(tmp_path)).returncode == 0
    res = run("imbalance", "--date", "2026-11-01", "--json", "--data-dir", str(tmp_path))
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)["rows"]
    assert rows and all(r["plan_version"] is None for r in rows)
    assert sum(r["points"] for r in rows) > 0
    for r in rows:
        assert abs(r["imbalance_wh"] - r["metered_import_wh"] / (1 - r["loss_rate"])) < 1e-6
