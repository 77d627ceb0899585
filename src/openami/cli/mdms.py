"""`openami mdms`: bulk import, CSV export, manual edits and estimation runs."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path

import click
import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
from rich.console import Console
from rich.table import Table

from openami.clock import RealClock, slot_index, slots_of_day
from openami.mdms.ingest import VeeIngestResult
from openami.mdms.service import Mdms
from openami.mdms.vee_config import load_vee_config
from openami.registry import InvalidSupplyPointId, Registry
from openami.storage.day_cluster import WINDOW_DAYS
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.parquet_days import compact_day, day_path

err = Console(stderr=True)
EXIT_BAD_ROWS = 3

DATA_DIR = click.option(
    "--data-dir",
    default="openami-data",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory holding registry.sqlite and interval.duckdb (as `openami demo` writes).",
)
VEE_CONFIG = click.option(
    "--vee-config",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="VEE rule parameters (TOML, same shape as openami/config/vee.toml).",
)


@contextmanager
def open_mdms(data_dir: Path, vee_config: Path | None = None) -> Iterator[Mdms]:
    registry_path = data_dir / "registry.sqlite"
    if not registry_path.exists():
        raise click.ClickException(
            f"no registry at {registry_path}; run `openami demo --once --data-dir {data_dir}` "
            "or point --data-dir at an existing openami data directory"
        )
    try:
        cfg = load_vee_config(vee_config)
    except (ValueError, KeyError) as exc:
        raise click.ClickException(f"bad VEE config: {exc}") from None
    registry = Registry.open(registry_path)
    try:
        store = DuckIntervalStore(data_dir / "interval.duckdb")
    except duckdb.IOException as exc:
        registry.close()
        raise click.ClickException(
            f"cannot open {data_dir / 'interval.duckdb'} (is another openami process using "
            f"it?): {exc}"
        ) from None
    try:
        yield Mdms(store, registry, RealClock(), cfg)
    finally:
        store.close()
        registry.close()


def _instant(text: str, name: str) -> int:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{name} must be ISO 8601, got {text!r}") from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{name} needs a UTC offset, e.g. {text}+09:00")
    if moment.timestamp() % 1800:
        raise click.BadParameter(f"{name} must be on the :00/:30 grid, got {text!r}")
    return slot_index(moment)


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{name} must be YYYY-MM-DD, got {text!r}") from None


@click.group()
def command() -> None:
    """Meter data management: import register reads, export half-hour values, edit, estimate.

    Every half-hour value carries a quality (measured, estimated, edited, missing, invalid),
    the VEE rule IDs that flagged it, the estimation method and whether it is final.
    Rules and methods are described in docs/mdms.md.
    """


@command.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@DATA_DIR
@VEE_CONFIG
@click.option(
    "--chunk-rows",
    default=1_000_000,
    show_default=True,
    help="Rows per transaction; each committed chunk is acknowledged on stderr.",
)
@click.option(
    "--estimate/--no-estimate",
    default=True,
    show_default=True,
    help="Estimate gaps between the file's first and last read afterwards.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")
def ingest(
    file: Path,
    data_dir: Path,
    vee_config: Path | None,
    chunk_rows: int,
    estimate: bool,
    as_json: bool,
) -> None:
    """Import register reads from FILE (CSV, or Parquet if it ends in .parquet).

    Columns: supply_point_id, slot_start (ISO 8601 with offset, on the :00/:30 grid),
    import_register_wh, export_register_wh (may be empty), optionally meter_id. Bad rows
    are reported with line and reason and skipped; good rows are validated and stored.
    Running the same file again adds nothing. Exit status 3 means some rows were bad.
    """
    if chunk_rows < 1:
        raise click.BadParameter("--chunk-rows must be at least 1")

    def ack(r: VeeIngestResult) -> None:
        if not as_json:
            err.print(f"committed chunk: {r.rows_in:,} rows, {r.values_new:,} new values")

    with open_mdms(data_dir, vee_config) as mdms:
        try:
            report = mdms.import_file(file, chunk_rows, estimate, ack)
        except (ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        out = asdict(report)
        out["bad"] = [{"line": line, "reason": reason} for line, reason in report.bad]
        click.echo(json.dumps(out))
    else:
        con = Console()
        table = Table(title=f"import of {file.name}")
        table.add_column("figure")
        table.add_column("value", justify="right")
        for label, value in (
            ("rows", report.rows),
            ("good rows", report.good_rows),
            ("bad rows", len(report.bad)),
            ("repeated identical rows", report.same_duplicates),
            ("new register reads", report.reads_new),
            ("new value versions", report.values_new),
            ("invalid values", report.invalid),
            ("flagged values", report.flagged),
            ("estimated values", report.estimation.candidates if report.estimation else 0),
        ):
            table.add_row(label, f"{value:,}")
        con.print(table)
        for line, reason in report.bad[:20]:
            con.print(f"line {line}: {reason}")
        if len(report.bad) > 20:
            con.print(f"… and {len(report.bad) - 20:,} more bad rows (use --json for all)")
    if report.bad:
        sys.exit(EXIT_BAD_ROWS)


@command.command()
@click.option("--supply-point", "supply_point_id", required=True, help="22-digit ID.")
@click.option("--from", "first", required=True, help="First JST day, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last JST day (inclusive), YYYY-MM-DD.")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the CSV here instead of standard output.",
)
@DATA_DIR
def export(
    supply_point_id: str, first: str, last: str, output: Path | None, data_dir: Path
) -> None:
    """Write the half-hour values of one supply point as CSV.

    One line per slot: supply_point_id, slot_start (JST, ISO 8601), import_wh, export_wh,
    quality, final, method, flags (VEE rule IDs), version. Slots without any value yet are
    'not_yet_available'.
    """
    first_day, last_day = _day(first, "--from"), _day(last, "--to")
    with open_mdms(data_dir) as mdms:
        try:
            text = mdms.export_csv(supply_point_id, first_day, last_day)
        except InvalidSupplyPointId as exc:
            raise click.BadParameter(str(exc)) from None
        except (KeyError, ValueError) as exc:
            raise click.ClickException(str(exc).strip("'\"")) from None
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@command.command()
@click.option("--supply-point", "supply_point_id", required=True, help="22-digit ID.")
@click.option(
    "--slot-start",
    "slot_starts",
    multiple=True,
    required=True,
    help="Start of a slot to edit (ISO 8601 with offset); repeat for several slots.",
)
@click.option("--import-wh", "imports", multiple=True, type=int, help="New import per slot.")
@click.option("--export-wh", "exports", multiple=True, type=int, help="New export per slot.")
@click.option(
    "--total-wh",
    type=int,
    default=None,
    help="Instead of per-slot values: spread this import total flat over --slots slots "
    "from the first --slot-start (estimation method E4).",
)
@click.option("--slots", "n_slots", type=int, default=1, show_default=True)
@click.option("--user", required=True, help="Who makes the edit (kept with the value).")
@click.option("--reason", required=True, help="Why (kept with the value).")
@DATA_DIR
def edit(
    supply_point_id: str,
    slot_starts: tuple[str, ...],
    imports: tuple[int, ...],
    exports: tuple[int, ...],
    total_wh: int | None,
    n_slots: int,
    user: str,
    reason: str,
    data_dir: Path,
) -> None:
    """Edit half-hour values by hand; every edit is a new version with user and reason.

    The sum check (V05) then compares the edited span with the meter's register reads and
    warns when they no longer agree.
    """
    slots = [_instant(s, "--slot-start") for s in slot_starts]
    with open_mdms(data_dir) as mdms:
        try:
            sp = mdms.registry.supply_point(supply_point_id)
        except InvalidSupplyPointId as exc:
            raise click.BadParameter(str(exc)) from None
        if sp is None:
            raise click.ClickException(f"unknown supply point {supply_point_id}")
        try:
            if total_wh is not None:
                if n_slots < 1 or total_wh < 0:
                    raise click.BadParameter("--slots must be ≥ 1 and --total-wh ≥ 0")
                result = mdms.distribute_total(
                    sp.supply_point_key, slots[0], slots[0] + n_slots - 1, total_wh, user, reason
                )
            else:
                if len(imports) != len(slots) or (exports and len(exports) != len(slots)):
                    raise click.BadParameter(
                        "give one --import-wh (and optionally one --export-wh) per --slot-start"
                    )
                result = mdms.edit(
                    sp.supply_point_key,
                    slots,
                    list(imports),
                    list(exports) if exports else [None] * len(slots),
                    user,
                    reason,
                )
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    click.echo(f"stored {result.versions} edited value(s)")
    if result.sum_check_ok is False:
        err.print(
            "[yellow]warning[/]: the edited values no longer add up to the register "
            "difference over the span (V05)"
        )


@command.command()
@click.option("--from", "first", required=True, help="First JST day, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last JST day (inclusive), YYYY-MM-DD.")
@click.option("--final", is_flag=True, help="Final estimates; the days become final.")
@click.option("--user", default="vee", show_default=True, help="Recorded with the estimates.")
@DATA_DIR
@VEE_CONFIG
def estimate(
    first: str, last: str, final: bool, user: str, data_dir: Path, vee_config: Path | None
) -> None:
    """Estimate every missing or invalid value of the days (methods E1-E3, docs/mdms.md)."""
    a, b = slots_of_day(_day(first, "--from")).start, slots_of_day(_day(last, "--to")).stop - 1
    with open_mdms(data_dir, vee_config) as mdms:
        result = mdms.finalize(a, b, user) if final else mdms.estimate(a, b, user=user)
    methods = ", ".join(f"{k}: {v:,}" for k, v in sorted(result.by_method.items())) or "none"
    click.echo(f"estimated {result.candidates:,} values in {result.gaps:,} gaps ({methods})")


@command.command()
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
@DATA_DIR
def settle(
    day: str, kind: str, estimate: bool, output: Path | None, user: str, data_dir: Path
) -> None:
    """Sum the day's half-hour values per slot and per area, balancing group and retailer.

    Membership is point in time (the retailer supplying each point that day). Each row has
    the number of points, how many values were measured/estimated/edited/missing, the
    estimated energy and an aggregate quality. Runs are kept: preliminary, final, correction.
    """
    the_day = _day(day, "--date")
    with open_mdms(data_dir) as mdms:
        run = mdms.settle(the_day, kind, estimate, user)
    rows = run.rows
    if output is not None:
        pacsv.write_csv(rows, output)
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
    Console().print(table)


@command.command()
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
@DATA_DIR
def bill(
    first: str,
    last: str,
    supply_point_id: str | None,
    day_start: str,
    day_end: str,
    output: Path | None,
    data_dir: Path,
) -> None:
    """Billing determinants per supply point: import/export kWh, day/night import, maximum
    half-hour demand, value counts per quality, billing-ready, and the V05 check against the
    register difference over the period."""
    a, b = _day(first, "--from"), _day(last, "--to")
    with open_mdms(data_dir) as mdms:
        keys = None
        if supply_point_id is not None:
            try:
                sp = mdms.registry.supply_point(supply_point_id)
            except InvalidSupplyPointId as exc:
                raise click.BadParameter(str(exc)) from None
            if sp is None:
                raise click.ClickException(f"unknown supply point {supply_point_id}")
            keys = [sp.supply_point_key]
        try:
            rows = mdms.bill(a, b, keys, (day_start, day_end))
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        ids = mdms.registry.supply_point_ids(rows.column("supply_point_key").to_pylist())
    rows = rows.add_column(0, "supply_point_id", pa.array(ids, pa.string()))
    if output is not None:
        pacsv.write_csv(rows, output)
        click.echo(f"wrote {rows.num_rows:,} rows to {output}")
        return
    table = Table(title=f"billing determinants {a} … {b} (JST)")
    cols = (
        "supply_point_id",
        "import_wh",
        "day_import_wh",
        "night_import_wh",
        "max_demand_w",
        "estimated",
        "missing",
        "billing_ready",
        "v05_ok",
    )
    for c in cols:
        table.add_column(c)
    for r in rows.select(list(cols)).to_pylist():
        table.add_row(*("" if r[c] is None else str(r[c]) for c in cols))
    Console().print(table)


@command.command()
@click.option("--from", "first", required=True, help="First JST day, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last JST day (inclusive), YYYY-MM-DD.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Root of the day partitions (OUT/day=YYYY-MM-DD/values.parquet).",
)
@DATA_DIR
def compact(first: str, last: str, out: Path, data_dir: Path) -> None:
    """Write the current values of each day as wide Parquet: one row per supply point and
    day with 48 import, export and quality values, sorted by supply point. Running it again
    for a day replaces that day's file."""
    a, b = _day(first, "--from"), _day(last, "--to")
    if b < a:
        raise click.BadParameter("--to comes before --from")
    with open_mdms(data_dir) as mdms:
        day = a
        while day <= b:
            rows = compact_day(mdms.store, day, out)
            click.echo(f"{day}: {rows:,} supply points → {day_path(out, day)}")
            day += timedelta(days=1)


