"""`openami serve hub`: the C-route API alone, in N processes, over shared stores.

Each process is a hub replica (:mod:`openami.wiring_hub`): the same answers from the shared
transactional store (PostgreSQL), the shared interval store and Redis, its share of the
data jobs and webhook deliveries claimed with leases. ``--workers N`` starts N processes on
one socket (uvicorn's supervisor, which restarts one that dies); start more commands like
this one on other machines behind a load balancer (docs/deployment.md, "Hub replicas").

With ``--bus`` the hub has a head-end to talk to in another process: retailers' requests
become commands on ``hes.command_requests`` (:class:`~openami.hub.bus_commands.BusCommandPort`),
served by ``openami serve hes``, and the outcomes on ``hes.commands`` conclude the requests
(docs/deployment.md, "Hub service"). The command signing key is the one in --data-dir, whose
public half the HES services verify with.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import click
import uvicorn
from fastapi import FastAPI
from rich.console import Console
from rich.table import Table

from openami.bus.messages import PARTITIONS
from openami.cli.dlms_field import with_clock_options
from openami.log import uvicorn_log_config
from openami.settings import Settings, url_without_password

console = Console(stderr=True)
#: how the command hands its settings to the processes it starts (JSON; never logged)
REPLICA_ENV = "OPENAMI_HUB_REPLICA"
_SETTING_KEYS = ("data_dir", "db_url", "shared_values_uri", "redis_url", "host", "port")
#: the hub's own file of the dashboard operator's password (owner-only), when not given
CREDENTIALS_FILE = "hub-credentials.json"


@click.command("hub")
@click.option("--workers", default=1, show_default=True, help="Hub processes on this socket.")
@click.option("--bind", "host", default=None, help="Address to serve on [127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to serve on [8000].")
@click.option("--db", "db_url", default=None, metavar="URL", help="postgresql+psycopg://…")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option(
    "--shared-values",
    "shared_values_uri",
    default=None,
    metavar="URI",
    help="The shared interval store the values are read from [OPENAMI_SHARED_VALUES_URI].",
)
@click.option(
    "--redis",
    "redis_url",
    default=None,
    metavar="URL",
    help="Redis for rate limits and lockouts shared by every replica [OPENAMI_REDIS_URL].",
)
@click.option(
    "--api-threads",
    type=click.IntRange(0, 1000),
    default=0,
    show_default=True,
    help="Worker threads of each process for the API's endpoints (0: 40). One thread "
    "answers the most point-days/s (less GIL contention) but lets a slow request hold "
    "the others up: see docs/croute.md.",
)
@click.option(
    "--quick-lane-threads",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker threads of each process for the one-point reads (JSON point-days, ESPI "
    "UsagePoints), apart from the other endpoints' threads: see docs/croute.md.",
)
@click.option(
    "--pin-cpus",
    is_flag=True,
    help="Pin each process (all its threads) to a CPU of its own: less GIL hand-off "
    "between cores, about 40 %% less CPU per request (docs/croute.md). Use with --workers "
    "up to the number of CPUs, on a machine that serves the hub.",
)
@click.option(
    "--slot-files-dir",
    default=None,
    metavar="DIR",
    help="The slot files every replica writes and serves (a directory all of them mount) "
    "[SHARED_VALUES/_slot_files].",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="TOML file of settings (docs/operations.md).",
)
@click.option(
    "--workers-every",
    "--step",
    "workers_every",
    default=5.0,
    show_default=True,
    help="Wall seconds between worker rounds.",
)
@click.option(
    "--claim-ttl",
    default=120.0,
    show_default=True,
    help="Seconds a dead replica's jobs and deliveries stay claimed.",
)
@click.option(
    "--healthcheck-timeout",
    "healthcheck_s",
    default=60,
    show_default=True,
    help="With --workers > 1: seconds a process may take to answer the supervisor's ping "
    "(a start included) before it is replaced.",
)
@click.option("--job-chunks", default=50, show_default=True, help="Job chunks per worker round.")
@click.option(
    "--rate-limit",
    "rate_per_s",
    default=20.0,
    show_default=True,
    help="Requests per second of each API client, across all replicas with --redis.",
)
@click.option("--burst", default=60.0, show_default=True, help="… and the burst above it.")
@click.option(
    "--allow-private-callbacks",
    is_flag=True,
    help="Deliver webhooks to loopback and private addresses (labs and tests only).",
)
@click.option(
    "--bus",
    "bus_url",
    envvar="OPENAMI_BUS_URL",
    default=None,
    metavar="URL",
    help="NATS JetStream server of the HES services, nats://host:4222: retailers' requests "
    "become commands there (env OPENAMI_BUS_URL; without it no command leaves this hub).",
)
@click.option("--bus-prefix", default="openami", show_default=True, envvar="OPENAMI_BUS_PREFIX")
@click.option(
    "--partitions", default=PARTITIONS, show_default=True, envvar="OPENAMI_BUS_PARTITIONS"
)
@click.option(
    "--name",
    "consumer",
    default="hub",
    show_default=True,
    help="Durable consumer of command outcomes (hub processes with one name share them).",
)
@click.option(
    "--operator-password",
    envvar="OPENAMI_OPERATOR_PASSWORD",
    default=None,
    help=f"The dashboard's bootstrap operator (else made once and kept in "
    f"DATA_DIR/{CREDENTIALS_FILE}, owner-only).",
)
@with_clock_options
@click.pass_context
def command(ctx: click.Context, workers: int, healthcheck_s: int, **options: Any) -> None:
    """Serve the C-route API (and dashboard) as stateless hub replicas.

    Every replica, here or on another machine, must be given the same --db, --shared-values,
    --redis and the keys of --data-dir. Values come from the shared interval store that the
    MDMS workers publish to; nothing here writes values. SIGTERM or Ctrl-C stops the
    processes after the requests in hand.
    """
    if workers < 1:
        raise click.BadParameter("at least 1", param_hint="--workers")
    spec = _spec(ctx, options)
    settings = _settings(spec)
    if not settings.shared_values_uri:
        raise click.UsageError("a hub replica reads values from the shared store: --shared-values")
    if options["bus_url"] and options["workers_every"] <= 0:
        raise click.BadParameter("commands need worker rounds", param_hint="--workers-every")
    _ensure_operator(settings.data_dir, options["operator_password"])
    os.environ[REPLICA_ENV] = json.dumps(spec)  # the processes below read it
    console.print(_status_table(settings, workers, spec["options"]["bus"]))
    uvicorn.run(
        "openami.cli.serve_hub:replica_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level="info",
        log_config=uvicorn_log_config(),
        proxy_headers=False,  # forwarded headers are the hub's business (trusted_proxies)
        server_header=False,
        # a process that does not answer the supervisor's ping in time is killed and
        # replaced: leave room for a start (imports, opening the stores) on a busy machine
        timeout_worker_healthcheck=healthcheck_s,
    )


def _spec(ctx: click.Context, options: dict[str, Any]) -> dict[str, Any]:
    parent = ctx.parent.params if ctx.parent is not None else {}
    overrides = {
        k: options.get(k) if options.get(k) is not None else parent.get(k) for k in _SETTING_KEYS
    }
    overrides = {k: str(v) if isinstance(v, Path) else v for k, v in overrides.items()}
    config = options["config"] or parent.get("config")
    return {
        "config": None if config is None else str(config),
        "overrides": overrides,
        "options": {
            "workers_every_s": options["workers_every"],
            "job_chunks": options["job_chunks"],
            "claim_ttl_s": options["claim_ttl"],
            "rate_per_s": options["rate_per_s"],
            "burst": options["burst"],
            "allow_private_callbacks": options["allow_private_callbacks"],
            "bus": _bus_spec(options),
            "clock": _clock_spec(options),
            "slot_files_dir": options["slot_files_dir"],
            "api_threads": options["api_threads"],
            "quick_lane_threads": options["quick_lane_threads"],
            "pin_cpus": options["pin_cpus"],
        },
    }


def _bus_spec(options: dict[str, Any]) -> dict[str, Any] | None:
    if not options["bus_url"]:
        return None
    return {
        "url": options["bus_url"],
        "prefix": options["bus_prefix"],
        "partitions": options["partitions"],
        "consumer": options["consumer"],
    }


def _clock_spec(options: dict[str, Any]) -> dict[str, float] | None:
    """An accelerated clock every process shares (one anchor, fixed here), or None: real."""
    speed, anchor_s, at_anchor_s = (
        options["speed"],
        options["clock_anchor"],
        options["clock_at_anchor"],
    )
    if speed is None:
        if anchor_s is not None or at_anchor_s is not None:
            raise click.UsageError("--clock-anchor and --clock-at-anchor need --speed")
        return None
    if speed <= 0:
        raise click.BadParameter("must be positive", param_hint="--speed")
    anchor_s = time.time() if anchor_s is None else anchor_s
    return {
        "speed": speed,
        "anchor_s": anchor_s,
        "at_anchor_s": anchor_s if at_anchor_s is None else at_anchor_s,
    }


def _ensure_operator(data_dir: Path, given: str | None) -> None:
    """The dashboard operator's password for the processes: --operator-password (passed on
    in the environment they inherit), else the credentials file, made once."""
    if given:
        os.environ["OPENAMI_OPERATOR_PASSWORD"] = given
        return
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / CREDENTIALS_FILE
    if path.exists():
        return
    credentials = {"operator": {"user": "operator", "password": secrets.token_urlsafe(12)}}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(credentials, fh, indent=2)


def operator_password(data_dir: Path) -> str:
    """What a hub process bootstraps the dashboard operator with ("" : nobody)."""
    given = os.environ.get("OPENAMI_OPERATOR_PASSWORD")
    if given:
        return given
    path = data_dir / CREDENTIALS_FILE
    if not path.exists():
        return ""
    return str(json.loads(path.read_text())["operator"]["password"])


def _settings(spec: dict[str, Any]) -> Settings:
    from openami.cli.serve import settings_from

    config = spec["config"]
    return settings_from(None if config is None else Path(config), **spec["overrides"])


def replica_app() -> FastAPI:
    """The app of one hub process (uvicorn calls this in each process it starts)."""
    from openami.wiring_hub import ReplicaOptions, open_hub_replica

    spec = json.loads(os.environ[REPLICA_ENV])
    settings = _settings(spec)
    hub_options = dict(spec["options"])
    if hub_options.pop("pin_cpus", False):  # before any thread of the replica starts
        from openami.cli.cpu_pin import pin_to_free_cpu

        pin_to_free_cpu()
    options = ReplicaOptions(**hub_options, operator_password=operator_password(settings.data_dir))
    return open_hub_replica(settings, options).app()


def _status_table(settings: Settings, workers: int, bus: dict[str, Any] | None) -> Table:
    table = Table(title="openami hub", show_header=False)
    table.add_column("setting")
    table.add_column("value")
    table.add_row("processes", str(workers))
    table.add_row("serving", f"http://{settings.host}:{settings.port}")
    table.add_row("store", url_without_password(settings.db_url or "SQLite in the data dir"))
    table.add_row("values", url_without_password(settings.shared_values_uri or ""))
    limits = "Redis " + url_without_password(settings.redis_url) if settings.redis_url else None
    table.add_row("rate limits", limits or "per process (no --redis)")
    table.add_row("sessions", "Redis" if settings.redis_url else "the store (web_sessions)")
    commands = f"bus {url_without_password(bus['url'])}" if bus else "none (no --bus)"
    table.add_row("commands", commands)
    return table
