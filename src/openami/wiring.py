"""The composition root: one place that builds the running system from :class:`Settings`.

Stores (the transactional store on SQLite or PostgreSQL, the interval store), services
(registry, MDMS), the bus, the head-end with its stored queue and journal, the simulated
city, the hub's context and the web app are made here and nowhere else; the commands
``openami serve`` and ``openami demo`` call :func:`open_system` and serve what it returns.

A data directory holds at most one city. Opened the first time it gets a new city (its
meters simulated from ``days`` before today); opened again, the stored city carries on from
where it stopped (:meth:`Simulation.resume`), and nothing is ever deleted here. Files and
directories are created owner-only (0600/0700).
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI

from openami.bus.select import open_bus
from openami.clock import JST, Clock, ManualClock
from openami.hes import broute_provisioning
from openami.hes.command_port import HesCommandPort
from openami.hes.switch_guard import SwitchGuard
from openami.hub.context import HubContext
from openami.hub.faults import attach_fault_tickets
from openami.hub.oauth import register_third_party
from openami.hub.operator_commands import OperatorRoutedPort
from openami.hub.requests_workers import attach_workers
from openami.hub.slot_files import attach_slot_files
from openami.log import get_logger
from openami.mdms.publish import VersionPublisher
from openami.mdms.tick_state import TICK_STATE_FILE, load_tick_state, save_tick_state
from openami.mdms.worker import MdmsWorker, WorkerOptions
from openami.mdms.worker_partition import RegistryLookups
from openami.registry import Registry
from openami.settings import Settings
from openami.sim import CityConfig, Simulation, build_city
from openami.sim.city import attach_city
from openami.sim.persist import load_config
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import Database, open_database, open_in_data_dir
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.broute_apps import BrouteApplicationStore
from openami.storage.repositories.clients import ApiClient, ClientStore
from openami.storage.repositories.command_signing import load_signing_key
from openami.storage.repositories.consents import ConsentStore
from openami.storage.repositories.hes import HesRecordStore, SimulationStore
from openami.storage.repositories.hes_guard import HesGuardStore
from openami.storage.repositories.leases import PartitionLeases
from openami.storage.secrets import use_key_dir
from openami.storage.shared_values import SharedValueStore, TickPublisher
from openami.storage.slot_files import SlotFileStore
from openami.web.app import create_app

log = get_logger(__name__)

CREDENTIALS_FILE = "demo-credentials.json"
SLOT_FILES_DIR = "slot-files"  # bulk slot files per retailer (docs/slot-files.md)
CLOCK_MODE = "clock_mode"
#: the city follows the wall clock (a city made without a start day, at speed 1) …
WALL_CLOCK = "wall"
#: … or runs on its own clock from its start day (``start`` given, or ``speed`` != 1)
OWN_CLOCK = "own"
INTERVAL_FILE = "interval.duckdb"
#: the durable consumers and the lease group of the MDMS workers
MDMS_CONSUMER = "mdms"
Progress = Callable[[float, float], None]  # (done, total) simulated seconds


@dataclass
class System:
    """Everything a running openami holds, built by :func:`open_system`."""

    settings: Settings
    database: Database
    store: DuckIntervalStore
    simulation: Simulation
    context: HubContext
    credentials: dict[str, Any]
    resumed: bool
    first_day: date
    clock_mode: str  # WALL_CLOCK or OWN_CLOCK
    #: publishes to the shared interval store (``shared_values_uri``), else None
    publisher: TickPublisher | None = None

    @property
    def credentials_path(self) -> Path:
        return self.settings.data_dir / CREDENTIALS_FILE

    def app(self) -> FastAPI:
        app = create_app(self.context)
        app.state.hes = self.simulation.hes  # HES counters and journal KPIs on /metrics
        if self.settings.metrics_token:
            app.state.metrics_token = self.settings.metrics_token
        return app

    @property
    def follows_wall_clock(self) -> bool:
        return self.clock_mode == WALL_CLOCK

    def live_target_s(self, anchor_wall_s: float, anchor_sim_s: float) -> float:
        """Where the city should be now: the wall clock, or its own clock running at
        ``speed`` from where it was when serving began."""
        if self.follows_wall_clock:
            return time.time()
        return anchor_sim_s + (time.time() - anchor_wall_s) * self.settings.speed

    def run_live(self, stop: threading.Event) -> None:
        """Keep the city running (meters, HES, MDMS, hub workers) until ``stop`` is set;
        the MDMS tick state is saved every ``tick_state_every_s``."""
        anchor_wall_s, anchor_sim_s = time.time(), self.simulation.clock.timestamp()
        saved_at = time.monotonic()
        while not stop.is_set():
            try:
                self.simulation.run_until(self.live_target_s(anchor_wall_s, anchor_sim_s))
            except Exception:  # keep serving; the next round retries
                log.exception("city.live_tick_failed")
            if time.monotonic() - saved_at >= self.settings.tick_state_every_s:
                self.save_tick_state()
                saved_at = time.monotonic()
            stop.wait(self.settings.live_every_s)

    @property
    def tick_state_path(self) -> Path:
        return self.settings.data_dir / TICK_STATE_FILE

    def save_tick_state(self) -> None:
        """Save the MDMS tick state beside the store (a failure is logged: the next start
        then builds the state from stored rows)."""
        mdms = self.simulation.mdms
        if mdms.tick_cache is None:
            return
        try:
            size = save_tick_state(mdms.tick_cache, self.store, mdms.vee, self.tick_state_path)
        except OSError:
            log.exception("mdms.tick_state_save_failed")
            return
        log.info("mdms.tick_state_saved", bytes=size or 0, in_step=size is not None)

    def close(self) -> None:
        """Save the tick state, sign a checkpoint of the audit log's head (see
        docs/security.md), then close (the bus first: the batch in hand is stored)."""
        self.simulation.bus.close()
        if self.publisher is not None:
            self.publisher.flush()  # readers elsewhere get the last ticks too
        self.save_tick_state()
        if self.context.audit is not None:
            try:
                self.context.audit.checkpoint()
            except Exception:  # closing goes on: the next start checkpoints again
                log.exception("audit.checkpoint_failed")
        self.store.close()
        self.database.close()


def prepare_data_dir(data_dir: Path) -> None:
    """Owner-only files from here on (umask 077) and the directory itself 0700."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    data_dir.chmod(0o700)


