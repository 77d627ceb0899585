"""The composition root of a hub replica (``openami serve hub``), beside :mod:`openami.wiring`.

A hub replica serves the C-route API and the dashboard and runs the hub workers (data jobs,
webhook deliveries, request deadlines) and nothing else: no city, no head-end, no MDMS
ingest. Everything it answers from is shared with every other replica:

- the transactional store of ``settings`` (PostgreSQL for replicas on several machines):
  clients, tokens, consents, requests, jobs, webhooks, the audit chain; its keys in the
  data directory (the same files on every replica);
- the shared interval store (``shared_values_uri``, required): the values the MDMS workers
  publish, read through :class:`~openami.mdms.shared_values.SharedValuesMdms`;
- Redis (``redis_url``), when set: the rate limits and lockouts (else each process keeps
  its own, and N replicas give a client N budgets), and the dashboard's and the portal's
  login sessions (else in the transactional store: a login holds at every replica);
- the slot files (``slot_files_dir``, default ``_slot_files`` in the shared store's
  directory): written by one replica at a time from the shared store's commits
  (:mod:`openami.hub.shared_changes`, which also queues ``half_hour_values.changed``),
  listed and served by every replica.

Work queues are claimed per replica (``HubContext.replica_id``, leases of
``claim_ttl_s``): a data job or a webhook delivery runs in one replica at a time, and a
replica that dies leaves its claims to expire for the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI

from openami.bus.jetstream import JetStreamBus, JetStreamConfig
from openami.bus.route import MeterRoute
from openami.clock import AnchoredClock, Clock, RealClock
from openami.hub.bus_commands import BusCommandPort, OutcomeTap
from openami.hub.context import HubContext
from openami.hub.lockout import Lockout
from openami.hub.operator_commands import OperatorRoutedPort
from openami.hub.operators import SessionStore
from openami.hub.ratelimit import RateLimiter
from openami.hub.requests import request_service
from openami.hub.requests_workers import WorkerThread
from openami.hub.sessions import CUSTOMER_REALM, OPERATOR_REALM, SharedSessions
from openami.hub.shared_changes import LEASE_GROUP, SharedChangeRound, attach_shared_changes
from openami.hub.slot_files import attach_slot_files
from openami.hub.webhooks import WebhookConfig, webhook_service
from openami.log import get_logger
from openami.mdms.shared_values import SharedValuesMdms
from openami.registry import Registry
from openami.settings import Settings
from openami.storage.repositories import Database
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.clients import ClientStore
from openami.storage.repositories.command_signing import load_signing_key
from openami.storage.repositories.leases import PartitionLeases
from openami.storage.repositories.web_sessions import WebSessionStore
from openami.storage.slot_files import SlotFileStore
from openami.storage.slot_files_shared import SharedSlotSource
from openami.web.app import ThreadPoolCap, create_app
from openami.wiring import _open_database, prepare_data_dir

log = get_logger(__name__)
SHARED_SLOT_FILES_DIR = "_slot_files"


@dataclass
class HubReplica:
    """One hub process: its context, its app and its worker thread."""

    settings: Settings
    context: HubContext
    workers: WorkerThread | None
    close: Callable[[], None]
    api_threads: int = 0

    def app(self) -> FastAPI:
        app = create_app(self.context)
        if self.settings.metrics_token:
            app.state.metrics_token = self.settings.metrics_token
        if self.api_threads > 0:
            app.add_middleware(ThreadPoolCap, threads=self.api_threads)
        return app


@dataclass(frozen=True)
class ReplicaOptions:
    """How one hub process runs (``openami serve hub`` options)."""

    workers_every_s: float = 5.0  # wall seconds between worker rounds (0: no workers here)
    job_chunks: int = 50  # data job chunks per worker round
    claim_ttl_s: float = 120.0  # a dead replica's jobs and deliveries stay claimed so long
    rate_per_s: float = 20.0  # each API client's budget (requests/s and burst)
    burst: float = 60.0
    allow_private_callbacks: bool = False  # webhooks to loopback/private addresses (labs)
    # the HES services' bus (url, prefix, partitions, consumer): requests become commands
    # there (hub/bus_commands.py); None: no command leaves this hub
    bus: dict[str, Any] | None = None
    # an accelerated clock shared with the field and the HES (speed, anchor_s, at_anchor_s)
    clock: dict[str, float] | None = None
    operator_password: str = ""  # the dashboard's bootstrap operator ("": none made here)
    # the slot files every replica shares (None: SHARED_STORE/_slot_files)
    slot_files_dir: str | None = None
    #: the event loop's worker threads for the plain endpoints (0: anyio's default, 40)
    api_threads: int = 0
    #: the threads of the one-point reads' own lane (hub/lanes.py)
    quick_lane_threads: int = 1


def shared_sessions(settings: Settings, database: Database) -> tuple[SessionStore, SessionStore]:
    """The dashboard's and the portal's login sessions, seen by every replica: in Redis when
    ``redis_url`` is set, else in the database (``web_sessions``)."""
    realms = (OPERATOR_REALM, CUSTOMER_REALM)
    if settings.redis_url is None:
        operator, customer = (SharedSessions(WebSessionStore(database, r)) for r in realms)
        return operator, customer
    from openami.hub.ratelimit_redis import connect
    from openami.hub.sessions_redis import RedisSessionBackend

    client, prefix = connect(settings.redis_url), settings.redis_prefix
    operator, customer = (SharedSessions(RedisSessionBackend(client, prefix, r)) for r in realms)
    return operator, customer


def shared_limits(settings: Settings, options: ReplicaOptions) -> tuple[RateLimiter, Lockout]:
    """The rate limiter and lockout of a replica: in Redis when ``redis_url`` is set."""
    budget = {"rate_per_s": options.rate_per_s, "burst": options.burst}
    if settings.redis_url is None:
        return RateLimiter(rate_per_s=options.rate_per_s, burst=options.burst), Lockout()
    from openami.hub.ratelimit_redis import RedisLockout, RedisRateLimiter, connect

    client = connect(settings.redis_url)
    prefix = settings.redis_prefix
    return RedisRateLimiter(client, prefix, **budget), RedisLockout(client, prefix)


def open_hub_replica(settings: Settings, options: ReplicaOptions | None = None) -> HubReplica:
    """A hub replica over the stores of ``settings``, run as ``options`` say."""
    options = options or ReplicaOptions()
    if not settings.shared_values_uri:
        raise ValueError(
            "a hub replica reads values from the shared interval store: give --shared-values"
        )
    prepare_data_dir(settings.data_dir)
    limits, lockout = shared_limits(settings, options)
    database = _open_database(settings)
    try:
        registry = Registry(database)
        clock = replica_clock(options.clock)
        operator_sessions, portal_sessions = shared_sessions(settings, database)
        context = HubContext(
            registry,
            SharedValuesMdms(settings.shared_values_uri, registry, clock),
            ClientStore(database),
            clock,
            "operator",
            options.operator_password,  # "": the dashboard's accounts are the store's
            audit=AuditLog(database),
            rate_limits=limits,
            lockout=lockout,
            trusted_proxies=settings.trusted_proxies,
            max_body_bytes=settings.max_body_bytes,
            claim_ttl_s=options.claim_ttl_s,
            quick_lane_threads=options.quick_lane_threads,
            operator_sessions=operator_sessions,
            portal_sessions=portal_sessions,
        )
        bus_round, close_bus = (None, None)
        if options.bus is not None:  # before any hub service subscribes to command outcomes
            bus_round, close_bus = attach_bus_commands(
                context, database, settings.data_dir, options.bus
            )
        webhook_service(context, WebhookConfig(allow_private=options.allow_private_callbacks))
        shared = attach_shared_slot_files(context, database, settings, options)
    except BaseException:
        database.close()
        raise
    workers = None
    if options.workers_every_s > 0:
        workers = WorkerThread(
            context, options.workers_every_s, options.job_chunks, bus_round=bus_round
        ).start()

    def close() -> None:
        if workers is not None:
            workers.stop()
        shared.leave()  # another replica takes the round over at once
        if close_bus is not None:
            close_bus()
        database.close()

    log.info("hub.replica_opened", replica=context.replica_id, engine=database.dialect)
    return HubReplica(settings, context, workers, close, options.api_threads)


def slot_files_root(shared_values_uri: str, given: str | None) -> Path:
    """Where the replicas keep the slot files: ``given``, else ``_slot_files`` in the
    shared store's directory (Delta leaves ``_``-prefixed directories alone)."""
    if given:
        return Path(given)
    return Path(shared_values_uri.removeprefix("file://")) / SHARED_SLOT_FILES_DIR


