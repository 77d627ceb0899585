"""`openami serve`: run the system on a persistent data directory (or PostgreSQL)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from openami.bus.port import BusUnavailable
from openami.clock import JST
from openami.log import uvicorn_log_config
from openami.settings import Settings, SettingsError, load_settings
from openami.storage.duckdb_interval import StoreInUse
from openami.storage.repositories import StorageError
from openami.web.app import server_config
from openami.wiring import System, open_system

console = Console(stderr=True)


def settings_from(config: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config, overrides=overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def open_with_progress(settings: Settings) -> System:
    """Open the system, showing the city's catch-up as a progress bar."""
    with Progress(
        TextColumn("[bold]bringing the city up to now[/]"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("catch-up", total=1.0)

        def report(done_s: float, total_s: float) -> None:
            bar.update(task, completed=done_s / total_s if total_s > 0 else 1.0)

        try:
            system = open_system(settings, report)
        except (StoreInUse, StorageError, BusUnavailable) as exc:
            raise click.ClickException(str(exc)) from None
        bar.update(task, completed=1.0)
    return system


def serve_system(system: System) -> None:
    """Serve the dashboard and the API while the city keeps running; stop cleanly on
    SIGTERM or Ctrl-C (a kill -9 loses nothing either: see docs/operations.md)."""
    settings = system.settings
    stop = threading.Event()
    live = threading.Thread(target=system.run_live, args=(stop,), name="live-city", daemon=True)
    live.start()
    # uvicorn shuts down gracefully on SIGTERM, then raises it again: end with exit status 0
    signal.signal(signal.SIGTERM, _exit_cleanly)
    tls: dict[str, Any] = {}
    if settings.tls_cert is not None:
        tls = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
    scheme = "https" if tls else "http"
    click.echo(f"serving on {scheme}://{settings.host}:{settings.port}", err=True)
    try:
        config = server_config(
            system.app(),
            settings.host,
            settings.port,
            log_level="info",
            log_config=uvicorn_log_config(),  # no supply point IDs in the access log
            **tls,
        )
        uvicorn.Server(config).run()
    finally:
        stop.set()
        live.join(timeout=60)
        system.close()


def _exit_cleanly(_signum: int, _frame: Any) -> None:
    raise SystemExit(0)


def status_table(system: System) -> Table:
    table = Table(title="openami", show_header=False)
    table.add_column("setting")
    table.add_column("value")
    table.add_row("city", "resumed" if system.resumed else "new")
    table.add_row("first day", system.first_day.isoformat())
    now = system.simulation.clock.now().astimezone(JST)
    table.add_row("clock", now.isoformat(timespec="seconds"))
    table.add_row("store", system.database.dialect)
    for key, value in system.settings.shown().items():
        if value:
            table.add_row(key, value)
    return table


@click.group(invoke_without_command=True)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="TOML file of settings (see docs/operations.md); OPENAMI_* variables override it.",
)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--db", "db_url", default=None, metavar="URL", help="postgresql+psycopg://…")
@click.option("--host", default=None, help="Address to serve on [127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to serve on [8000].")
@click.option("--speed", type=float, default=None, help="Simulated s per wall s [1].")
@click.option("--tls-cert", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--tls-key", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--bus",
    "bus_url",
    default=None,
    metavar="URL",
    help="NATS JetStream (nats://host:4222) instead of the in-process bus [OPENAMI_BUS_URL].",
)
@click.pass_context
def command(ctx: click.Context, config: Path | None, **options: Any) -> None:
    """Run openami: the city's meters, head-end, MDMS, C-route API and dashboard.

    Without a subcommand, everything runs in this one process (the embedded shape). The
    subcommands run one service each, for the multi-process deployment (docs/deployment.md).

    The data directory (or the PostgreSQL database) keeps everything: readings, values,
    requests, consents, tokens, webhooks, the audit log, the head-end's command queue and
    journal. Nothing is ever deleted; after a restart, even a kill -9, the city carries on
    where it stopped and every request scheduled before completes. A new data directory
    gets a new simulated city (settings meters, days, seed).
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = settings_from(config, **options)
    system = open_with_progress(settings)
    console.print(status_table(system))
    console.print(f"credentials: {system.credentials_path} (owner-only)")
    serve_system(system)


def _add_subcommands() -> None:
    from openami.cli import serve_mdms  # the MDMS worker (docs/deployment.md)

    command.add_command(serve_mdms.command)
    from openami.cli import serve_hes  # the HES service (docs/deployment.md)

    command.add_command(serve_hes.command)
    from openami.cli import serve_hub  # hub replicas, commands over the bus (docs/deployment.md)

    command.add_command(serve_hub.command)


_add_subcommands()
