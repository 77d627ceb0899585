"""`openami mdms ingest / export / edit / estimate`: register reads in, values out, by hand."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from openami.cli.mdms_common import (
    DATA_DIR,
    EXIT_BAD_ROWS,
    VEE_CONFIG,
    err,
    open_mdms,
    parse_day,
    parse_instant,
    supply_point_key,
)
from openami.cli.mdms_conventional import ingest_manual_reads
from openami.clock import slots_of_day
from openami.mdms.bulk import ImportReport
from openami.mdms.ingest import VeeIngestResult
from openami.mdms.jobs import EditResult
from openami.mdms.service import Mdms
from openami.registry import InvalidSupplyPointId


@click.command()
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
@click.option(
    "--manual-reads",
    is_flag=True,
    help="FILE holds monthly reads of conventional meters (meter_id, read_on, "
    "import_register_wh, reader); stored all or nothing, then profiled (--estimate).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object for scripts.")
def ingest(
    file: Path,
    data_dir: Path,
    vee_config: Path | None,
    chunk_rows: int,
    estimate: bool,
    manual_reads: bool,
    as_json: bool,
) -> None:
    """Import register reads from FILE (CSV, or Parquet if it ends in .parquet).

    Columns: supply_point_id, slot_start (ISO 8601 with offset, on the :00/:30 grid),
    import_register_wh, export_register_wh (may be empty), optionally meter_id. Bad rows
    are reported with line and reason and skipped; good rows are validated and stored.
    Running the same file again adds nothing. Exit status 3 means some rows were bad.
    """
    if manual_reads:
        ingest_manual_reads(file, data_dir, estimate, as_json)
        return
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
        click.echo(json.dumps(_report_json(report)))
    else:
        _print_report(report, file.name)
    if report.bad:
        sys.exit(EXIT_BAD_ROWS)


def _report_json(report: ImportReport) -> dict[str, object]:
    out = asdict(report)
    out["bad"] = [{"line": line, "reason": reason} for line, reason in report.bad]
    return out


def _print_report(report: ImportReport, file_name: str) -> None:
    con = Console()
    table = Table(title=f"import of {file_name}")
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


@click.command()
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
    first_day, last_day = parse_day(first, "--from"), parse_day(last, "--to")
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


@click.command()
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
    slots = [parse_instant(s, "--slot-start") for s in slot_starts]
    with open_mdms(data_dir) as mdms:
        key = supply_point_key(mdms, supply_point_id)
        try:
            if total_wh is not None:
                result = _distribute(mdms, key, slots[0], n_slots, total_wh, user, reason)
            else:
                result = _edit_slots(mdms, key, slots, imports, exports, user, reason)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    click.echo(f"stored {result.versions} edited value(s)")
    if result.sum_check_ok is False:
        err.print(
            "[yellow]warning[/]: the edited values no longer add up to the register "
            "difference over the span (V05)"
        )


def _distribute(
    mdms: Mdms, key: int, first_slot: int, n_slots: int, total_wh: int, user: str, reason: str
) -> EditResult:
    if n_slots < 1 or total_wh < 0:
        raise click.BadParameter("--slots must be ≥ 1 and --total-wh ≥ 0")
    return mdms.distribute_total(key, first_slot, first_slot + n_slots - 1, total_wh, user, reason)


def _edit_slots(
    mdms: Mdms,
    key: int,
    slots: list[int],
    imports: tuple[int, ...],
    exports: tuple[int, ...],
    user: str,
    reason: str,
) -> EditResult:
    if len(imports) != len(slots) or (exports and len(exports) != len(slots)):
        raise click.BadParameter(
            "give one --import-wh (and optionally one --export-wh) per --slot-start"
        )
    export_wh: list[int | None] = list(exports) if exports else [None] * len(slots)
    return mdms.edit(key, slots, list(imports), export_wh, user, reason)


@click.command()
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
    a = slots_of_day(parse_day(first, "--from")).start
    b = slots_of_day(parse_day(last, "--to")).stop - 1
    with open_mdms(data_dir, vee_config) as mdms:
        result = mdms.finalize(a, b, user) if final else mdms.estimate(a, b, user=user)
    methods = ", ".join(f"{k}: {v:,}" for k, v in sorted(result.by_method.items())) or "none"
    click.echo(f"estimated {result.candidates:,} values in {result.gaps:,} gaps ({methods})")
