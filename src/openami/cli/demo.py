"""`openami demo`: simulate a city, then serve the dashboard and the C-route API."""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from openami.clock import JST, ManualClock
from openami.hes.command_port import HesCommandPort
from openami.hub.context import HubContext
from openami.hub.oauth import register_third_party
from openami.hub.requests_workers import attach_workers
from openami.log import get_logger
from openami.mdms.kpi import KpiRow, daily_kpis
from openami.registry import Registry
from openami.sim import CityConfig, Simulation, build_city
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_in_data_dir
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.clients import ApiClient, ClientStore
from openami.storage.repositories.consents import ConsentStore

console = Console()
log = get_logger(__name__)


@dataclass
class DemoResult:
    context: HubContext
    simulation: Simulation
    days: list[date]
    credentials: dict[str, Any]


def run_demo_simulation(
    meters: int, days: int, seed: int, data_dir: Path, start: date | None = None, port: int = 8000
) -> DemoResult:
    """Build a city in ``data_dir`` (fresh each run) and simulate ``days`` JST days."""
    data_dir.mkdir(parents=True, exist_ok=True)
    # every demo run is a new world: its registry, interval data and audit log start afresh
    for name in (
        "audit.sqlite",
        "audit.sqlite-wal",
        "audit.sqlite-shm",
        "registry.sqlite",
        "registry.sqlite-wal",
        "registry.sqlite-shm",
        "interval.duckdb",
        "interval.duckdb.wal",
    ):
        (data_dir / name).unlink(missing_ok=True)
    first_day = start or (datetime.now(JST).date() - timedelta(days=days))
    database = open_in_data_dir(data_dir)
    registry = Registry(database)
    city = build_city(CityConfig(meters=meters, seed=seed, start_day=first_day), registry)
    start_dt = datetime.combine(first_day, datetime.min.time(), JST)
    clock = ManualClock(start_dt)
    store = DuckIntervalStore(data_dir / "interval.duckdb")
    sim = Simulation.create(city, store, clock)
    end_s = start_dt.timestamp() + days * 86400 + 3600
    t0 = start_dt.timestamp()
    with Progress(
        TextColumn("[bold]simulating[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(f"{meters:,} meters × {days} day(s)", total=end_s - t0)
        sim.run_until(end_s, lambda now_s: progress.update(task, completed=now_s - t0))

    clients = ClientStore(database)
    client_rows = []
    for retailer in registry.retailers():
        client_id = f"retailer-{retailer.retailer_id.lower()}"
        secret = secrets.token_urlsafe(24)
        clients.register(ApiClient(client_id, "retailer", retailer.retailer_id), secret)
        client_rows.append(
            {
                "client_id": client_id,
                "client_secret": secret,
                "retailer_id": retailer.retailer_id,
                "retailer_name": retailer.name,
            }
        )
    operator_password = os.environ.get("OPENAMI_OPERATOR_PASSWORD") or secrets.token_urlsafe(12)
    # one clock: the simulation's; once serving, it follows real time (see follow_real_time)
    context = HubContext(
        registry,
        sim.mdms,
        clients,
        clock,
        "operator",
        operator_password,
        audit=AuditLog(database),
        command_port=HesCommandPort(sim.hes),
        bus=sim.bus,
    )
    sample_key = city.supply_point_keys[0]
    sample_sp = city.supply_point_ids[0]
    sample_retailer = registry.retailer_on(sample_key, first_day)
    base = f"http://127.0.0.1:{port}"
    # a customer holding the sample supply point, and a third party that may ask for consent
    customer_password = secrets.token_urlsafe(12)
    ConsentStore(database).add_customer("customer-0001", customer_password, [sample_key])
    third_party_secret = secrets.token_urlsafe(24)
    redirect_uri = "http://127.0.0.1:8080/callback"
    register_third_party(context, "tp-demo", third_party_secret, "TP001", [redirect_uri])
    credentials: dict[str, Any] = {
        "dashboard": base + "/",
        "api": base,
        "token_url": base + "/oauth/token",
        "operator": {"user": "operator", "password": operator_password},
        "clients": client_rows,
        "third_party": {
            "client_id": "tp-demo",
            "client_secret": third_party_secret,
            "redirect_uri": redirect_uri,
            "authorize_url": base + "/oauth/authorize",
        },
        "customer": {
            "customer_id": "customer-0001",
            "password": customer_password,
            "supply_point_id": sample_sp,
        },
        "example": {
            "supply_point_id": sample_sp,
            "retailer_id": sample_retailer,
            "date": first_day.isoformat(),
        },
    }
    cred_path = data_dir / "demo-credentials.json"
    fd = os.open(cred_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(credentials, fh, indent=2)
    log.info(
        "demo.simulated",
        meters=meters,
        days=days,
        readings_delivered=sim.hes.delivered,
        data_dir=str(data_dir),
    )
    sim_days = [first_day + timedelta(days=i) for i in range(days)]
    return DemoResult(context, sim, sim_days, credentials)


def follow_real_time(sim: Simulation, stop: threading.Event, every_s: float = 2.0) -> None:
    """Keep the city running on the wall clock: meters, HES, MDMS and hub workers advance
    to now every few seconds (first catching up from the end of the simulated days)."""
    while not stop.is_set():
        try:
            sim.run_until(time.time())
        except Exception:  # keep serving; the next round retries
            log.exception("demo.live_tick_failed")
        stop.wait(every_s)


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


@click.command()
@click.option("--meters", default=2000, show_default=True, help="Number of simulated meters.")
@click.option("--days", default=1, show_default=True, help="JST days to simulate, ending today.")
@click.option("--seed", default=1, show_default=True, help="Seed of every random draw.")
@click.option("--start", "start", default=None, help="First simulated day (YYYY-MM-DD) instead.")
@click.option(
    "--data-dir",
    default="openami-data",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Where the registry, interval store and demo-credentials.json are written.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=8000, show_default=True, help="Port to serve on.")
@click.option("--once", is_flag=True, help="Simulate, print the KPI table and exit.")
def command(
    meters: int,
    days: int,
    seed: int,
    start: str | None,
    data_dir: Path,
    host: str,
    port: int,
    once: bool,
) -> None:
    """Simulate a city of smart meters, then serve the dashboard and the C-route API.

    The meters' half-hour readings travel the A route (network model → HES → bus → MDMS);
    retailers fetch them over the C route with OAuth 2.0 client credentials, which are
    printed and written to DATA_DIR/demo-credentials.json.
    """
    if meters < 1 or days < 1:
        raise click.BadParameter("--meters and --days must be at least 1")
    try:
        start_day = date.fromisoformat(start) if start else None
    except ValueError:
        raise click.BadParameter(f"--start must be YYYY-MM-DD, got {start!r}") from None
    t0 = time.perf_counter()
    result = run_demo_simulation(meters, days, seed, data_dir, start_day, port)
    elapsed = time.perf_counter() - t0
    for day in result.days:
        console.print(
            kpi_rich_table(day, daily_kpis(result.context.mdms.store, result.context.registry, day))
        )
    console.print(f"simulated {meters:,} meters × {days} day(s) in {elapsed:.1f} s")
    if once:
        return
    creds = result.credentials
    example = creds["example"]
    console.print(
        f"\n[bold]Dashboard[/]  {creds['dashboard']}  (user operator, password "
        f"{creds['operator']['password']})"
    )
    console.print(f"[bold]API docs[/]   http://{host}:{port}/docs")
    console.print(f"[bold]Credentials[/] {data_dir / 'demo-credentials.json'}")
    sp_owner = next(c for c in creds["clients"] if c["retailer_id"] == example["retailer_id"])
    # plain echo, not rich: the commands must stay copy-pasteable (no wrapping)
    click.echo(
        "\nTry it:\n"
        f"  TOKEN=$(curl -s -d grant_type=client_credentials -u {sp_owner['client_id']}:"
        f"{sp_owner['client_secret']} http://{host}:{port}/oauth/token | python3 -c "
        "'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')\n"
        f'  curl -H "Authorization: Bearer $TOKEN" '
        f"'http://{host}:{port}/v1/supply-points/{example['supply_point_id']}/half-hour-values"
        f"?date={example['date']}'\n"
    )
    import uvicorn

    from openami.web.app import create_app

    # requests → HES commands, jobs, webhooks, after every tick of the simulation loop
    attach_workers(result.context, result.simulation.after_tick)
    stop = threading.Event()
    live = threading.Thread(
        target=follow_real_time, args=(result.simulation, stop), name="live-city", daemon=True
    )
    live.start()
    console.print("[bold]Live[/]       the city keeps running on the wall clock while serving")
    app = create_app(result.context)
    app.state.hes = result.simulation.hes  # HES counters and journal KPIs on /metrics
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        stop.set()
        live.join(timeout=30)
