"""The cost part of `openami plan`: capex/opex per method, cost per automatically read meter
and the cost-versus-reading-rate curve of the simulated area (figures from
``openami.network.costs``)."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import date
from pathlib import Path
from typing import Any

from rich.table import Table

from openami.network.costs import (
    costs_on,
    load_costs,
    load_presets,
    method_bill,
    reading_rate_curve,
)


def preset_mix(code: str, area_code: str) -> dict[str, float]:
    """The seed's method mix of area ``code`` (``area`` = the area file's own area code)."""
    presets = load_presets()
    key = area_code if code == "area" else code.zfill(2)
    if key not in presets:
        raise ValueError(f"--preset: unknown area {code!r}; use 01 to 10 or 'area'")
    return presets[key].method_mix


CURVE_KPIS = ("automatic_reading_rate", "delivery_60min_rate", "collection_30min_rate")


def cost_report(
    result: dict[str, Any],
    day: date,
    cost_file: Path | None,
    curve_steps: int | None,
    curve_kpi: str = "automatic_reading_rate",
) -> dict[str, Any]:
    """Bills per method and for the area; with ``curve_steps`` the curve as well. The
    concentrators of mesh and PLC serve the area's meters per concentrator (the upper end of
    the simulated range), not the cost file's typical figure."""
    rows = costs_on(load_costs(cost_file), day)
    # concentrators serve as many meters as the area's density gives, as in the simulation
    per_concentrator = int(result["meters_per_concentrator"][1])
    rows = {
        m: replace(c, meters_per_concentrator=per_concentrator) if c.concentrator_yen > 0 else c
        for m, c in rows.items()
    }
    meters = {m: n for m, n in result["meters"].items() if m != "all"}
    missing = sorted(set(meters) - set(rows))
    if missing:
        raise ValueError(f"no cost figures in force on {day} for {', '.join(missing)}")
    rates = {m: float(result["kpis"][m]["automatic_reading_rate"] or 0.0) for m in meters}
    bills = [method_bill(rows[m], n, rates[m]) for m, n in meters.items()]
    capex = sum(b.capex_yen for b in bills)
    opex = sum(b.opex_yen_per_year for b in bills)
    annual = sum(b.annual_cost_yen for b in bills)
    read = sum(b.meters * b.automatic_reading_rate for b in bills)
    report: dict[str, Any] = {
        "cost_date": day.isoformat(),
        "methods": [asdict(b) for b in bills],
        "total": {
            "capex_yen": capex,
            "opex_yen_per_year": opex,
            "annual_cost_yen": annual,
            "cost_per_read_meter_yen_per_year": annual / read if read > 0 else None,
        },
        "sources": {m: rows[m].sources for m in meters},
    }
    if curve_steps is not None:
        if curve_kpi not in CURVE_KPIS:
            raise ValueError(f"the curve's KPI must be one of {', '.join(CURVE_KPIS)}")
        by_kpi = {m: float(result["kpis"][m][curve_kpi] or 0.0) for m in meters}
        curve = reading_rate_curve(rows, meters, by_kpi, curve_steps)
        report["curve_kpi"] = curve_kpi
        report["curve"] = [asdict(p) for p in curve]
    return report


def _yen(value: float | None) -> str:
    return "—" if value is None else f"¥{value:,.0f}"


def cost_tables(report: dict[str, Any]) -> list[Table]:
    table = Table(title=f"Cost per method (figures in force on {report['cost_date']})")
    for col in ("method", "meters", "concentrators", "capex", "opex / year", "per read meter / y"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for b in report["methods"]:
        table.add_row(
            b["method"],
            f"{b['meters']:,}",
            f"{b['concentrators']:,}",
            _yen(b["capex_yen"]),
            _yen(b["opex_yen_per_year"]),
            _yen(b["cost_per_read_meter_yen_per_year"]),
        )
    t = report["total"]
    table.add_row(
        "all",
        "",
        "",
        _yen(t["capex_yen"]),
        _yen(t["opex_yen_per_year"]),
        _yen(t["cost_per_read_meter_yen_per_year"]),
    )
    out = [table]
    if "curve" in report:
        curve = Table(title=f"Cost versus {report['curve_kpi']} (retrofits of unread meters)")
        for col in ("rate", "annual cost", "retrofitted", "¥ per extra point / year"):
            curve.add_column(col, justify="right")
        for p in report["curve"]:
            curve.add_row(
                f"{p['automatic_reading_rate'] * 100:.2f} %",
                _yen(p["annual_cost_yen"]),
                f"{p['retrofitted_meters']:,}",
                _yen(p["yen_per_point_per_year"]),
            )
        out.append(curve)
    return out
