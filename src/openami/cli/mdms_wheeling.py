"""`openami mdms wheeling --period YYYY-MM`: wheeling charges and per-retailer invoices."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from openami.cli.mdms_common import DATA_DIR, open_mdms, write_private
from openami.clock.calendar import CalendarError
from openami.mdms.wheeling import supply_point_ids_of, wheeling_for
from openami.mdms.wheeling_invoices import Invoice, invoices
from openami.mdms.wheeling_tariffs import TariffError, UnknownTariff, load_tariffs


@click.command(name="wheeling")
@click.option(
    "--period", required=True, help="Billing month, YYYY-MM (periods end before its 計量日)."
)
@click.option(
    "--tariffs",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Tariff tables (TOML); default: the shipped example configuration.",
)
@click.option("--retailer", default=None, help="One retailer's charges only (default: all).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("wheeling"),
    show_default=True,
    help="Directory for the invoice files (CSV and HTML per retailer).",
)
@DATA_DIR
def wheeling(
    period: str, tariffs: Path | None, retailer: str | None, out: Path, data_dir: Path
) -> None:
    """Wheeling charges (託送料金) per supply point and billing period, and one invoice per
    retailer: ``wheeling_<retailer>_<period>.csv`` (one line per supply point and period)
    and ``.html`` (sums per area and menu, and the total)."""
    console = Console(stderr=True)
    try:
        tables = load_tariffs(tariffs)
    except (TariffError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--tariffs") from None
    with open_mdms(data_dir) as mdms, console.status("wheeling run") as status:

        def step(name: str) -> None:
            status.update(f"wheeling run {period}: {name}")
            console.log(f"{name} …")

        try:
            lines = wheeling_for(mdms, tables, period, retailer, step)
        except CalendarError as exc:
            raise click.BadParameter(str(exc), param_hint="--period") from None
        except UnknownTariff as exc:
            raise click.ClickException(f"{exc.code}: {exc}") from None
        step("invoices")
        bills = invoices(lines, supply_point_ids_of(mdms.registry, lines), period)
    out.mkdir(parents=True, exist_ok=True)
    for bill in bills:
        write_private(out / f"{bill.file_stem()}.csv", bill.csv)
        write_private(out / f"{bill.file_stem()}.html", bill.html)
    Console().print(_table(period, bills))
    click.echo(f"wrote {2 * len(bills)} files to {out}")


def _table(period: str, bills: list[Invoice]) -> Table:
    table = Table(title=f"wheeling charges, billing month {period} (¥, tax included)")
    for name in ("retailer", "lines", "total ¥", "files"):
        table.add_column(name)
    for bill in bills:
        table.add_row(bill.retailer_id, f"{bill.lines:,}", f"{bill.total_yen:,}", bill.file_stem())
    return table
