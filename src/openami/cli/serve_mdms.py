"""`openami serve mdms --worker NAME`: one MDMS worker of the multi-process deployment.

The worker takes leases on bus partitions (fair share among the live workers), stores what
its partitions deliver in a store per partition under ``DATA_DIR/partitions/``, closes due
slots each half hour and hands its partitions over when it stops or dies
(docs/deployment.md, "MDMS workers").
"""

from __future__ import annotations

import re
import signal
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from openami.bus.port import BusUnavailable
from openami.clock import JST, Clock, ManualClock, RealClock, day_first_slot
from openami.mdms.worker import MdmsWorker, WorkerOptions
from openami.settings import Settings, url_without_password
from openami.storage.repositories import StorageError
from openami.wiring import open_mdms_worker

console = Console(stderr=True)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def _worker_name(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not _NAME.match(value):
        raise click.BadParameter(
            "1-63 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


@click.command("mdms")
@click.option(
    "--worker",
    "worker_name",
    required=True,
    callback=_worker_name,
    help="This worker's name, unique among the workers of the deployment (e.g. mdms-1).",
)
@click.option("--bus", "bus_url", default=None, metavar="URL", help="NATS JetStream (required).")
@click.option(
    "--db",
    "db_url",
    default=None,
    metavar="URL",
    help="The transactional store shared by all workers: leases and registry "
    "(postgresql+psycopg://…; default: the SQLite file of --data-dir, one machine only).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the partition stores live (DATA_DIR/partitions/p<kk>/); shared by every "
    "worker: a local directory on one machine, a shared file system across machines.",
)
@click.option(
    "--shared-values",
    "shared_values_uri",
    default=None,
    metavar="URI",
    help="Publish every committed version to this shared interval store (a Delta Lake table "
    "other processes read: docs/interval-store.md) before acknowledging "
    "[OPENAMI_SHARED_VALUES_URI].",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="TOML file of settings (bus_url, db_url, data_dir, bus_partitions, bus_prefix, …).",
)
@click.option("--lease-ttl", type=float, default=15.0, show_default=True, help="Lease TTL [s].")
@click.option(
    "--step", type=float, default=None, help="Seconds between lease rounds [lease TTL / 3]."
)
@click.option("--ack-wait", type=float, default=30.0, show_default=True, help="Bus ack wait [s].")
@click.option(
    "--store-memory",
    default="1GB",
    show_default=True,
    help="DuckDB buffer pool of each partition store (e.g. 512MB).",
)
@click.option(
    "--store-threads",
    type=click.IntRange(0, 1024),
    default=1,
    show_default=True,
    help="DuckDB threads of each partition store (0: one per core). One each stores more "
    "values/s: a worker holds many partitions; run one worker per core instead.",
)
@click.option(
    "--close-from",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="First JST day whose slots a new partition store closes [the slots due from now].",
)
@click.option(
    "--clock-at",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
    default=None,
    help="Hold the MDMS clock at this JST instant instead of the wall clock (replays, tests).",
)
@click.option(
    "--once",
    is_flag=True,
    help="Take the fair share, store the backlog, tick each partition once, then stop.",
)
@click.pass_context
def command(ctx: click.Context, worker_name: str, **options: Any) -> None:
    """Run one MDMS worker: the partitions whose leases it holds, each in a store of its own.

    Start as many as you like with different --worker names, on this machine or others, all
    with the same --bus, --db and --data-dir: they share the partitions among themselves,
    and when one stops (or is killed) the others take its partitions over.
    SIGTERM or Ctrl-C stops cleanly: the batch in hand is stored, the tick states saved and
    the leases released at once.
    """
    settings = _settings(ctx, options)
    options_ = _worker_options(worker_name, settings, options)
    clock = _clock(options["clock_at"])
    try:
        worker, close = open_mdms_worker(settings, options_, clock, options["ack_wait"])
    except (BusUnavailable, StorageError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    console.print(_status_table(worker, settings))
    stop = threading.Event()
    _on_signals(stop)
    try:
        worker.run(stop, once=options["once"])
    finally:
        worker.stop()
        close()
    console.print(_summary(worker))


def _settings(ctx: click.Context, options: dict[str, Any]) -> Settings:
    from openami.cli.serve import settings_from

    parent = ctx.parent.params if ctx.parent is not None else {}
    keys = ("data_dir", "db_url", "bus_url", "shared_values_uri")
    overrides = {k: options[k] if options[k] is not None else parent.get(k) for k in keys}
    config = options["config"] or parent.get("config")
    settings = settings_from(config, **overrides)
    if settings.bus_url is None:
        raise click.UsageError("an MDMS worker needs the bus: --bus nats://host:4222")
    return settings


def _worker_options(name: str, settings: Settings, options: dict[str, Any]) -> WorkerOptions:
    ttl = options["lease_ttl"]
    close_from: datetime | None = options["close_from"]
    try:
        return WorkerOptions(
            name=name,
            data_dir=settings.data_dir,
            partitions=settings.bus_partitions,
            lease_ttl_s=ttl,
            step_s=options["step"] if options["step"] is not None else ttl / 3,
            tick_state_every_s=settings.tick_state_every_s,
            store_memory=options["store_memory"],
            store_threads=options["store_threads"] or None,
            close_from_slot=None if close_from is None else day_first_slot(close_from.date()),
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _clock(at: datetime | None) -> Clock:
    if at is None:
        return RealClock()
    return ManualClock(at.replace(tzinfo=JST))


def _on_signals(stop: threading.Event) -> None:
    def handler(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _status_table(worker: MdmsWorker, settings: Settings) -> Table:
    opts = worker.options
    table = Table(title=f"MDMS worker {opts.name}", show_header=False)
    table.add_column("setting")
    table.add_column("value")
    table.add_row("bus", url_without_password(settings.bus_url or ""))
    table.add_row("bus prefix", settings.bus_prefix)
    table.add_row("store", url_without_password(settings.db_url or "SQLite in the data dir"))
    table.add_row("partition stores", str(opts.data_dir / "partitions"))
    table.add_row("partitions", str(opts.partitions))
    table.add_row("lease TTL / step", f"{opts.lease_ttl_s:g} s / {opts.step_s:g} s")
    table.add_row("clock", worker.clock.now().astimezone(JST).isoformat(timespec="seconds"))
    return table


def _summary(worker: MdmsWorker) -> Table:
    table = Table(title=f"MDMS worker {worker.options.name} stopped", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    for key, value in worker.stats.items():
        table.add_row(key.replace("_", " "), f"{value:,}")
    return table
