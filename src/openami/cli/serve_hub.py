"""`openami serve hub`: the C-route hub (API and dashboard) as a service of its own.

In the multi-process deployment the hub has no head-end in its process: retailers'
requests become commands on ``hes.command_requests`` (:class:`BusCommandPort`), served by
``openami serve hes``, and the outcomes on ``hes.commands`` conclude the requests
(docs/deployment.md, "Hub service"). The registry, API clients, requests and the switching
controls are in the transactional store shared with the other services (--db, or the
SQLite file of --data-dir); the command signing key is the one in --data-dir, whose public
half the HES services verify with.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
from pathlib import Path
from typing import Any

import click
import uvicorn

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import PARTITIONS
from openami.bus.port import BusUnavailable
from openami.bus.route import MeterRoute
from openami.cli.dlms_field import make_clock, open_db, with_clock_options
from openami.cli.options import DATA_DIR, DB
from openami.cli.serve_hes import _installed
from openami.clock import Clock
from openami.hub.bus_commands import BusCommandPort, OutcomeTap
from openami.hub.context import HubContext
from openami.hub.operator_commands import OperatorRoutedPort
from openami.hub.requests import request_service
from openami.hub.requests_workers import run_workers
from openami.log import get_logger, uvicorn_log_config
from openami.mdms import Mdms
from openami.registry import Registry
from openami.settings import url_without_password
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.clients import ClientStore
from openami.storage.repositories.command_signing import load_signing_key
from openami.storage.secrets import use_key_dir
from openami.storage.values_from_shared import SharedCurrentValues
from openami.web.app import create_app, server_config

log = get_logger(__name__)
#: the hub's own file of the dashboard operator's password (owner-only), when not given
CREDENTIALS_FILE = "hub-credentials.json"
#: the hub's own interval store (what the hub itself ingests, e.g. a meter operator's
#: readings); with --shared-values the current values come from the workers' shared store
INTERVAL_FILE = "hub-interval.duckdb"


@click.command("hub")
@DATA_DIR
@DB
@click.option(
    "--bus",
    "bus_url",
    envvar="OPENAMI_BUS_URL",
    required=True,
    metavar="URL",
    help="NATS JetStream server, nats://host:4222 (env OPENAMI_BUS_URL).",
)
@click.option("--bus-prefix", default="openami", show_default=True, envvar="OPENAMI_BUS_PREFIX")
@click.option(
    "--partitions", default=PARTITIONS, show_default=True, envvar="OPENAMI_BUS_PARTITIONS"
)
@click.option(
    "--name",
    default="hub",
    show_default=True,
    help="Durable consumer of command outcomes (hub replicas with one name share them).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option(
    "--step", "step_s", default=2.0, show_default=True, help="Wall seconds between worker rounds."
)
@click.option(
    "--operator-password",
    envvar="OPENAMI_OPERATOR_PASSWORD",
    default=None,
    help="The dashboard's bootstrap operator (else made and kept in --data-dir).",
)
@click.option(
    "--shared-values",
    "shared_values_uri",
    envvar="OPENAMI_SHARED_VALUES_URI",
    default=None,
    metavar="URI",
    help="The shared interval store the MDMS workers publish to: the API and dashboard "
    "serve its values (env OPENAMI_SHARED_VALUES_URI).",
)
@with_clock_options
def command(
    data_dir: Path,
    db_url: str | None,
    bus_url: str,
    bus_prefix: str,
    partitions: int,
    name: str,
    host: str,
    port: int,
    step_s: float,
    operator_password: str | None,
    shared_values_uri: str | None,
    speed: float | None,
    clock_anchor: float | None,
    clock_at_anchor: float | None,
) -> None:
    """Serve the hub's API and dashboard; requests go to HES services over the bus.

    Retailers' requests are decided as in the embedded system (caps, holds, four-eyes
    approval, the emergency stop, the hub's signature of remote switching), then sent on
    hes.command_requests; each request concludes from its command's outcome on hes.commands.
    SIGTERM or Ctrl-C stops after the round in hand.
    """
    clock = make_clock(speed, clock_anchor, clock_at_anchor)
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    database = open_db(data_dir, db_url)
    use_key_dir(database, data_dir)
    registry = Registry(database)
    store = DuckIntervalStore(data_dir / INTERVAL_FILE)
    try:
        bus = JetStreamBus(
            JetStreamConfig(url=bus_url, prefix=bus_prefix, consumer=name, partitions=partitions),
            route=MeterRoute(lambda: _installed(registry)),
        )
    except (BusUnavailable, ValueError) as exc:
        store.close()
        database.close()
        raise click.ClickException(str(exc)) from None
    port_ = BusCommandPort(database, bus)
    mdms = Mdms(store, registry, clock)
    if shared_values_uri:  # the workers' values, not this process's own (empty) store
        mdms.values_source = SharedCurrentValues(shared_values_uri)
    password = operator_password or _operator_password(data_dir)
    context = HubContext(
        registry,
        mdms,
        ClientStore(database),
        clock,
        "operator",
        password,
        audit=AuditLog(database),
        bus=OutcomeTap(bus, port_),
        command_signer=load_signing_key(data_dir),
    )
    # type (i) meters are switched through their meter operator, the others over the bus
    context.command_port = OperatorRoutedPort(port_, context)
    stop = threading.Event()
    rounds = threading.Thread(
        target=_rounds, args=(context, port_, clock, step_s, stop), name="hub-rounds", daemon=True
    )
    click.echo(
        f"hub on http://{host}:{port}/ (bus {url_without_password(bus_url)}, consumer {name})",
        err=True,
    )
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        request_service(context)  # subscribes to outcomes
        request_service(context).reconcile()  # the ones that came while it was down
        rounds.start()
        config = server_config(
            create_app(context), host, port, log_level="info", log_config=uvicorn_log_config()
        )
        uvicorn.Server(config).run()
    finally:
        stop.set()
        if rounds.is_alive():
            rounds.join(timeout=60)
        bus.close()
        store.close()
        database.close()


def _rounds(
    context: HubContext, port: BusCommandPort, clock: Clock, step_s: float, stop: threading.Event
) -> None:
    """Every ``step_s``: time out commands the HES never answered, run the hub workers
    (due requests → commands, jobs, webhooks), and conclude requests whose outcome came
    before the request was marked scheduled."""
    while not stop.is_set():
        try:
            now_s = clock.timestamp()
            port.sweep(now_s)
            run_workers(context, now_s)
            request_service(context).reconcile()
        except Exception:  # keep serving; the next round retries
            log.exception("hub.round_failed")
        stop.wait(step_s)


def _operator_password(data_dir: Path) -> str:
    """The dashboard operator's password from the hub's credentials file (made once)."""
    path = data_dir / CREDENTIALS_FILE
    if path.exists():
        return str(json.loads(path.read_text())["operator"]["password"])
    password = secrets.token_urlsafe(12)
    credentials: dict[str, Any] = {"operator": {"user": "operator", "password": password}}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(credentials, fh, indent=2)
    return password


def _exit_cleanly(_signum: int, _frame: Any) -> None:
    raise SystemExit(0)
