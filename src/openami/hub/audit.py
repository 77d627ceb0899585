"""Audit hooks of the hub: every C-route request and every read of personal data.

- :class:`AuditedRoute` is the route class of the C-route routers: after each request it
  appends a "request" entry (who: the authenticated client id; what: method, path, query and
  HTTP status; when: the one clock; purpose: "api-access").
- Requests nobody authenticated ("anonymous": failed logins, bad tokens, floods) cost the log
  a bounded amount (issue #15 §3): per window of ``HubContext.anonymous_audit_window_s`` the
  first is written in full (``"sampled": true``) and the rest only counted; the next
  anonymous request after the window writes one "request-summary" entry with the counts per
  route and status and the busiest addresses. A flood therefore writes two entries a window.
- :func:`record_reads` is called by endpoints that return personal data: one "read" entry
  per supply point, with the purpose of the access (for a retailer reading a point it
  supplies on those days: :data:`PURPOSE_RETAIL_SUPPLY`).

Writes are grouped (:class:`AuditWriter`): during a request of an :class:`AuditedRoute`,
:func:`record_reads` only collects its entries; when the request is done, they and the
request entry go to the process's writer thread, which appends everything waiting in one
transaction (group commit), and the request is answered only after that commit. Under load
one commit serves many requests; no answered request lacks its entries, and a failed write
fails the request (500) instead of answering it unlogged.

Nothing is logged when ``HubContext.audit`` is None. Secrets never reach the log: headers
are not recorded, and query strings of the C route carry no credentials.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from openami.hub.client_address import client_address
from openami.storage.repositories.audit import AuditLog, AuditRecord

if TYPE_CHECKING:
    from openami.hub.context import HubContext

PURPOSE_API_ACCESS = "api-access"
PURPOSE_RETAIL_SUPPLY = "retail-supply: the retailer supplies the point on these days"
PURPOSE_OPERATIONS = "operations: an operator of the system at work"
ANONYMOUS = "anonymous"
SUMMARY_ROUTES = 50  # route/status pairs and addresses named in one summary, at most
MAX_COUNTED_ADDRESSES = 1000  # distinct addresses counted per window (the rest: "other")


@dataclass
class AnonymousTally:
    """Counts of anonymous requests in the current window (see the module doc)."""

    window_s: float
    started_s: float | None = None
    routes: Counter[tuple[str, int]] = field(default_factory=Counter)
    addresses: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, record: AuditRecord, route: str, address: str | None) -> list[AuditRecord]:
        """Count one anonymous request; returns what to write now (often nothing)."""
        status = int(record.detail.get("status", 0))
        with self._lock:
            out: list[AuditRecord] = []
            if self.started_s is None or record.at >= self.started_s + self.window_s:
                if self.routes:
                    out.append(self._summary(record.at))
                self.started_s = record.at
                self.routes.clear()
                self.addresses.clear()
                out.append(
                    AuditRecord(
                        at=record.at,
                        kind=record.kind,
                        actor=record.actor,
                        action=record.action,
                        purpose=record.purpose,
                        detail={**record.detail, "sampled": True, "window_s": self.window_s},
                    )
                )
            self.routes[(route, status)] += 1
            key = address or "unknown"
            if key in self.addresses or len(self.addresses) < MAX_COUNTED_ADDRESSES:
                self.addresses[key] += 1
            else:
                self.addresses["other"] += 1
            return out

    def _summary(self, now_s: float) -> AuditRecord:
        assert self.started_s is not None
        return AuditRecord(
            at=now_s,
            kind="request-summary",
            actor=ANONYMOUS,
            action="anonymous requests",
            purpose=PURPOSE_API_ACCESS,
            detail={
                "from": self.started_s,
                "until": self.started_s + self.window_s,
                "total": sum(self.routes.values()),
                "routes": [
                    [route, status, n]
                    for (route, status), n in self.routes.most_common(SUMMARY_ROUTES)
                ],
                "addresses": len(self.addresses),
                "busiest": self.addresses.most_common(SUMMARY_ROUTES),
            },
        )


def _tally(context: HubContext) -> AnonymousTally:
    tally = context.services.get("anonymous-audit")
    if not isinstance(tally, AnonymousTally):
        tally = context.services.setdefault(
            "anonymous-audit", AnonymousTally(context.anonymous_audit_window_s)
        )
    assert isinstance(tally, AnonymousTally)
    return tally


#: the entries :func:`record_reads` collected during the current audited request
_PENDING: ContextVar[list[AuditRecord] | None] = ContextVar("audit_pending", default=None)
MAX_GROUP = 500  # entries per group commit, at most


class AuditWriter:
    """One thread appending entries to an audit log in groups: :meth:`submit` queues a
    request's entries and returns a future resolved once they are committed (or failed)."""

    def __init__(self, audit: AuditLog) -> None:
        self.audit = audit
        self._queue: queue.SimpleQueue[tuple[list[AuditRecord], Future[None]]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def submit(self, records: list[AuditRecord]) -> Future[None]:
        done: Future[None] = Future()
        self._queue.put((records, done))
        return done

    def _run(self) -> None:
        while True:
            group = [self._queue.get()]
            size = len(group[0][0])
            while size < MAX_GROUP:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
                size += len(group[-1][0])
            self._commit(group)

    def _commit(self, group: list[tuple[list[AuditRecord], Future[None]]]) -> None:
        try:
            self.audit.append_many([r for records, _ in group for r in records])
        except BaseException as exc:  # every waiting request learns of it
            for _, done in group:
                done.set_exception(exc)
            return
        for _, done in group:
            done.set_result(None)


_WRITERS_LOCK = threading.Lock()


def audit_writer(context: HubContext, audit: AuditLog) -> AuditWriter:
    """The process's writer of ``audit`` (made on first use)."""
    writer = context.services.get("audit-writer")
    if isinstance(writer, AuditWriter) and writer.audit is audit:
        return writer
    with _WRITERS_LOCK:
        writer = context.services.get("audit-writer")
        if not (isinstance(writer, AuditWriter) and writer.audit is audit):
            writer = AuditWriter(audit)
            context.services["audit-writer"] = writer
    return writer


def _audit_of(request: Request) -> AuditLog | None:
    context = getattr(request.app.state, "hub", None)
    return getattr(context, "audit", None)


def set_actor(request: Request, client_id: str) -> None:
    """Remember who made this request (called once the bearer token is accepted)."""
    request.state.audit_actor = client_id


class AuditedRoute(APIRoute):
    """An APIRoute that logs each request it handles, whatever the outcome."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            status = 500
            pending: list[AuditRecord] = []
            _PENDING.set(pending)  # this request's task (and its thread calls) only
            try:
                response = await inner(request)
                status = response.status_code
                return response
            except StarletteHTTPException as exc:
                status = exc.status_code
                raise
            except RequestValidationError:
                status = 422
                raise
            finally:
                _PENDING.set(None)
                audit = _audit_of(request)
                if audit is not None:
                    context = request.app.state.hub
                    record = _request_record(request, status)
                    if record.actor == ANONYMOUS:
                        route = f"{request.method} {self.path}"
                        address = record.detail.get("client_ip")
                        due = pending + _tally(context).add(record, route, address)
                    else:
                        due = [*pending, record]
                    if due:
                        await asyncio.wrap_future(audit_writer(context, audit).submit(due))

        return handler


def _request_record(request: Request, status: int) -> AuditRecord:
    context = request.app.state.hub
    scope = request.scope  # the path and query as the server parsed them (no URL rebuilt)
    query = scope.get("query_string", b"").decode("latin-1")
    return AuditRecord(
        at=context.clock.timestamp(),
        kind="request",
        actor=str(getattr(request.state, "audit_actor", ANONYMOUS)),
        action=f"{request.method} {scope['path']}" + (f"?{query}" if query else ""),
        purpose=PURPOSE_API_ACCESS,
        detail={
            "status": status,
            "client_ip": client_address(request),
        },
    )


def record_reads(
    context: HubContext,
    actor: str,
    resource: str,
    reads: Sequence[tuple[str, str]],
    purpose: str = PURPOSE_RETAIL_SUPPLY,
) -> None:
    """Log reads of personal data: ``reads`` = (supply point ID, period read) pairs.
    Inside an audited request the entries are written with the request's (before it is
    answered); elsewhere at once."""
    audit = context.audit
    if audit is None or not reads:
        return
    now_s = context.clock.timestamp()
    records = [
        AuditRecord(
            at=now_s,
            kind="read",
            actor=actor,
            action=f"read {resource}",
            subject=subject,
            purpose=purpose,
            detail={"period": period},
        )
        for subject, period in reads
    ]
    pending = _PENDING.get()
    if pending is not None:
        pending.extend(records)
    else:
        audit.append_many(records)


def record_anonymous(
    context: HubContext, route: str, status: int, address: str | None, purpose: str
) -> None:
    """Log an unauthenticated event (e.g. a failed dashboard login) the bounded way: one
    sample and one summary per window, as anonymous requests of the API."""
    audit = context.audit
    if audit is None:
        return
    record = AuditRecord(
        at=context.clock.timestamp(),
        kind="request",
        actor=ANONYMOUS,
        action=route,
        purpose=purpose,
        detail={"status": status, "client_ip": address},
    )
    due = _tally(context).add(record, route, address)
    if due:
        audit.append_many(due)


def record_operator(
    context: HubContext,
    operator_name: str,
    action: str,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
    kind: str = "operator-action",
) -> None:
    """Log what an operator did (``kind`` "operator-action") or read (``kind`` "read")."""
    audit = context.audit
    if audit is None:
        return
    audit.append(
        AuditRecord(
            at=context.clock.timestamp(),
            kind=kind,
            actor=f"operator:{operator_name}",
            action=action,
            subject=subject,
            purpose=PURPOSE_OPERATIONS,
            detail=detail or {},
        )
    )