def has_city(settings: Settings) -> bool:
    """True when the configured store already holds a city (open_system would resume it)."""
    if settings.db_url is None and not (settings.data_dir / INTERVAL_FILE).exists():
        return False
    database = _open_database(settings)
    try:
        return load_config(SimulationStore(database)) is not None
    finally:
        database.close()


def _open_database(settings: Settings) -> Database:
    """The store; its keys (audit, master) live in the data directory, outside it."""
    if settings.db_url:
        database = open_database(settings.db_url)
        use_key_dir(database, settings.data_dir)
        return database
    return open_in_data_dir(settings.data_dir)


def open_system(settings: Settings, progress: Progress | None = None) -> System:
    """Open (or create) the system of ``settings`` and bring its city up to now.

    ``progress`` is told how far the catch-up has come. The clock catches up before
    anything is served, so tokens, rate limits and deadlines see only the live clock."""
    prepare_data_dir(settings.data_dir)
    database = _open_database(settings)
    store = DuckIntervalStore(settings.data_dir / INTERVAL_FILE)
    registry = Registry(database)
    records, state = HesRecordStore(database), SimulationStore(database)
    config = load_config(state)
    resumed = config is not None
    clock_mode = state.get(CLOCK_MODE) or WALL_CLOCK
    if config is None:
        clock_mode = WALL_CLOCK if settings.start is None and settings.speed == 1.0 else OWN_CLOCK
        state.put(CLOCK_MODE, clock_mode)
        first_day = settings.start or (datetime.now(JST).date() - timedelta(days=settings.days))
        config = CityConfig(meters=settings.meters, seed=settings.seed, start_day=first_day)
        city = build_city(config, registry)
        clock = ManualClock(datetime.combine(first_day, datetime.min.time(), JST))
        bus = open_bus(settings, lambda: _installed_meters(registry))
        sim = Simulation.create(
            city, store, clock, tick_s=settings.tick_s, records=records, state=state, bus=bus
        )
    else:
        city = attach_city(config, registry)
        clock = ManualClock(datetime.combine(config.start_day, datetime.min.time(), JST))
        bus = open_bus(settings, lambda: _installed_meters(registry))
        sim = Simulation.resume(city, store, clock, records, state, tick_s=settings.tick_s, bus=bus)
    credentials = _credentials(settings, database, registry, city, resumed)
    signer = load_signing_key(settings.data_dir)  # the HES admits only what the hub signed
    # B-route credentials: the HES writes the pair of the application's version it is given;
    # the simulated meters get back the pairs they held before a restart
    broute = BrouteApplicationStore(database)
    sim.hes.commands.credential_source = broute.credentials_to_provision
    broute_provisioning.restore(city.fleet, broute.held_by_meters())
    sim.hes.guard = SwitchGuard(HesGuardStore(database), signer.verifier(), len(city.fleet))
    context = HubContext(
        registry,
        sim.mdms,
        ClientStore(database),
        clock,
        "operator",
        credentials["operator"]["password"],
        audit=AuditLog(database),
        command_port=HesCommandPort(sim.hes),
        bus=sim.bus,
        command_signer=signer,
        trusted_proxies=settings.trusted_proxies,
        max_body_bytes=settings.max_body_bytes,
    )
    if not resumed:  # the demo's third party (its secret is in the credentials file)
        party = credentials["third_party"]
        register_third_party(
            context, party["client_id"], party["client_secret"], "TP001", [party["redirect_uri"]]
        )
    # type (i) meters are switched through their meter operator, the others through the HES
    context.command_port = OperatorRoutedPort(context.command_port, context)
    sim.mdms.audit = context.audit  # people's edits of values go in the audit chain
    attach_workers(context, sim.after_tick)
    attach_fault_tickets(context, sim.after_tick)  # alarms and V10 flags open fault tickets
    publisher = (
        TickPublisher(store, settings.shared_values_uri) if settings.shared_values_uri else None
    )
    if publisher is not None:  # other processes read the values (issue 13 §3)
        sim.after_tick.append(publisher)
    _load_tick_state(sim, store, settings.data_dir)
    _catch_up(sim, settings.days if not resumed else 0, clock_mode == WALL_CLOCK, progress)
    # slot files from here on (a new city's simulated past gets none; a restart goes on)
    slot_files = SlotFileStore(settings.data_dir / SLOT_FILES_DIR, store)
    sim.after_tick.insert(0, attach_slot_files(context, slot_files).tick)
    log.info(
        "system.opened",
        resumed=resumed,
        meters=config.meters,
        data_dir=str(settings.data_dir),
        engine=database.dialect,
    )
    return System(
        settings,
        database,
        store,
        sim,
        context,
        credentials,
        resumed,
        config.start_day,
        clock_mode,
        publisher,
    )