@command.command(name="completeness")
@click.option("--date", "day", required=True, help="JST day, YYYY-MM-DD.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@DATA_DIR
def completeness_cmd(day: str, as_json: bool, data_dir: Path) -> None:
    """Reading rate and completeness of measured values per area against their targets:
    values measured within 60 minutes of the slot end (the C-route rule), 24 hours and 4 days
    (targets in vee.toml), and the reading rate, the share of supply points with all 48
    values measured (each utility area against its automatic reading rate target, 90-99 %)."""
    the_day = _day(day, "--date")
    with open_mdms(data_dir) as mdms:
        rows = mdms.completeness(the_day).to_pylist()
    if as_json:
        click.echo(json.dumps(rows))
        return
    table = Table(title=f"completeness of measured values for {the_day} (JST)")
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
    Console().print(table)


@command.command()
@click.option("--from", "first", required=True, help="First JST day, YYYY-MM-DD.")
@click.option("--to", "last", required=True, help="Last JST day (inclusive), YYYY-MM-DD.")
@click.option(
    "--window-days",
    type=click.IntRange(min=0),
    default=WINDOW_DAYS,
    show_default=True,
    help="Afterwards cluster every closed window of this many days point-major "
    "(0: do not cluster).",
)
@DATA_DIR
def pack(first: str, last: str, window_days: int, data_dir: Path) -> None:
    """Pack closed days of A-route ticks into day rows, so that one supply point's days
    are read fast.

    A-route ticks (one read per meter and slot) are stored as narrow rows, slot by slot,
    which keeps one slot's settlement fast but spreads a supply point's month over the whole
    file. Packing moves each supply-point day whose 48 values are still the first, measured
    (or invalid) register differences, from one meter with each read stored once, into one
    day row per supply point and day, and deletes the narrow rows it replaced. Nothing is
    lost: receipt times, sources, recording times and flags move along, and every query
    gives the same rows afterwards. Days with later versions (backfills, estimates, edits),
    meter exchanges or duplicate reads stay narrow. Running it again packs nothing more.

    Then every closed window of --window-days days (aligned, so each is done once) is
    re-written in supply point order: a supply point's days of one window lie together, so
    its month is read from a few places instead of one per day, while one slot's sums read
    a window instead of a day. Day rows from bulk imports are clustered the same way. Run it
    for days that are closed (e.g. nightly for the day before yesterday).
    """
    a, b = _day(first, "--from"), _day(last, "--to")
    if b < a:
        raise click.BadParameter("--to comes before --from")
    with open_mdms(data_dir) as mdms:
        result = mdms.pack(a, b)
        clustered = mdms.cluster(a, b, window_days) if window_days else None
    click.echo(
        f"packed {result.packed_days:,} supply-point days into day rows "
        f"({result.explicit_days:,} with explicit values; {result.values_packed:,} values, "
        f"{result.reads_packed:,} reads); {result.narrow_days:,} stayed narrow"
    )
    for reason, count in sorted(result.narrow_reasons.items(), key=lambda rc: -rc[1]):
        click.echo(f"  {count:,} {reason}")
    if result.packed_days and not result.checkpointed:
        click.echo("(the emptied row groups are freed at DuckDB's next checkpoint)")
    if clustered is not None:
        click.echo(
            f"clustered {clustered.windows:,} closed window(s) of {window_days} days "
            f"({clustered.rows:,} day rows) in supply point order"
        )
