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
  its own, and N replicas give a client N budgets).

Work queues are claimed per replica (``HubContext.replica_id``, leases of
``claim_ttl_s``): a data job or a webhook delivery runs in one replica at a time, and a
replica that dies leaves its claims to expire for the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI

from openami.clock import RealClock
from openami.hub.context import HubContext
from openami.hub.lockout import Lockout
from openami.hub.ratelimit import RateLimiter
from openami.hub.requests_workers import WorkerThread
from openami.log import get_logger
from openami.mdms.shared_values import SharedValuesMdms
from openami.registry import Registry
from openami.settings import Settings
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.clients import ClientStore
from openami.web.app import create_app
from openami.wiring import _open_database, prepare_data_dir

log = get_logger(__name__)


@dataclass
class HubReplica:
    """One hub process: its context, its app and its worker thread."""

    settings: Settings
    context: HubContext
    workers: WorkerThread | None
    close: Callable[[], None]

    def app(self) -> FastAPI:
        app = create_app(self.context)
        if self.settings.metrics_token:
            app.state.metrics_token = self.settings.metrics_token
        return app


def shared_limits(settings: Settings) -> tuple[RateLimiter, Lockout]:
    """The rate limiter and lockout of a replica: in Redis when ``redis_url`` is set."""
    if settings.redis_url is None:
        return RateLimiter(), Lockout()
    from openami.hub.ratelimit_redis import RedisLockout, RedisRateLimiter, connect

    client = connect(settings.redis_url)
    prefix = settings.redis_prefix
    return RedisRateLimiter(client, prefix), RedisLockout(client, prefix)


def open_hub_replica(
    settings: Settings, workers_every_s: float = 5.0, claim_ttl_s: float = 120.0
) -> HubReplica:
    """A hub replica over the stores of ``settings``, its workers running every
    ``workers_every_s`` wall seconds (0: no workers in this process)."""
    if not settings.shared_values_uri:
        raise ValueError(
            "a hub replica reads values from the shared interval store: give --shared-values"
        )
    prepare_data_dir(settings.data_dir)
    limits, lockout = shared_limits(settings)
    database = _open_database(settings)
    try:
        registry = Registry(database)
        clock = RealClock()
        context = HubContext(
            registry,
            SharedValuesMdms(settings.shared_values_uri, registry, clock),
            ClientStore(database),
            clock,
            "operator",
            "",  # the dashboard's accounts are the store's: a replica resets no password
            audit=AuditLog(database),
            rate_limits=limits,
            lockout=lockout,
            trusted_proxies=settings.trusted_proxies,
            max_body_bytes=settings.max_body_bytes,
            claim_ttl_s=claim_ttl_s,
        )
    except BaseException:
        database.close()
        raise
    workers = WorkerThread(context, workers_every_s).start() if workers_every_s > 0 else None

    def close() -> None:
        if workers is not None:
            workers.stop()
        database.close()

    log.info("hub.replica_opened", replica=context.replica_id, engine=database.dialect)
    return HubReplica(settings, context, workers, close)