def _installed_meters(registry: Registry) -> tuple[np.ndarray, np.ndarray]:
    """(meter ids, supply point keys) of every installation, the latest last."""
    table = registry.installations_table().sort_by("valid_from")
    return (
        table.column("meter_id").to_numpy(zero_copy_only=False),
        table.column("supply_point_key").to_numpy(zero_copy_only=False),
    )


def _load_tick_state(sim: Simulation, store: DuckIntervalStore, data_dir: Path) -> None:
    """The tick state saved at the last shutdown, when the store has not changed since."""
    if sim.mdms.tick_cache is None:
        return
    got = load_tick_state(sim.mdms.tick_cache, store, sim.mdms.vee, data_dir / TICK_STATE_FILE)
    log.info("mdms.tick_state_loaded", loaded=got.loaded, meters=got.meters, reason=got.reason)


def _catch_up(
    sim: Simulation, new_days: int, to_wall_clock: bool, progress: Progress | None
) -> None:
    """Run a new city through its ``new_days`` simulated days (and the first collection
    hour after them), then, when it follows the wall clock, on to now."""
    start_s = sim.clock.timestamp()
    end_s = start_s + new_days * 86400 + 3600 if new_days else start_s
    if to_wall_clock:
        end_s = max(end_s, time.time())
    total = max(end_s - start_s, 0.0)
    report = None if progress is None else (lambda now_s: progress(now_s - start_s, total))
    sim.run_until(end_s, report)