def attach_shared_slot_files(
    context: HubContext, database: Database, settings: Settings, options: ReplicaOptions
) -> SharedChangeRound:
    """The replica's slot-file service over the shared files directory, and the worker
    round that writes them (and notifies changed values) from the shared store's commits."""
    mdms = context.mdms
    assert isinstance(mdms, SharedValuesMdms)
    source = SharedSlotSource(mdms.reader)
    root = slot_files_root(str(settings.shared_values_uri), options.slot_files_dir)
    service = attach_slot_files(context, SlotFileStore(root, source))
    leases = PartitionLeases(database, LEASE_GROUP, options.claim_ttl_s)
    return attach_shared_changes(context, source, service, leases)


def replica_clock(spec: dict[str, float] | None) -> Clock:
    """The real clock, or the accelerated one the field and the HES were given."""
    if spec is None:
        return RealClock()
    return AnchoredClock(spec["at_anchor_s"], spec["anchor_s"], spec["speed"])


def installed_meters(registry: Registry) -> tuple[np.ndarray, np.ndarray]:
    """Meter IDs and the supply point keys they were installed at, oldest first (the bus
    routes a meter's messages to its supply point's partition)."""
    table = registry.installations_table().sort_by("valid_from")
    return (
        table.column("meter_id").to_numpy(zero_copy_only=False),
        table.column("supply_point_key").to_numpy(zero_copy_only=False),
    )


def attach_bus_commands(
    context: HubContext, database: Database, data_dir: Path, bus: dict[str, Any]
) -> tuple[Callable[[float], None], Callable[[], None]]:
    """Send the hub's commands to HES services over the bus at ``bus``: the command port
    (type (i) meters still through their meter operator), the outcome subscription, the
    signing key of ``data_dir``. Returns the per-round step (time out commands the HES
    never answered, conclude requests whose outcome came early) and the closer."""
    registry = context.registry
    config = JetStreamConfig(
        url=bus["url"], prefix=bus["prefix"], consumer=bus["consumer"], partitions=bus["partitions"]
    )
    jetstream = JetStreamBus(config, route=MeterRoute(lambda: installed_meters(registry)))
    port = BusCommandPort(database, jetstream)
    context.bus = OutcomeTap(jetstream, port)
    context.command_signer = load_signing_key(data_dir)
    context.command_port = OperatorRoutedPort(port, context)
    request_service(context).reconcile()  # subscribes; the outcomes that came while down

    def bus_round(now_s: float) -> None:
        port.sweep(now_s)
        request_service(context).reconcile()

    return bus_round, jetstream.close
