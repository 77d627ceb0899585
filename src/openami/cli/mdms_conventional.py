"""`openami mdms meter-type / point-class / profile / demand / reading-rate` and the
manual-read path of `openami mdms ingest --manual-reads`: conventional meters, high-voltage
points and the automatic reading rate over the rollout."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path

import click
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from openami.cli.mdms_common import (
    DATA_DIR,
    EXIT_BAD_ROWS,
    open_mdms,
    parse_day,
    supply_point_key,
)
from openami.clock import jst_day_of_s
from openami.mdms.conventional import ProfileResult, profile_manual_reads, set_meter_kinds
from openami.mdms.high_voltage import ContractKw, HighVoltage, HighVoltageError
from openami.mdms.reading_rate import day_and_rollout, month_range, rollout_reading_rate
from openami.registry.kinds import (
    LOAD_SHAPES,
    METER_TYPES,
    VOLTAGE_CLASSES,
    KindError,
    ManualReadError,
    ManualReadReport,
)

JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")


def ingest_manual_reads(file: Path, data_dir: Path, profile: bool, as_json: bool) -> None:
    """Store the manual reads of FILE (all or nothing) and profile the new periods."""
    with open_mdms(data_dir) as mdms:
        kinds = mdms.registry.kinds
        today = jst_day_of_s(mdms.clock.timestamp())
        try:
            report = kinds.import_manual_reads(file, today)
        except ManualReadError as exc:
            _refused(exc, as_json)
            return
        except (ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from None
        profiled = (
            profile_manual_reads(mdms, kinds, report.meters) if profile and report.meters else None
        )
    if as_json:
        click.echo(json.dumps(_report_json(report, profiled)))
        return
    con = Console()
    table = Table(title=f"manual reads of {file.name}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in (
        ("rows", report.rows),
        ("new reads", report.stored),
        ("repeated identical reads", report.repeated),
        ("profiled periods", profiled.periods - profiled.unplaced if profiled else 0),
        ("profiled energy [Wh]", profiled.energy_wh if profiled else 0),
        ("new profiled values", profiled.values if profiled else 0),
    ):
        table.add_row(label, f"{value:,}")
    con.print(table)


def _report_json(report: ManualReadReport, profiled: ProfileResult | None) -> dict[str, object]:
    out: dict[str, object] = asdict(report)
    out["profiling"] = asdict(profiled) if profiled else None
    return out


def _refused(exc: ManualReadError, as_json: bool) -> None:
    problems = [asdict(p) for p in exc.problems]
    if as_json:
        click.echo(json.dumps({"stored": 0, "problems": problems}))
    else:
        err = Console(stderr=True)
        err.print("nothing stored: the file has bad reads")
        for p in exc.problems[:20]:
            err.print(f"line {p.line}: {p.code}: {p.message}")
        if len(exc.problems) > 20:
            err.print(f"… and {len(exc.problems) - 20:,} more (use --json for all)")
    sys.exit(EXIT_BAD_ROWS)


@click.command("meter-type")
@click.argument("meter_id", type=int)
@click.option("--type", "meter_type", type=click.Choice(METER_TYPES), required=True)
@click.option("--multiplier", type=int, default=1, show_default=True, help="CT/VT ratio (乗率).")
@DATA_DIR
def meter_type(meter_id: int, meter_type: str, multiplier: int, data_dir: Path) -> None:
    """Set a meter's type (smart or conventional) and multiplier."""
    with open_mdms(data_dir) as mdms:
        try:
            set_meter_kinds(mdms, [(meter_id, meter_type, multiplier)])
        except KindError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"meter {meter_id}: {meter_type}, multiplier {multiplier}")


@click.command("point-class")
@click.argument("supply_point_id")
@click.option("--voltage", type=click.Choice(VOLTAGE_CLASSES), required=True)
@click.option("--load-shape", type=click.Choice(LOAD_SHAPES), default="residential")
@DATA_DIR
def point_class(supply_point_id: str, voltage: str, load_shape: str, data_dir: Path) -> None:
    """Set a supply point's voltage class and the load shape it is profiled with."""
    with open_mdms(data_dir) as mdms:
        key = supply_point_key(mdms, supply_point_id)
        try:
            mdms.registry.kinds.set_point_classes([(key, voltage, load_shape)])
        except KindError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{supply_point_id}: {voltage} voltage, load shape {load_shape}")