def _credentials(
    settings: Settings,
    database: Database,
    registry: Registry,
    city: Any,
    resumed: bool,
) -> dict[str, Any]:
    """The demo's API clients, customer and third party: made with a new city, read back
    from the credentials file of a stored one."""
    path = settings.data_dir / CREDENTIALS_FILE
    credentials: dict[str, Any]
    if resumed and path.exists():
        credentials = json.loads(path.read_text())
    elif resumed:  # e.g. PostgreSQL opened from another directory: secrets are stored hashed
        log.warning("system.credentials_file_missing", path=str(path))
        credentials = {"operator": {"user": "operator", "password": secrets.token_urlsafe(12)}}
    else:
        credentials = _new_credentials(settings, database, registry, city)
    if settings.operator_password:
        credentials["operator"]["password"] = settings.operator_password
    _write_private(path, json.dumps(credentials, indent=2))
    return credentials


def _new_credentials(
    settings: Settings, database: Database, registry: Registry, city: Any
) -> dict[str, Any]:
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
    groups = sorted({r.balancing_group_id for r in registry.retailers()})
    group_rows = [_balancing_group_client(clients, group) for group in groups]
    base = f"{'https' if settings.tls_cert else 'http'}://{settings.host}:{settings.port}"
    first_day = city.config.start_day
    sample_key, sample_sp = city.supply_point_keys[0], city.supply_point_ids[0]
    customer_password = secrets.token_urlsafe(12)
    ConsentStore(database).add_customer("customer-0001", customer_password, [sample_key])
    third_party_secret = secrets.token_urlsafe(24)
    redirect_uri = "http://127.0.0.1:8080/callback"
    return {
        "dashboard": base + "/",
        "api": base,
        "token_url": base + "/oauth/token",
        "operator": {"user": "operator", "password": secrets.token_urlsafe(12)},
        "clients": client_rows,
        "balancing_group_clients": group_rows,  # demand plans and imbalance (settlement.md)
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
            "retailer_id": registry.retailer_on(sample_key, first_day),
            "date": first_day.isoformat(),
        },
    }


def _balancing_group_client(clients: ClientStore, group: str) -> dict[str, str]:
    """A demo API client of a balancing group (role ``balancing_group``)."""
    client_id, secret = f"bg-{group.lower()}", secrets.token_urlsafe(24)
    clients.register(ApiClient(client_id, "balancing_group", group), secret)
    return {"client_id": client_id, "client_secret": secret, "balancing_group_id": group}


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` owner-only, whole or not at all (write, then rename)."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, path)


def open_mdms_worker(
    settings: Settings,
    options: WorkerOptions,
    clock: Clock,
    ack_wait_s: float = 30.0,
    publisher: VersionPublisher | None = None,
) -> tuple[MdmsWorker, Callable[[], None]]:
    """An MDMS worker (``openami serve mdms --worker``, docs/deployment.md "MDMS workers")
    and the function that closes what it opened (bus, then the transactional store). Its
    leases and registry are in the transactional store of ``settings``; its partition stores
    under ``options.data_dir``; its bus is NATS JetStream (required). ``publisher`` gets the
    versions each partition committed, before the bus acknowledges: by default the shared
    interval store of ``settings.shared_values_uri`` when set (docs/interval-store.md)."""
    from openami.bus.jetstream import JetStreamBus, JetStreamConfig  # a worker needs NATS

    if settings.bus_url is None:
        raise ValueError("an MDMS worker needs the bus: --bus nats://host:4222")
    prepare_data_dir(settings.data_dir)
    database = _open_database(settings)
    try:
        config = JetStreamConfig(
            url=settings.bus_url,
            prefix=settings.bus_prefix,
            consumer=MDMS_CONSUMER,
            partitions=settings.bus_partitions,
            ack_wait_s=ack_wait_s,
        )
        bus = JetStreamBus(config)
    except BaseException:
        database.close()
        raise
    if publisher is None and settings.shared_values_uri:
        publisher = SharedValueStore(settings.shared_values_uri)
    leases = PartitionLeases(database, MDMS_CONSUMER, options.lease_ttl_s)
    lookups = RegistryLookups(Registry(database), options.partitions, options.registry_every_s)
    worker = MdmsWorker(options, bus, leases, lookups, clock, publisher=publisher)

    def close() -> None:
        bus.close()
        database.close()

    return worker, close
