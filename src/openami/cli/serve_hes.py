"""`openami serve hes`: the head-end as a service of its own, for DLMS/COSEM meters over TCP.

It reads every meter registered with an endpoint (``openami dlms register-field``, or
provisioning) on the :00/:30 grid, publishes reads and command outcomes on NATS JetStream,
and takes commands from ``hes.command_requests`` (docs/deployment.md, "HES service").
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click
import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.messages import PARTITIONS, TOPIC_COMMAND_REQUESTS, partition_of
from openami.bus.port import BusUnavailable
from openami.bus.route import MeterRoute
from openami.cli.dlms import _resolve, _with_secrets
from openami.cli.dlms_field import make_clock, open_db, with_clock_options
from openami.cli.dlms_keys import HES_COUNTERS_DIR, HES_KEYS_FILE, open_key_store
from openami.cli.options import DATA_DIR, DB, host_port
from openami.clock import JST, Clock
from openami.hes.alarm_push import AlarmPushListener
from openami.hes.core import CollectionConfig
from openami.hes.dlms_access import DlmsAccess, MeterSecrets, SecretsOf
from openami.hes.service import HesService
from openami.hes.service_commands import ServiceCommands
from openami.hes.switch_guard import SwitchGuard
from openami.log import get_logger
from openami.registry import Registry
from openami.settings import url_without_password
from openami.storage.dlms_counters import ClientCounterFiles
from openami.storage.repositories.command_signing import load_signing_key
from openami.storage.repositories.hes_guard import HesGuardStore
from openami.storage.repositories.meter_endpoints import EndpointTable, MeterEndpoints
from openami.wiring_hub import installed_meters

console = Console(stderr=True)
log = get_logger(__name__)


@click.command("hes")
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
    "--name", default="hes", show_default=True, help="This service's durable consumer name."
)
@click.option(
    "--endpoint-permits",
    default=32,
    show_default=True,
    help="Concurrent sessions per endpoint (host:port).",
)
@click.option("--timeout", "timeout_s", default=5.0, show_default=True, help="Per request [s].")
@click.option("--max-retries", default=3, show_default=True, help="Retries of a failed session.")
@click.option(
    "--retry-base", "retry_base_s", default=150.0, show_default=True, help="First retry wait [s]."
)
@click.option(
    "--read-jitter",
    "push_jitter_s",
    default=120.0,
    show_default=True,
    help="Reads start spread over this many seconds after each boundary.",
)
@click.option(
    "--catch-up-slots",
    default=48,
    show_default=True,
    help="At start, fetch this many past boundaries' reads (the MDMS ignores re-sends).",
)
@click.option(
    "--shard",
    default="0/1",
    show_default=True,
    metavar="K/N",
    help="Read only the meters of shard K of N (a stable hash of the meter id): run N "
    "services with K = 0…N-1 to share the fleet.",
)
@click.option(
    "--alarm-listen",
    metavar="HOST:PORT",
    callback=host_port,
    help="Take the meters' alarm pushes (DataNotification) on this TCP address: each push "
    "reads that meter's alarms at once (`openami dlms serve --push-to` the same address).",
)
@click.option("--seed", default=1, show_default=True, help="Seed of the per-meter jitter.")
@click.option(
    "--boundaries", type=int, default=None, help="Stop after this many boundaries (tests)."
)
@with_clock_options
@_with_secrets
def command(
    data_dir: Path,
    db_url: str | None,
    bus_url: str,
    bus_prefix: str,
    partitions: int,
    name: str,
    endpoint_permits: int,
    timeout_s: float,
    max_retries: int,
    retry_base_s: float,
    push_jitter_s: float,
    catch_up_slots: int,
    shard: str,
    alarm_listen: tuple[str, int] | None,
    seed: int,
    boundaries: int | None,
    speed: float | None,
    clock_anchor: float | None,
    clock_at_anchor: float | None,
    password: str | None,
    key_hex: str | None,
    auth_key_hex: str | None,
    demo_secrets: bool,
) -> None:
    """Collect from DLMS/COSEM meters over TCP with the collection core of the simulation.

    Meters and their endpoints (host, port, logical device) come from the registry in --db
    (or --data-dir), each meter's secrets from the HES key store in --data-dir (`openami
    dlms keys-init`; --password/--key/--auth-key/--demo-secrets give every meter the same,
    for demos only). Reads, events and command outcomes go to JetStream at --bus; commands
    come from its hes.command_requests stream, checked by the switching guard (hub's
    signature, halt flag, fleet-wide cap). SIGTERM or Ctrl-C stops after the reads in hand
    are published.
    """
    clock = make_clock(speed, clock_anchor, clock_at_anchor)
    rate = speed or 1.0
    defaults = CollectionConfig()
    config = CollectionConfig(
        push_jitter_s=push_jitter_s,
        retry_base_s=retry_base_s,
        max_retries=max_retries,
        cell_permits=endpoint_permits,
        # an accelerated clock magnifies network delays: the clock rules scale with it
        clock_threshold_s=defaults.clock_threshold_s * rate,
        clock_sync_threshold_s=defaults.clock_sync_threshold_s * rate,
    )
    database = open_db(data_dir, db_url)
    try:
        k, n = _parse_shard(shard)
        endpoints = _shard(MeterEndpoints(database).all(), k, n)
        if n > 1 and name == "hes":
            name = f"hes-{k}-of-{n}"  # each shard sees every request, acts on its meters
        if not len(endpoints):
            raise click.ClickException(
                "no meter endpoints in the registry: run `openami dlms register-field` "
                "(or provision meters) first"
            )
        registry = Registry(database)
        secrets_of = _secrets(data_dir, password, key_hex, auth_key_hex, demo_secrets)
        access = DlmsAccess(
            endpoints.meter_id,
            endpoints.host,
            endpoints.port,
            endpoints.logical_device,
            secrets_of,
            clock,
            endpoint_permits=endpoint_permits,
            timeout_s=timeout_s,
            counters=ClientCounterFiles(data_dir / HES_COUNTERS_DIR),
        )
        try:
            bus = JetStreamBus(
                JetStreamConfig(
                    url=bus_url, prefix=bus_prefix, consumer=name, partitions=partitions
                ),
                route=MeterRoute(lambda: installed_meters(registry)),
            )
        except (BusUnavailable, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        guard = SwitchGuard(
            HesGuardStore(database), load_signing_key(data_dir).verifier(), len(endpoints)
        )
        _show(endpoints.host, endpoints.port, len(endpoints), bus_url, clock, speed)
        service = HesService(
            access, bus, clock, config, seed=seed, speed=rate, catch_up_slots=catch_up_slots
        )
        commands = ServiceCommands(
            access, bus, clock, config, guard, seed=seed, speed=rate, others_meters=n > 1
        )
        try:
            asyncio.run(_run(service, commands, bus, boundaries, alarm_listen))
        finally:
            bus.close()
    finally:
        database.close()
    stats = service.stats
    console.print(
        f"stopped: {stats.boundaries} boundaries, {stats.reads_published} reads published, "
        f"{stats.sessions_ok} sessions ok, {stats.sessions_failed} failed"
    )


async def _run(
    service: HesService,
    commands: ServiceCommands,
    bus: JetStreamBus,
    boundaries: int | None,
    alarm_listen: tuple[str, int] | None = None,
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    def on_requests(batch: pa.Table) -> None:  # the bus's handler thread: ack after outcomes
        asyncio.run_coroutine_threadsafe(commands.handle(batch), loop).result()

    bus.subscribe(TOPIC_COMMAND_REQUESTS, on_requests)
    if alarm_listen is None:
        await service.run(stop, boundaries)
        return
    listener = AlarmPushListener(service.access.meter_ids, service.alarm_pushed)
    server = await listener.start(*alarm_listen)
    for sock in server.sockets:
        console.print("alarm pushes taken on {}:{}".format(*sock.getsockname()[:2]))
    try:
        await service.run(stop, boundaries)
    finally:
        server.close()
        await server.wait_closed()


def _parse_shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise click.BadParameter("K/N, e.g. 0/2", param_hint="--shard") from None
    if not 0 <= k < n:
        raise click.BadParameter("0 ≤ K < N", param_hint="--shard")
    return k, n


def _shard(endpoints: EndpointTable, k: int, n: int) -> EndpointTable:
    """The endpoints of the meters in shard ``k`` of ``n`` (all when n is 1)."""
    if n == 1:
        return endpoints
    keep = np.flatnonzero(partition_of(endpoints.meter_id, n) == k)
    return EndpointTable(
        endpoints.meter_id[keep],
        [endpoints.host[i] for i in keep],
        endpoints.port[keep],
        endpoints.logical_device[keep],
    )


def _secrets(
    data_dir: Path,
    password: str | None,
    key_hex: str | None,
    auth_key_hex: str | None,
    demo: bool,
) -> SecretsOf:
    pw, keys = _resolve(password, key_hex, auth_key_hex, demo)
    if pw is not None or keys is not None:
        shared = MeterSecrets(pw, keys)
        return lambda _meter_id: shared
    store = open_key_store(data_dir, HES_KEYS_FILE)
    if store is None:
        console.print("[yellow]no HES key store and no secrets: public client only")
        return lambda _meter_id: None
    cache: dict[int, MeterSecrets | None] = {}

    def of(meter_id: int) -> MeterSecrets | None:
        if meter_id not in cache:
            stored = store.get(meter_id)
            cache[meter_id] = None if stored is None else MeterSecrets(stored.password, stored.keys)
        return cache[meter_id]

    return of


def _show(
    hosts: list[str],
    ports: np.ndarray,
    meters: int,
    bus_url: str,
    clock: Clock,
    speed: float | None,
) -> None:
    table = Table(title="openami HES service", show_header=False)
    table.add_column("setting")
    table.add_column("value")
    table.add_row("meters", f"{meters:,}")
    table.add_row("endpoints", f"{len(set(zip(hosts, ports.tolist(), strict=True))):,}")
    table.add_row("bus", url_without_password(bus_url))
    shown = clock.now().astimezone(JST).isoformat(timespec="seconds")
    table.add_row("clock", shown + ("" if speed is None else f" (accelerated ×{speed:g})"))
    console.print(table)