@click.command("profile")
@click.option("--meter-id", "meter_ids", type=int, multiple=True, help="Only these meters.")
@DATA_DIR
@JSON
def profile(meter_ids: tuple[int, ...], data_dir: Path, as_json: bool) -> None:
    """Profile the periods between stored manual reads into half-hour values."""
    with open_mdms(data_dir) as mdms:
        result = profile_manual_reads(mdms, mdms.registry.kinds, list(meter_ids) or None)
    if as_json:
        click.echo(json.dumps(asdict(result)))
    else:
        click.echo(
            f"{result.periods - result.unplaced:,} periods profiled "
            f"({result.unplaced:,} without an installed meter), "
            f"{result.energy_wh:,} Wh, {result.values:,} new values"
        )


@click.command("demand")
@click.option("--supply-point", "supply_point_id", required=True, help="22-digit ID.")
@click.option("--month", required=True, help="YYYY-MM.")
@DATA_DIR
@JSON
def demand(supply_point_id: str, month: str, data_dir: Path, as_json: bool) -> None:
    """Monthly maximum demand and contract kW (実量制) of a high-voltage supply point."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise click.BadParameter(f"--month must be YYYY-MM, got {month!r}") from None
    with open_mdms(data_dir) as mdms:
        key = supply_point_key(mdms, supply_point_id)
        try:
            result = HighVoltage(mdms, mdms.registry).contract(key, first)
        except HighVoltageError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(asdict(result), default=str))
    else:
        _print_demand(result, supply_point_id)


def _print_demand(result: ContractKw, supply_point_id: str) -> None:
    con = Console()
    table = Table(title=f"demand of {supply_point_id}")
    for name in ("month", "energy [kWh]", "max demand [kW]", "slots with a value"):
        table.add_column(name, justify="right")
    for m in result.months:
        table.add_row(
            m.month.strftime("%Y-%m"),
            f"{m.energy_wh / 1000:,.1f}",
            f"{m.max_demand_kw:,.1f}",
            f"{m.slots_with_value}/{m.slots_in_month}",
        )
    con.print(table)
    note = " (≥ 500 kW: negotiated, 協議制)" if result.negotiated else ""
    con.print(f"contract kW for {result.month:%Y-%m}: {result.contract_kw}{note}")


@click.command("reading-rate")
@click.option("--from", "first", required=True, help="First month, YYYY-MM.")
@click.option("--to", "last", required=True, help="Last month, YYYY-MM.")
@click.option("--day", default=None, help="JST day for the per-day figure (default: yesterday).")
@DATA_DIR
@JSON
def reading_rate(first: str, last: str, day: str | None, data_dir: Path, as_json: bool) -> None:
    """Automatic reading rate per area over the rollout (month ends), and the day's figure.

    Rollout: smart meters in an area open for the A route ÷ installed meters (conventional
    ones included). Day: meters whose 48 values of the day are all measured ÷ installed."""
    months = month_range(_month(first, "--from"), _month(last, "--to"))
    if len(months) > MAX_MONTHS:
        raise click.BadParameter(f"at most {MAX_MONTHS} months at once")
    with open_mdms(data_dir) as mdms:
        the_day = (
            parse_day(day, "--day")
            if day
            else jst_day_of_s(mdms.clock.timestamp()) - timedelta(days=1)
        )
        rollout = rollout_reading_rate(mdms.registry, months)
        today = day_and_rollout(mdms, the_day)
    if as_json:
        out = {"rollout": rollout.to_pylist(), "day": the_day, "by_area": today.to_pylist()}
        click.echo(json.dumps(out, default=str))
        return
    _print_rates(rollout, today, the_day)


MAX_MONTHS = 240


def _month(text: str, name: str) -> date:
    try:
        return date.fromisoformat(f"{text}-01")
    except ValueError:
        raise click.BadParameter(f"{name} must be YYYY-MM, got {text!r}") from None


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _print_rates(rollout: pa.Table, today: pa.Table, day: date) -> None:
    con = Console()
    table = Table(title="automatic reading rate over the rollout (month ends)")
    for name in ("month", "area", "installed", "automatic", "rate", "target"):
        table.add_column(name, justify="right")
    for r in rollout.to_pylist():
        table.add_row(
            f"{r['month']:%Y-%m}",
            r["area_code"],
            f"{r['installed_meters']:,}",
            f"{r['automatic_meters']:,}",
            _pct(r["automatic_reading_rate"]),
            _pct(r["target"]),
        )
    con.print(table)
    table = Table(title=f"automatic reading rate on {day}: the day's values and the rollout")
    for name in ("area", "installed", "day (48 measured)", "rollout", "target"):
        table.add_column(name, justify="right")
    for r in today.to_pylist():
        table.add_row(
            r["area_code"],
            f"{r['installed_meters']:,}",
            _pct(r["automatic_reading_rate_day"]),
            _pct(r["automatic_reading_rate_rollout"]),
            _pct(r["target"]),
        )
    con.print(table)
