"""Cost per A-route method, the seed's presets and the cost-versus-reading-rate curve."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from openami.network.costs import (
    costs_on,
    load_costs,
    load_presets,
    method_bill,
    reading_rate_curve,
)


def test_every_method_has_sourced_figures_in_force_from_2014() -> None:
    rows = costs_on(load_costs(), date(2016, 4, 1))
    assert set(rows) == {"mesh", "cellular", "plc"}
    for row in rows.values():
        assert "Sankei" in row.sources or "as mesh" in row.sources


def test_cost_rows_are_effective_dated() -> None:
    rows = load_costs()
    assert costs_on(rows, date(2020, 1, 1))["mesh"].meter_yen == 10000
    assert costs_on(rows, date(2025, 4, 1))["mesh"].meter_yen == 12000
    assert costs_on(rows, date(2013, 1, 1)) == {}


def test_mesh_bill_counts_concentrators_and_cost_per_read_meter() -> None:
    mesh = costs_on(load_costs(), date(2016, 4, 1))["mesh"]
    bill = method_bill(mesh, 1000, 0.98)
    assert bill.concentrators == 4  # 250 meters each
    assert bill.capex_yen == 1000 * (10000 + 2000 + 3700) + 4 * 500000
    assert bill.opex_yen_per_year == pytest.approx(12 * 4 * 3000 + 0.01 * bill.capex_yen)
    per_read = bill.annual_cost_yen / 980
    assert bill.cost_per_read_meter_yen_per_year == pytest.approx(per_read)
    assert method_bill(mesh, 1000, 0.0).cost_per_read_meter_yen_per_year is None


def test_cellular_pays_a_fee_per_meter_and_no_concentrator() -> None:
    cellular = costs_on(load_costs(), date(2016, 4, 1))["cellular"]
    bill = method_bill(cellular, 100, 1.0)
    assert bill.concentrators == 0
    assert bill.opex_yen_per_year == pytest.approx(12 * 100 * 100 + 0.01 * bill.capex_yen)


def test_curve_rises_in_cost_with_the_reading_rate() -> None:
    rows = costs_on(load_costs(), date(2016, 4, 1))
    curve = reading_rate_curve(
        rows, {"mesh": 900, "cellular": 100}, {"mesh": 0.9, "cellular": 0.99}
    )
    assert curve[0].automatic_reading_rate == pytest.approx((810 + 99) / 1000)
    assert curve[0].retrofitted_meters == 0
    rates = [p.automatic_reading_rate for p in curve]
    costs = [p.annual_cost_yen for p in curve]
    assert rates == sorted(rates) and costs == sorted(costs)
    assert curve[-1].retrofitted_meters == 90  # every unread mesh meter
    assert curve[-1].automatic_reading_rate > 0.98
    assert all(p.yen_per_point_per_year and p.yen_per_point_per_year > 0 for p in curve[1:])


def test_curve_refuses_methods_without_figures() -> None:
    rows = costs_on(load_costs(), date(2016, 4, 1))
    with pytest.raises(ValueError, match="no cost row"):
        reading_rate_curve({"mesh": rows["mesh"]}, {"plc": 10}, {"plc": 0.9})


def test_presets_follow_the_seed_table() -> None:
    presets = load_presets()
    assert set(presets) == {f"{i:02d}" for i in range(1, 11)}
    assert max(presets["09"].method_mix, key=presets["09"].method_mix.__getitem__) == "cellular"
    assert set(presets["06"].method_mix) == {"mesh", "plc"}  # Kansai: two methods only
    assert set(presets["03"].method_mix) == {"mesh", "cellular", "plc"}
    for preset in presets.values():
        assert sum(preset.method_mix.values()) == pytest.approx(1.0)


def test_bad_cost_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "costs.toml"
    cases = {
        "": "at least one",
        "[[cost]]\nmethod='mesh'\n": "missing",
        _row(method="'wifi'"): "unknown method",
        _row(meter_yen="-1"): "negative",
        _row(effective_from="'2014-13-01'"): "YYYY-MM-DD",
        _row(sources="' '"): "sources",
        _row(meter_yen="'a lot'"): "numbers",
    }
    for text, message in cases.items():
        path.write_text(text)
        with pytest.raises(ValueError, match=message):
            load_costs(path)


def _row(**over: str) -> str:
    fields = {
        "method": "'mesh'",
        "effective_from": "'2014-04-01'",
        "meter_yen": "1",
        "comm_unit_yen": "1",
        "installation_yen": "1",
        "concentrator_yen": "1",
        "meters_per_concentrator": "1",
        "comm_fee_yen_per_meter_month": "0",
        "backhaul_fee_yen_per_concentrator_month": "0",
        "maintenance_share_per_year": "0",
        "retrofit_yen": "1",
        "life_years": "10",
        "sources": "'test'",
    }
    fields.update(over)
    return "[[cost]]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items())
