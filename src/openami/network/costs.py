"""Rollout cost per A-route method, the seed's method presets per area and the
cost-versus-reading-rate curve of an area.

The figures are data: ``config/aroute_costs.toml`` (effective-dated rows per method, each with
its sources) and ``config/aroute_presets.csv`` (each utility's main and secondary methods from
the seed's table, with assumed shares). Everything here is arithmetic on a handful of numbers
per method, so it needs no arrays.

Definitions (docs/aroute.md, "Planning with cost"):
- capex = meters × (meter + comm unit + installation) + concentrators × concentrator price;
- opex per year = 12 × (meters × per-meter fee + concentrators × back-haul fee)
  + maintenance share × capex;
- annual cost = capex ÷ life years + opex per year;
- cost per automatically read meter = annual cost ÷ (meters × automatic reading rate).
"""

from __future__ import annotations

import csv
import io
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from openami.bus.messages import METHOD_CODES

COST_FIELDS = (
    "meter_yen",
    "comm_unit_yen",
    "installation_yen",
    "concentrator_yen",
    "meters_per_concentrator",
    "comm_fee_yen_per_meter_month",
    "backhaul_fee_yen_per_concentrator_month",
    "maintenance_share_per_year",
    "retrofit_yen",
    "life_years",
)


@dataclass(frozen=True)
class MethodCost:
    """Cost figures of one method, in force from ``effective_from``."""

    method: str
    effective_from: date
    meter_yen: float
    comm_unit_yen: float
    installation_yen: float
    concentrator_yen: float
    meters_per_concentrator: int
    comm_fee_yen_per_meter_month: float
    backhaul_fee_yen_per_concentrator_month: float
    maintenance_share_per_year: float
    retrofit_yen: float
    life_years: int
    sources: str

    def __post_init__(self) -> None:
        if self.method not in METHOD_CODES:
            raise ValueError(f"unknown method {self.method!r}")
        for name in COST_FIELDS:
            if getattr(self, name) < 0:
                raise ValueError(f"{self.method}: {name} must not be negative")
        if self.meters_per_concentrator < 1 or self.life_years < 1:
            raise ValueError(f"{self.method}: meters_per_concentrator and life_years must be >= 1")
        if not self.sources.strip():
            raise ValueError(f"{self.method}: every cost row needs its sources")


@dataclass(frozen=True)
class MethodBill:
    """Cost of serving ``meters`` meters with one method."""

    method: str
    meters: int
    concentrators: int
    capex_yen: float
    opex_yen_per_year: float
    annual_cost_yen: float
    automatic_reading_rate: float
    cost_per_read_meter_yen_per_year: float | None


def load_costs(path: Path | None = None) -> list[MethodCost]:
    """Every cost row of ``path`` (default: the packaged ``config/aroute_costs.toml``)."""
    if path is None:
        text = resources.files("openami").joinpath("config/aroute_costs.toml").read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    rows = tomllib.loads(text).get("cost", [])
    if not rows:
        raise ValueError("the cost file needs at least one [[cost]] row")
    return [_cost_row(row, i) for i, row in enumerate(rows, start=1)]


def _cost_row(row: Mapping[str, Any], number: int) -> MethodCost:
    missing = {"method", "effective_from", "sources", *COST_FIELDS} - set(row)
    if missing:
        raise ValueError(f"[[cost]] {number}: missing {', '.join(sorted(missing))}")
    try:
        start = date.fromisoformat(str(row["effective_from"]))
    except ValueError:
        raise ValueError(f"[[cost]] {number}: effective_from must be YYYY-MM-DD") from None
    try:
        values = {k: float(row[k]) for k in COST_FIELDS}
    except (TypeError, ValueError):
        raise ValueError(f"[[cost]] {number}: figures must be numbers") from None
    return MethodCost(
        method=str(row["method"]),
        effective_from=start,
        meter_yen=values["meter_yen"],
        comm_unit_yen=values["comm_unit_yen"],
        installation_yen=values["installation_yen"],
        concentrator_yen=values["concentrator_yen"],
        meters_per_concentrator=int(values["meters_per_concentrator"]),
        comm_fee_yen_per_meter_month=values["comm_fee_yen_per_meter_month"],
        backhaul_fee_yen_per_concentrator_month=values["backhaul_fee_yen_per_concentrator_month"],
        maintenance_share_per_year=values["maintenance_share_per_year"],
        retrofit_yen=values["retrofit_yen"],
        life_years=int(values["life_years"]),
        sources=str(row["sources"]),
    )


def costs_on(rows: list[MethodCost], day: date) -> dict[str, MethodCost]:
    """The row of each method in force on ``day`` (the latest ``effective_from`` ≤ day)."""
    out: dict[str, MethodCost] = {}
    for row in sorted(rows, key=lambda r: r.effective_from):
        if row.effective_from <= day:
            out[row.method] = row
    return out


