"""`openami mdms settle / bill / completeness`: sums, billing determinants and completeness."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import click
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from openami.cli.mdms_common import (
    DATA_DIR,
    open_mdms,
    parse_day,
    supply_point_key,
    write_private_csv,
)
from openami.mdms.settlement import SettlementRun
from openami.mdms.spark_engine import DEFAULT_MASTER, ENGINES, SparkEngine
from openami.storage.spark_values import SparkUnavailableError, UnsupportedSnapshotError


def engine_options(command: Any) -> Any:
    """``--engine``, ``--master`` and ``--shared-uri`` (the Spark engine's inputs)."""
    options = (
        click.option(
            "--engine",
            type=click.Choice(ENGINES),
            default="duckdb",
            show_default=True,
            help="duckdb: the data directory's embedded store; spark: a Spark job over the "
            "shared interval store (--shared-uri), published from the data directory first.",
        ),
        click.option(
            "--master",
            envvar="OPENAMI_SPARK_MASTER",
            default=DEFAULT_MASTER,
            show_default=True,
            help="Spark master URL for --engine spark: local[N], spark://HOST:7077, yarn… "
            "(env OPENAMI_SPARK_MASTER).",
        ),
        click.option(
            "--shared-uri",
            envvar="OPENAMI_SHARED_VALUES_URI",
            default=None,
            metavar="DIR",
            help="The shared interval store Spark reads (env OPENAMI_SHARED_VALUES_URI); "
            "every Spark executor must reach it at this path.",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


def _spark(engine: str, master: str, shared_uri: str | None) -> SparkEngine | None:
    if engine == "duckdb":
        return None
    if not shared_uri:
        raise click.UsageError("--engine spark needs --shared-uri (the shared interval store)")
    return SparkEngine(shared_uri, master)


_ENGINE_ERRORS = (SparkUnavailableError, UnsupportedSnapshotError)


@click.command()
@click.option("--date", "day", required=True, help="JST day to settle, YYYY-MM-DD.")
@click.option(
    "--kind",
    type=click.Choice(["preliminary", "final", "correction"]),
    default="preliminary",
    show_default=True,
    help="Run kind; 'final' makes final estimates first and marks the day final.",
)
@click.option(
    "--estimate/--no-estimate",
    default=True,
    show_default=True,
    help="Estimate missing values first, so that no sum has a hole.",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write every slot row (all levels) as CSV here.",
)
@click.option("--user", default="settlement", show_default=True)
@engine_options
@DATA_DIR
def settle(
    day: str,
    kind: str,
    estimate: bool,
    output: Path | None,
    user: str,
    engine: str,
    master: str,
    shared_uri: str | None,
    data_dir: Path,
) -> None:
    """Sum the day's half-hour values per slot and per area, balancing group and retailer.

    Membership is point in time (the retailer supplying each point that day). Each row has
    the number of points, how many values were measured/estimated/edited/missing, the
    estimated energy and an aggregate quality. Runs are kept: preliminary, final, correction.
    """
    the_day = parse_day(day, "--date")
    spark = _spark(engine, master, shared_uri)
    with open_mdms(data_dir) as mdms:
        try:
            run = mdms.settle(the_day, kind, estimate, user, spark)
        except _ENGINE_ERRORS as exc:
            raise click.ClickException(str(exc)) from None
    if output is not None:
        write_private_csv(output, run.rows)
    Console().print(_daily_sums_table(run))
    if run.not_billable_values:
        Console().print(
            f"{run.not_billable_values} values metered after certification expiry (V12): "
            "not billable"
        )


def _daily_sums_table(run: SettlementRun) -> Table:
    """The run's sums over the day per level, area, balancing group and retailer."""
    rows = run.rows
    table = Table(title=f"settlement run {run.run_id} ({run.kind}) for {run.day} (JST), daily sums")
    for col in ("level", "area", "BG", "retailer", "import kWh", "export kWh", "estimated %"):
        table.add_column(col, justify="right" if "kWh" in col or "%" in col else "left")
    keys = ["level", "area_code", "balancing_group_id", "retailer_id"]
    daily = (
        rows.group_by(keys)
        .aggregate([("import_wh", "sum"), ("export_wh", "sum"), ("estimated_wh", "sum")])
        .sort_by([(k, "ascending") for k in keys])
        .to_pylist()
    )
    for r in daily:
        imp, exp, est = r["import_wh_sum"], r["export_wh_sum"], r["estimated_wh_sum"]
        table.add_row(
            *(r[k] or "" for k in keys),
            f"{imp / 1000:,.1f}",
            f"{exp / 1000:,.1f}",
            f"{100 * est / imp:.2f}" if imp else "-",
        )
    return table


@click.command()
@click.option("--from", "first", required=True, help="First JST day of the period.")
@click.option("--to", "last", required=True, help="Last JST day (inclusive).")
@click.option(
    "--supply-point", "supply_point_id", default=None, help="One supply point (default: all)."
)
@click.option("--day-start", default="07:00", show_default=True, help="Day band start (JST).")
@click.option("--day-end", default="23:00", show_default=True, help="Day band end (JST).")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the rows as CSV here instead of printing them.",
)
@engine_options
@DATA_DIR
def bill(
    first: str,
    last: str,
    supply_point_id: str | None,
    day_start: str,
    day_end: str,
    output: Path | None,
    engine: str,
    master: str,
    shared_uri: str | None,
    data_dir: Path,
) -> None:
    """Billing determinants per supply point: import/export kWh, day/night import, maximum
    half-hour demand, value counts per quality, billing-ready, and the V05 check against the
    register difference over the period."""
    a, b = parse_day(first, "--from"), parse_day(last, "--to")
    spark = _spark(engine, master, shared_uri)
    with open_mdms(data_dir) as mdms:
        keys = None if supply_point_id is None else [supply_point_key(mdms, supply_point_id)]
        try:
            rows = mdms.bill(a, b, keys, (day_start, day_end), spark)
        except _ENGINE_ERRORS as exc:
            raise click.ClickException(str(exc)) from None
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        ids = mdms.registry.supply_point_ids(rows.column("supply_point_key").to_pylist())
    rows = rows.add_column(0, "supply_point_id", pa.array(ids, pa.string()))
    if output is not None:
        write_private_csv(output, rows)
        click.echo(f"wrote {rows.num_rows:,} rows to {output}")
        return
    Console().print(_determinants_table(rows, a, b))


def _determinants_table(rows: pa.Table, first_day: date, last_day: date) -> Table:
    table = Table(title=f"billing determinants {first_day} … {last_day} (JST)")
    cols = (
        "supply_point_id",
        "import_wh",
        "day_import_wh",
        "night_import_wh",
        "max_demand_w",
        "estimated",
        "missing",
        "not_billable_values",
        "billing_ready",
        "v05_ok",
    )
    for c in cols:
        table.add_column(c)
    for r in rows.select(list(cols)).to_pylist():
        table.add_row(*("" if r[c] is None else str(r[c]) for c in cols))
    return table


@click.command(name="completeness")
@click.option("--date", "day", required=True, help="JST day, YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@DATA_DIR
def completeness_cmd(day: str, as_json: bool, data_dir: Path) -> None:
    """Reading rate and completeness of measured values per area against their targets:
    values measured within 60 minutes of the slot end (the C-route rule), 24 hours and 4 days
    (targets in vee.toml), and the reading rate, the share of supply points with all 48
    values measured (each utility area against its automatic reading rate target, 90-99 %)."""
    the_day = parse_day(day, "--date")
    with open_mdms(data_dir) as mdms:
        rows = mdms.completeness(the_day).to_pylist()
    if as_json:
        click.echo(json.dumps(rows))
        return
    Console().print(_completeness_table(the_day, rows))


def _completeness_table(day: date, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=f"completeness of measured values for {day} (JST)")
    table.add_column("area")
    table.add_column("points", justify="right")
    for name in ("available_60min", "available_24h", "available_4d", "reading_rate"):
        table.add_column(name, justify="right")
    for r in rows:
        cells = []
        for name in ("available_60min", "available_24h", "available_4d", "reading_rate"):
            v, t, ok = r[name], r[f"{name}_target"], r[f"{name}_met"]
            mark = "" if ok is None else (" ✓" if ok else " ✗")
            target = "" if t is None else f" (≥ {t * 100:g} %)"
            cells.append("-" if v is None else f"{v * 100:.2f} %{target}{mark}")
        table.add_row(r["area_code"], f"{r['points']:,}", *cells)
    return table
