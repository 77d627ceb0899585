"""`openami mdms meter-type / point-class / ingest --manual-reads / profile / demand` as a
user runs them: real subprocesses on a data directory."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from tests.mdms.vee_world import make_data_dir

EXE = str(Path(sys.executable).parent / "openami")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, "mdms", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_manual_reads_profiled_and_demand(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids = make_data_dir(data, 2)  # meters 1000 and 1001
    d = ("--data-dir", str(data))
    assert run("meter-type", "1000", "--type", "conventional", *d).returncode == 0
    res = run("meter-type", "1001", "--type", "conventional", "--multiplier", "40", *d)
    assert res.returncode == 0, res.stderr
    res = run("point-class", ids[1], "--voltage", "high", "--load-shape", "industrial", *d)
    assert res.returncode == 0, res.stderr
    reads = tmp_path / "reads.csv"
    reads.write_text(
        "meter_id,read_on,import_register_wh,reader\n"
        "1000,2026-10-01,100000,R7\n1000,2026-11-01,351234,R7\n"
        "1001,2026-10-01,5000,R8\n1001,2026-11-01,9000,R8\n"
    )
    res = run("ingest", str(reads), "--manual-reads", "--json", *d)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert (report["stored"], report["meters"]) == (4, [1000, 1001])
    assert report["profiling"]["energy_wh"] == 251_234 + 4_000 * 40
    assert report["profiling"]["values"] == 2 * 31 * 48
    res = run("export", "--supply-point", ids[0], "--from", "2026-10-01", "--to", "2026-10-31", *d)
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert sum(int(r["import_wh"]) for r in rows) == 251_234
    assert {(r["quality"], r["espi_quality"]) for r in rows} == {("profiled", "11")}

    # a read going backwards: a clear error, exit 3, nothing stored
    reads.write_text("meter_id,read_on,import_register_wh,reader\n1000,2026-12-01,351000,R7\n")
    res = run("ingest", str(reads), "--manual-reads", "--json", *d)
    assert res.returncode == 3
    refused = json.loads(res.stdout)
    assert refused["stored"] == 0 and refused["problems"][0]["code"] == "E_BACKWARDS"
    res = run("ingest", str(reads), "--manual-reads", *d)
    assert res.returncode == 3 and "E_BACKWARDS" in res.stderr
    assert json.loads(run("profile", "--json", *d).stdout)["values"] == 0

    res = run("demand", "--supply-point", ids[1], "--month", "2026-10", "--json", *d)
    assert res.returncode == 0, res.stderr
    demand = json.loads(res.stdout)
    assert demand["months"][-1]["energy_wh"] == 160_000
    assert demand["contract_kw"] == round(max(m["max_demand_kw"] for m in demand["months"]))
    res = run("demand", "--supply-point", ids[0], "--month", "2026-10", *d)
    assert res.returncode == 1 and "not high voltage" in res.stderr
    res = run("demand", "--supply-point", ids[1], "--month", "2026-13", *d)
    assert res.returncode == 2 and "YYYY-MM" in res.stderr
    res = run(
        "reading-rate", "--from", "2026-10", "--to", "2026-11", "--day", "2026-11-01", "--json", *d
    )
    assert res.returncode == 0, res.stderr
    rates = json.loads(res.stdout)
    last = rates["rollout"][-1]
    assert (last["area_code"], last["installed_meters"], last["automatic_meters"]) == ("all", 2, 0)
    assert rates["by_area"][-1]["automatic_reading_rate_day"] == 0.0  # conventional meters only
    res = run("reading-rate", "--from", "2026-13", "--to", "2026-11", *d)
    assert res.returncode == 2 and "YYYY-MM" in res.stderr
    res = run("meter-type", "999", "--type", "smart", *d)
    assert res.returncode == 1 and "refers to something that is not stored" in res.stderr
