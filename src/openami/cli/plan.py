"""`openami plan`: evaluate a communication-method mix for an area with the network model.

An area file (TOML) describes the meters, their density, the method mix, overrides of the
network defaults and optional fault scenarios; the command simulates the area through the
network model, the HES and the MDMS for N days and prints the KPIs per method side by side.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from openami.bus.messages import CommandKind
from openami.cli.plan_costs import CURVE_KPIS, cost_report, cost_tables, preset_mix
from openami.clock import JST, SLOT_SECONDS, SLOTS_PER_DAY, ManualClock
from openami.mdms.kpi import KPI_NAMES, daily_kpis
from openami.meter.load import hash_uniform
from openami.network import METHOD_CODES, NetworkModel, load_params
from openami.network.scenarios import add_interference, area_blackout, concentrator_failure
from openami.registry import AREAS, Registry
from openami.sim import CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore

console = Console()

KPI_LABELS = {
    "network_joined_rate": "network connection (joined)",
    "network_connection_rate": "meters with a read",
    "collection_30min_rate": "30-min collection",
    "delivery_60min_rate": "60-min delivery",
    "collection_48h_rate": "48-h collection",
    "automatic_reading_rate": "automatic reading",
    "remote_operation_success_rate": "remote operations",
    "clock_compliance_rate": "clock compliance",
}
PLAN_KPIS = ("network_joined_rate", *KPI_NAMES)
SCENARIO_KINDS = ("concentrator_failure", "blackout", "interference")
MAX_PER_CONCENTRATOR = 500


@dataclass(frozen=True)
class AreaPlan:
    name: str
    area_code: str
    meters: int
    density_per_km2: float
    concentrator_reach_km: float
    method_mix: dict[str, float]
    seed: int = 1
    pv_share: float = 0.15
    start_day: date = date(2026, 11, 2)
    switching_share: float = 0.005
    network: dict[str, dict[str, Any]] = field(default_factory=dict)
    scenarios: list[dict[str, Any]] = field(default_factory=list)

    def meters_per_concentrator(self) -> tuple[int, int]:
        """Meters a concentrator serves: density × π × reach², within 20 … 500."""
        reach = self.density_per_km2 * math.pi * self.concentrator_reach_km**2
        hi = int(min(max(reach, 20), MAX_PER_CONCENTRATOR))
        return max(1, int(hi * 0.8)), hi


def _need(table: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in table:
        raise ValueError(f"{where}: missing {key!r}")
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind):
        raise ValueError(f"{where}: {key!r} must be a {kind.__name__}, got {value!r}")
    return value


def load_area(
    path: Path, meters: int | None = None, preset: Mapping[str, float] | None = None
) -> AreaPlan:
    """Read and check an area file; ``meters`` overrides its meter count, ``preset`` its
    method mix (then the file's [method_mix] may be left out)."""
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None
    area = raw.get("area")
    if not isinstance(area, dict):
        raise ValueError(f"{path}: needs an [area] table")
    mix = dict(preset) if preset is not None else raw.get("method_mix")
    if not isinstance(mix, dict) or not mix:
        raise ValueError(f"{path}: needs a [method_mix] table")
    unknown = set(mix) - set(METHOD_CODES)
    if unknown:
        raise ValueError(f"{path}: unknown method(s) in [method_mix]: {', '.join(sorted(unknown))}")
    shares = {m: float(v) for m, v in mix.items()}
    if any(v < 0 for v in shares.values()) or abs(sum(shares.values()) - 1.0) > 1e-6:
        raise ValueError(f"{path}: [method_mix] shares must be >= 0 and sum to 1")
    code = str(_need(area, "area_code", str, "[area]"))
    if code not in AREAS:
        raise ValueError(f"[area]: unknown area_code {code!r}; use 01 to 10")
    n = meters if meters is not None else int(_need(area, "meters", int, "[area]"))
    if n < 1:
        raise ValueError("[area]: meters must be at least 1")
    density = float(_need(area, "density_per_km2", float, "[area]"))
    reach = float(_need(area, "concentrator_reach_km", float, "[area]"))
    if density <= 0 or reach <= 0:
        raise ValueError("[area]: density_per_km2 and concentrator_reach_km must be positive")
    start = area.get("start_day", "2026-11-02")
    try:
        start_day = start if isinstance(start, date) else date.fromisoformat(str(start))
    except ValueError:
        raise ValueError(f"[area]: start_day must be YYYY-MM-DD, got {start!r}") from None
    switching = float(raw.get("operations", {}).get("switching_share", 0.005))
    if not 0.0 <= switching <= 1.0:
        raise ValueError("[operations]: switching_share must be within 0..1")
    network = raw.get("network", {})
    load_params(overrides=network)  # checks methods and keys now, with a clear message
    scenarios = raw.get("scenario", [])
    for i, sc in enumerate(scenarios, start=1):
        if sc.get("kind") not in SCENARIO_KINDS:
            raise ValueError(f"[[scenario]] {i}: kind must be one of {', '.join(SCENARIO_KINDS)}")
        _need(sc, "day", int, f"[[scenario]] {i}")
        _need(sc, "hours", float, f"[[scenario]] {i}")
        _parse_hhmm(str(_need(sc, "start", str, f"[[scenario]] {i}")))
    return AreaPlan(
        name=str(area.get("name", path.stem)),
        area_code=code,
        meters=n,
        density_per_km2=density,
        concentrator_reach_km=reach,
        method_mix=shares,
        seed=int(area.get("seed", 1)),
        pv_share=float(area.get("pv_share", 0.15)),
        start_day=start_day,
        switching_share=switching,
        network=network,
        scenarios=list(scenarios),
    )


def _parse_hhmm(text: str) -> tuple[int, int]:
    try:
        hh, mm = (int(x) for x in text.split(":"))
    except ValueError:
        raise ValueError(f"scenario start must be HH:MM, got {text!r}") from None
    if not (0 <= hh < 24 and 0 <= mm < 60):
        raise ValueError(f"scenario start must be HH:MM, got {text!r}")
    return hh, mm


def _apply_scenarios(plan: AreaPlan, network: NetworkModel) -> list[str]:
    notes = []
    for sc in plan.scenarios:
        hh, mm = _parse_hhmm(str(sc["start"]))
        day = plan.start_day + timedelta(days=int(sc["day"]) - 1)
        start_s = datetime(day.year, day.month, day.day, hh, mm, tzinfo=JST).timestamp()
        end_s = start_s + float(sc["hours"]) * 3600
        kind = sc["kind"]
        if kind == "concentrator_failure":
            c = int(sc.get("concentrator", 0))
            concentrator_failure(network, c, start_s, end_s)
        elif kind == "blackout":
            share = float(sc.get("share", 1.0))
            k = max(1, round(len(network.meter_ids) * share))
            area_blackout(network, np.arange(k, dtype=np.int64), start_s, end_s)
        else:
            method = sc.get("method")
            sel = (
                np.arange(len(network.meter_ids), dtype=np.int64)
                if method is None
                else np.flatnonzero(network.method_codes == METHOD_CODES[str(method)])
            )
            add_interference(network, sel, start_s, end_s, float(sc.get("success_factor", 0.5)))
        notes.append(f"{kind} on day {sc['day']} at {sc['start']} for {sc['hours']} h")
    return notes


def run_plan(
    plan: AreaPlan,
    days: int,
    network_file: Path | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Simulate ``days`` days (plus one for late reads and backfill); KPIs per method."""
    registry = Registry.open(":memory:")
    config = CityConfig(
        meters=plan.meters,
        seed=plan.seed,
        areas=(plan.area_code,),
        start_day=plan.start_day,
        pv_share=plan.pv_share,
        method_mix=plan.method_mix,
        meters_per_concentrator=plan.meters_per_concentrator(),
        retention_days=min(45, days + 7),
    )
    city = build_city(config, registry)
    params = load_params(network_file, overrides=plan.network)
    city.network = NetworkModel(
        city.fleet.meter_ids,
        city.method_codes,
        plan.seed,
        params=params,
        concentrator_of=city.concentrator_of,
    )
    notes = _apply_scenarios(plan, city.network)
    start = datetime.combine(plan.start_day, datetime.min.time(), JST)
    clock = ManualClock(start)
    # 15-minute ticks: arrival times are exact regardless; fewer, larger MDMS ingests
    sim = Simulation.create(city, DuckIntervalStore(), clock, tick_s=900.0)
    # remote operations: a share of meters is switched off at 10:00 and back on at 16:00
    n_switch = round(plan.meters * plan.switching_share)
    for i in range(days + 1):
        day_s = start.timestamp() + i * 86400
        picked = np.flatnonzero(
            hash_uniform(plan.seed, 1000 + i, city.fleet.meter_ids) < plan.switching_share
        )[:n_switch]
        for hour, kind in ((10, CommandKind.DISCONNECT), (16, CommandKind.RECONNECT)):
            sim.run_until(day_s + hour * 3600, progress)
            if len(picked) and i < days:
                sim.hes.submit(kind, picked, clock.timestamp())
    sim.run_until(start.timestamp() + (days + 1) * 86400, progress)
    per_method: dict[str, dict[str, list[float]]] = {}
    meters: dict[str, int] = {}
    for i in range(days):
        day = plan.start_day + timedelta(days=i)
        for row in daily_kpis(sim.mdms.store, registry, day, "comm_method", sim.hes.journal):
            meters[row.group] = row.meters
            acc = per_method.setdefault(row.group, {k: [] for k in KPI_NAMES})
            for k in KPI_NAMES:
                value = getattr(row, k)
                if value is not None:
                    acc[k].append(float(value))
    kpis = {
        group: {k: (sum(v) / len(v) if v else None) for k, v in acc.items()}
        for group, acc in per_method.items()
    }
    joined = joined_rates(city.network, city.method_codes, start.timestamp(), days)
    for group, rate in joined.items():
        if group in kpis:
            kpis[group]["network_joined_rate"] = rate
    n_conc = int(city.concentrator_of.max()) + 1 if (city.concentrator_of >= 0).any() else 0
    return {
        "area": plan.name,
        "days": days,
        "first_day": plan.start_day.isoformat(),
        "meters": meters,
        "concentrators": n_conc,
        "meters_per_concentrator": list(plan.meters_per_concentrator()),
        "scenarios": notes,
        "kpis": kpis,
        # replacements at certification expiry (検満取替) per fiscal year, beside the
        # seed's deployment plan (which excludes them where it says so)
        "expiry_replacements": {str(r.fiscal_year): r.meters for r in registry.expiry_forecast()},
    }


def joined_rates(
    network: NetworkModel, method_codes: np.ndarray, start_s: float, days: int
) -> dict[str, float]:
    """Network connection rate as joined meters: the mean, over the 48 slot ends of each
    day, of the share of meters joined to the network (reachable, whether read or not)."""
    index = np.arange(len(method_codes), dtype=np.int64)
    ends = start_s + SLOT_SECONDS * np.arange(1, days * SLOTS_PER_DAY + 1, dtype=np.float64)
    joined = np.zeros(len(index), dtype=np.float64)
    for at_s in ends:
        joined += network.reachable(index, float(at_s))
    joined /= len(ends)
    out = {"all": float(joined.mean()) if len(joined) else 0.0}
    for name, code in METHOD_CODES.items():
        sel = method_codes == code
        if sel.any():
            out[name] = float(joined[sel].mean())
    return out


def result_table(result: dict[str, Any]) -> Table:
    groups = [g for g in (*METHOD_CODES, "all") if g in result["kpis"]]
    table = Table(
        title=f"{result['area']}: KPIs per method, mean of {result['days']} day(s) "
        f"from {result['first_day']}"
    )
    table.add_column("KPI")
    for g in groups:
        table.add_column(g, justify="right", style="bold" if g == "all" else None)
    table.add_row("meters", *(f"{result['meters'][g]:,}" for g in groups))
    for k in PLAN_KPIS:
        cells = []
        for g in groups:
            v = result["kpis"][g].get(k)
            cells.append("—" if v is None else f"{v * 100:.2f} %")
        table.add_row(KPI_LABELS[k], *cells)
    return table


@click.command()
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Area description (TOML); see examples/areas/dense_city.toml and rural.toml.",
)
@click.option("--days", default=1, show_default=True, help="JST days to evaluate (1–31).")
@click.option("--meters", type=int, default=None, help="Override the area's meter count.")
@click.option(
    "--network",
    "network_file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Network parameter file layered over the packaged defaults.toml.",
)
@click.option(
    "--preset",
    default=None,
    help="Use the seed's A-route methods of an area (01–10, or 'area' for the file's own "
    "area_code) as the method mix instead of [method_mix].",
)
@click.option("--costs", is_flag=True, help="Add capex/opex and cost per read meter.")
@click.option("--curve", is_flag=True, help="Add the cost-versus-reading-rate curve.")
@click.option(
    "--curve-kpi",
    type=click.Choice(CURVE_KPIS),
    default="automatic_reading_rate",
    show_default=True,
    help="The rate the curve buys points of (the 60-min delivery rate shows more when "
    "backfill already reads every meter within 48 h).",
)
@click.option(
    "--cost-date",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Day whose cost figures apply (default: the area's start_day).",
)
@click.option(
    "--cost-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Cost figures (TOML) instead of the packaged config/aroute_costs.toml.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def command(
    config_path: Path,
    days: int,
    meters: int | None,
    network_file: Path | None,
    preset: str | None,
    costs: bool,
    curve: bool,
    curve_kpi: str,
    cost_date: datetime | None,
    cost_file: Path | None,
    as_json: bool,
) -> None:
    """Evaluate a communication-method mix for an area, KPIs per method side by side.

    The area file gives the meters ([area]: area_code, meters, density_per_km2,
    concentrator_reach_km, optional seed, pv_share, start_day), the share of each method
    ([method_mix]: mesh, cellular, plc), the share of meters switched off at 10:00 and on
    at 16:00 each day ([operations] switching_share, default 0.005), overrides of the
    network defaults ([network.mesh] etc.: any key of src/openami/network/defaults.toml, e.g.
    hop_distribution, hop_loss, noisy_share) and optional faults ([[scenario]] with kind
    concentrator_failure, blackout or interference, day, start "HH:MM", hours).

    The area is simulated through the network model, the HES and the MDMS for DAYS days
    plus one more (so late reads and backfill land); KPIs are the mean over the DAYS days.
    The network connection rate counts meters joined to the network (reachable, read or
    not); "meters with a read" counts those with at least one read received.

    With --costs (and --curve) the figures in force on --cost-date from
    config/aroute_costs.toml give capex, opex and the cost per automatically read meter per
    method, and what each further point of automatic reading would cost.
    """
    if not 1 <= days <= 31:
        raise click.BadParameter("--days must be within 1..31")
    try:
        mix = None
        if preset is not None:
            code = tomllib.loads(config_path.read_text("utf-8")).get("area", {}).get("area_code")
            mix = preset_mix(preset, str(code))
        plan = load_area(config_path, meters, mix)
    except (ValueError, OSError, tomllib.TOMLDecodeError) as exc:
        raise click.ClickException(str(exc)) from None
    day = cost_date.date() if cost_date is not None else plan.start_day
    if as_json:
        result = run_plan(plan, days, network_file)
        if costs or curve:
            result["costs"] = _costs(result, day, cost_file, curve, curve_kpi)
        click.echo(json.dumps(result))
        return
    total_s = (days + 1) * 86400.0
    t0 = datetime.combine(plan.start_day, datetime.min.time(), JST).timestamp()
    with console.status(f"simulating {plan.meters:,} meters × {days + 1} day(s)") as status:
        result = run_plan(
            plan,
            days,
            network_file,
            lambda now_s: status.update(
                f"simulating {plan.meters:,} meters: {100 * (now_s - t0) / total_s:.0f} %"
            ),
        )
    console.print(result_table(result))
    if costs or curve:
        for table in cost_tables(_costs(result, day, cost_file, curve, curve_kpi)):
            console.print(table)
    lo, hi = result["meters_per_concentrator"]
    forecast = ", ".join(f"FY{y} {n:,}" for y, n in result["expiry_replacements"].items())
    console.print(f"replacements at certification expiry: {forecast or 'none'}")
    console.print(
        f"{result['concentrators']} concentrator(s) of {lo}–{hi} meters; "
        + ("scenarios: " + "; ".join(result["scenarios"]) if result["scenarios"] else "no faults")
    )


def _costs(
    result: dict[str, Any], day: date, cost_file: Path | None, curve: bool, curve_kpi: str
) -> Any:
    try:
        return cost_report(result, day, cost_file, 10 if curve else None, curve_kpi)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
