"""`openami plan`: an area file in, KPIs per method side by side out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from openami.cli.plan import command, load_area

ROOT = Path(__file__).resolve().parents[2]
DENSE = ROOT / "examples" / "areas" / "dense_city.toml"
RURAL = ROOT / "examples" / "areas" / "rural.toml"


def test_plan_json_for_the_dense_city_shows_its_concentrator_failure() -> None:
    exe = Path(sys.executable).parent / "openami"
    result = subprocess.run(
        [str(exe), "plan", "--config", str(DENSE), "--days", "1", "--meters", "200", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    kpis = out["kpis"]
    assert set(kpis) == {"mesh", "plc", "cellular", "all"}
    assert sum(out["meters"][m] for m in ("mesh", "plc", "cellular")) == out["meters"]["all"] == 200
    for rates in kpis.values():
        for value in rates.values():
            assert value is None or 0.0 <= value <= 1.0
    # concentrator 0 (all the mesh meters here) died for two hours: mesh pays for it
    assert kpis["mesh"]["collection_30min_rate"] < 44.5 / 48
    assert kpis["cellular"]["collection_30min_rate"] > kpis["mesh"]["collection_30min_rate"]
    assert kpis["mesh"]["collection_48h_rate"] > 0.999  # backfilled after the restore
    assert kpis["all"]["remote_operation_success_rate"] is not None
    assert out["scenarios"] == ["concentrator_failure on day 1 at 10:00 for 2.0 h"]
    # every simulated meter is replaced at certification expiry in some fiscal year
    assert sum(out["expiry_replacements"].values()) == 200
    assert all(2028 <= int(fy) <= 2035 for fy in out["expiry_replacements"])  # installed 2018–25


def test_plan_table_for_the_rural_area() -> None:
    result = CliRunner().invoke(command, ["--config", str(RURAL), "--meters", "60"])
    assert result.exit_code == 0, result.output
    for label in ("Rural (Tohoku mountains)", "mesh", "cellular", "30-min collection", "%"):
        assert label in result.output
    assert "replacements at certification expiry: FY" in result.output


def test_example_areas_size_their_concentrators_from_density() -> None:
    dense, rural = load_area(DENSE), load_area(RURAL)
    assert dense.meters_per_concentrator() == (400, 500)  # capped at 500
    lo, hi = rural.meters_per_concentrator()
    assert 100 < lo < hi < 250
    assert rural.network["mesh"]["hop_loss"] == 0.02


def test_bad_area_files_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    runner = CliRunner()
    cases = {
        "[area]\narea_code='03'\nmeters=10\ndensity_per_km2=1\nconcentrator_reach_km=1\n"
        "[method_mix]\nmesh=0.5\n": "sum to 1",
        "[area]\narea_code='99'\nmeters=10\ndensity_per_km2=1\nconcentrator_reach_km=1\n"
        "[method_mix]\nmesh=1.0\n": "area_code",
        "[area]\narea_code='03'\nmeters=10\ndensity_per_km2=1\nconcentrator_reach_km=1\n"
        "[method_mix]\nmesh=1.0\n[network.mesh]\nhop_los=0.1\n": "hop_los",
        "[area]\narea_code='03'\nmeters=10\ndensity_per_km2=1\nconcentrator_reach_km=1\n"
        "[method_mix]\nmesh=1.0\n[[scenario]]\nkind='meteor'\n": "kind must be",
        "not toml [": "not valid TOML",
    }
    for text, message in cases.items():
        path = tmp_path / "area.toml"
        path.write_text(text)
        result = runner.invoke(command, ["--config", str(path)])
        assert result.exit_code != 0 and message in result.output, (text, result.output)
        assert "Traceback" not in result.output
    assert runner.invoke(command, ["--config", str(DENSE), "--days", "0"]).exit_code != 0


def test_plan_with_the_kyushu_preset_prices_the_area_and_draws_the_curve() -> None:
    args = ["--config", str(RURAL), "--meters", "300", "--preset", "09", "--curve", "--json"]
    args += ["--curve-kpi", "delivery_60min_rate"]
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out["meters"]) <= {"cellular", "plc", "all"}  # Kyushu: 1:N and PLC
    assert out["meters"]["cellular"] > out["meters"].get("plc", 0)
    for rates in out["kpis"].values():
        joined, read = rates["network_joined_rate"], rates["network_connection_rate"]
        assert 0.0 < joined <= 1.0 and read is not None
    costs = out["costs"]
    assert costs["cost_date"] == "2026-11-02"
    by_method = {b["method"]: b for b in costs["methods"]}
    assert by_method["cellular"]["concentrators"] == 0
    assert costs["total"]["capex_yen"] == sum(b["capex_yen"] for b in costs["methods"])
    curve = costs["curve"]
    assert costs["curve_kpi"] == "delivery_60min_rate"
    assert curve[0]["retrofitted_meters"] == 0
    assert curve[0]["automatic_reading_rate"] == pytest.approx(
        sum(out["meters"][m] * out["kpis"][m]["delivery_60min_rate"] for m in by_method)
        / out["meters"]["all"]
    )
    assert curve[-1]["automatic_reading_rate"] >= curve[0]["automatic_reading_rate"]
    assert "Sankei" in costs["sources"]["cellular"] or "as mesh" in costs["sources"]["cellular"]


def test_plan_cost_table_and_bad_presets() -> None:
    runner = CliRunner()
    ok = runner.invoke(command, ["--config", str(RURAL), "--meters", "60", "--costs"])
    assert ok.exit_code == 0, ok.output
    assert "capex" in ok.output and "network connection (joined)" in ok.output
    bad = runner.invoke(command, ["--config", str(RURAL), "--preset", "42"])
    assert bad.exit_code != 0 and "unknown area" in bad.output
    early = runner.invoke(
        command, ["--config", str(RURAL), "--meters", "30", "--costs", "--cost-date", "2010-01-01"]
    )
    assert early.exit_code != 0 and "no cost figures in force" in early.output
    wrong = runner.invoke(command, ["--config", str(RURAL), "--curve", "--curve-kpi", "joy"])
    assert wrong.exit_code != 0 and "joy" in wrong.output
