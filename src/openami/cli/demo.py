"""`openami demo`: a simulated city, then the dashboard and the C-route API on it.

The first run builds a new city in the data directory and simulates its days; later runs
resume that city where it stopped (nothing is deleted), unless told ``--fresh``: then the
old directory is moved aside (``DATA_DIR.old-TIMESTAMP``), never deleted.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from openami.cli.serve import open_with_progress, serve_system, settings_from
from openami.mdms.kpi import KpiRow, daily_kpis
from openami.wiring import CREDENTIALS_FILE, System, has_city

console = Console()


def kpi_rich_table(day: date, rows: list[KpiRow]) -> Table:
    table = Table(
        title=f"A-route KPIs for {day.isoformat()} (JST)",
        caption="connected: network connection rate; 30 min / 60 min / 48 h: readings "
        "collected within that time; auto-read: automatic reading rate (自動検針率)",
    )
    table.add_column("method")
    table.add_column("meters", justify="right")
    # short headers so the table fits an 80-column terminal
    for name in ("connected", "30 min", "60 min", "48 h", "auto-read"):
        table.add_column(name, justify="right")
    for r in rows:
        table.add_row(
            r.group,
            f"{r.meters:,}",
            *(
                f"{v * 100:.2f} %"
                for v in (
                    r.network_connection_rate,
                    r.collection_30min_rate,
                    r.delivery_60min_rate,
                    r.collection_48h_rate,
                    r.automatic_reading_rate,
                )
            ),
            style="bold" if r.group == "all" else None,
        )
    return table


def _clear_for_fresh_city(data_dir: Path, fresh: bool, resuming: bool) -> Path | None:
    """Refuse to overwrite a data directory unless ``fresh``; with it, move the old city
    (its audit log included) aside to ``DATA_DIR.old-TIMESTAMP`` and return where: nothing
    is ever deleted."""
    if not data_dir.exists() or not any(data_dir.iterdir()):
        return None
    if not fresh:
        if resuming:
            return None
        raise click.ClickException(
            f"{data_dir} is not empty and holds no openami city: refusing to overwrite it. "
            "Use another --data-dir, or --fresh to move what is in it aside."
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = data_dir.with_name(f"{data_dir.name}.old-{stamp}")
    n = 1
    while aside.exists():
        aside = data_dir.with_name(f"{data_dir.name}.old-{stamp}-{n}")
        n += 1
    try:
        data_dir.rename(aside)
    except OSError as exc:
        raise click.ClickException(f"--fresh: cannot move {data_dir} aside: {exc}") from None
    console.print(f"[yellow]--fresh: the old city (and its audit log) moved to {aside}[/]")
    return aside


def _try_it(system: System) -> str:
    """Copy-pasteable commands that read the secrets from the credentials file (the
    secrets themselves are never printed)."""
    creds = system.credentials
    example = creds["example"]
    path = system.credentials_path
    owner = next(c for c in creds["clients"] if c["retailer_id"] == example["retailer_id"])
    pick = (
        f"import json; c=json.load(open('{path}')); "
        f"k=[x for x in c['clients'] if x['client_id']=='{owner['client_id']}'][0]; "
        "print(k['client_id']+':'+k['client_secret'])"
    )
    return (
        "\nTry it:\n"
        f'  CLIENT=$(python3 -c "{pick}")\n'
        f'  TOKEN=$(curl -s -d grant_type=client_credentials -u "$CLIENT" {creds["token_url"]} '
        "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')\n"
        f'  curl -H "Authorization: Bearer $TOKEN" '
        f"'{creds['api']}/v1/supply-points/{example['supply_point_id']}/intervals"
        f"?date={example['date']}'\n"
    )


@click.command()
@click.option("--meters", default=2000, show_default=True, help="Number of simulated meters.")
@click.option("--days", default=1, show_default=True, help="JST days to simulate, ending today.")
@click.option("--seed", default=1, show_default=True, help="Seed of every random draw.")
@click.option("--start", "start", default=None, help="First simulated day (YYYY-MM-DD) instead.")
@click.option(
    "--data-dir",
    default="openami-data",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Where the stores and {CREDENTIALS_FILE} are kept.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=8000, show_default=True, help="Port to serve on.")
@click.option("--once", is_flag=True, help="Simulate, print the KPI table and exit.")
@click.option(
    "--fresh",
    is_flag=True,
    help="Move the city in --data-dir aside (DATA_DIR.old-TIMESTAMP) and build a new one.",
)
def command(
    meters: int,
    days: int,
    seed: int,
    start: str | None,
    data_dir: Path,
    host: str,
    port: int,
    once: bool,
    fresh: bool,
) -> None:
    """Simulate a city of smart meters, then serve the dashboard and the C-route API.

    The meters' half-hour readings travel the A route (network model → HES → bus → MDMS);
    retailers fetch them over the C route with OAuth 2.0 client credentials, written to
    DATA_DIR/demo-credentials.json (owner-only; never printed). Run again on the same
    directory, the city resumes where it stopped; --fresh starts a new one.
    """
    if meters < 1 or days < 1:
        raise click.BadParameter("--meters and --days must be at least 1")
    try:
        start_day = date.fromisoformat(start) if start else None
    except ValueError:
        raise click.BadParameter(f"--start must be YYYY-MM-DD, got {start!r}") from None
    settings = settings_from(
        None,
        data_dir=data_dir,
        meters=meters,
        days=days,
        seed=seed,
        start=start_day,
        host=host,
        port=port,
    )
    resuming = has_city(settings) and not fresh
    _clear_for_fresh_city(data_dir, fresh, resuming)
    if resuming:
        console.print(f"resuming the city in {data_dir} (--fresh starts a new one)")
    t0 = time.perf_counter()
    system = open_with_progress(settings)
    elapsed = time.perf_counter() - t0
    shown = [system.first_day + timedelta(days=i) for i in range(days)]
    if system.resumed:
        shown = [system.simulation.clock.now().date() - timedelta(days=1)]
    for day in shown:
        rows = daily_kpis(system.context.mdms.store, system.context.registry, day)
        console.print(kpi_rich_table(day, rows))
    console.print(
        f"{'resumed' if system.resumed else 'simulated'} {meters:,} meters in {elapsed:.1f} s"
    )
    if once:
        system.close()
        return
    console.print(f"\n[bold]Dashboard[/]   {system.credentials['dashboard']}  (user operator)")
    console.print(f"[bold]API docs[/]    http://{host}:{port}/docs")
    console.print(f"[bold]Credentials[/] {system.credentials_path} (passwords and secrets)")
    click.echo(_try_it(system))
    console.print("[bold]Live[/]        the city keeps running on the clock while serving")
    serve_system(system)