def method_bill(cost: MethodCost, meters: int, reading_rate: float) -> MethodBill:
    """Capex, opex and cost per automatically read meter of ``meters`` meters."""
    if meters < 0 or not 0.0 <= reading_rate <= 1.0:
        raise ValueError("meters must be >= 0 and the reading rate within 0..1")
    concentrators = (
        math.ceil(meters / cost.meters_per_concentrator) if cost.concentrator_yen > 0 else 0
    )
    per_meter = cost.meter_yen + cost.comm_unit_yen + cost.installation_yen
    capex = meters * per_meter + concentrators * cost.concentrator_yen
    fees = meters * cost.comm_fee_yen_per_meter_month
    fees += concentrators * cost.backhaul_fee_yen_per_concentrator_month
    opex = 12 * fees + cost.maintenance_share_per_year * capex
    annual = capex / cost.life_years + opex
    read = meters * reading_rate
    return MethodBill(
        method=cost.method,
        meters=meters,
        concentrators=concentrators,
        capex_yen=capex,
        opex_yen_per_year=opex,
        annual_cost_yen=annual,
        automatic_reading_rate=reading_rate,
        cost_per_read_meter_yen_per_year=annual / read if read > 0 else None,
    )


@dataclass(frozen=True)
class CurvePoint:
    """One step of the curve: the area's reading rate and its annual cost after retrofits."""

    automatic_reading_rate: float
    annual_cost_yen: float
    retrofitted_meters: int
    yen_per_point_per_year: float | None  # marginal: this step's extra cost per rate point


def reading_rate_curve(
    costs: Mapping[str, MethodCost],
    meters: Mapping[str, int],
    rates: Mapping[str, float],
    steps: int = 10,
) -> list[CurvePoint]:
    """What each further point of automatic reading costs in ``meters`` meters.

    The unread meters of each method (``meters × (1 − rate)``) can be fixed one by one with a
    retrofit (a visit plus a 1:N unit or an external antenna, ``retrofit_yen``) after which
    they are read like the area's best method. Retrofits are taken cheapest per gained read
    meter first; the curve has ``steps`` points per method from the plan's own rate up.
    """
    if set(meters) - set(costs):
        raise ValueError(f"no cost row for {', '.join(sorted(set(meters) - set(costs)))}")
    total = sum(meters.values())
    if total < 1:
        raise ValueError("the area needs at least one meter")
    bills = [method_bill(costs[m], n, rates.get(m, 0.0)) for m, n in meters.items()]
    best = max(rates.get(m, 0.0) for m in meters)
    base_cost = sum(b.annual_cost_yen for b in bills)
    read = sum(n * rates.get(m, 0.0) for m, n in meters.items())
    points = [CurvePoint(read / total, base_cost, 0, None)]
    gain = best
    options = []
    for m, n in meters.items():
        unread = round(n * (1.0 - rates.get(m, 0.0)))
        if unread > 0 and gain > rates.get(m, 0.0):
            c = costs[m]
            yearly = c.retrofit_yen / c.life_years + c.maintenance_share_per_year * c.retrofit_yen
            yearly += 12 * costs.get("cellular", c).comm_fee_yen_per_meter_month
            options.append((yearly / gain, m, unread, yearly))
    cost, done = base_cost, 0
    for _, _m, unread, yearly in sorted(options):
        for k in range(1, steps + 1):
            batch = round(unread * k / steps) - round(unread * (k - 1) / steps)
            if batch <= 0:
                continue
            before = points[-1]
            cost += batch * yearly
            read += batch * gain
            done += batch
            rate = read / total
            delta_pts = (rate - before.automatic_reading_rate) * 100
            marginal = (cost - before.annual_cost_yen) / delta_pts if delta_pts > 0 else None
            points.append(CurvePoint(rate, cost, done, marginal))
    return points


@dataclass(frozen=True)
class Preset:
    """A utility's A-route methods from the seed, with assumed shares."""

    area_code: str
    utility: str
    method_mix: dict[str, float]
    source: str


def load_presets(path: Path | None = None) -> dict[str, Preset]:
    """Area code → preset, from ``config/aroute_presets.csv`` (or a file of that shape)."""
    if path is None:
        res = resources.files("openami").joinpath("config/aroute_presets.csv")
        text = res.read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    out: dict[str, Preset] = {}
    for row in csv.DictReader(io.StringIO(text)):
        mix: dict[str, float] = {}
        for key in ("main", "secondary_1", "secondary_2"):
            method = row[key].strip()
            if method:
                if method not in METHOD_CODES:
                    raise ValueError(f"area {row['area_code']}: unknown method {method!r}")
                mix[method] = mix.get(method, 0.0) + float(row[f"{key}_share"])
        if abs(sum(mix.values()) - 1.0) > 1e-6:
            raise ValueError(f"area {row['area_code']}: preset shares must sum to 1")
        code = row["area_code"].zfill(2)
        out[code] = Preset(code, row["utility_en"], mix, row["source"])
    return out
