"""Audit hooks of the hub: every C-route request and every read of personal data.

- :class:`AuditedRoute` is the route class of the C-route routers: after each request it
  appends a "request" entry (who: the authenticated client id or "anonymous"; what: method,
  path, query and HTTP status; when: the one clock; purpose: "api-access").
- :func:`record_reads` is called by endpoints that return personal data: one "read" entry
  per supply point, with the purpose of the access (for a retailer reading a point it
  supplies on those days: :data:`PURPOSE_RETAIL_SUPPLY`).

Nothing is logged when ``HubContext.audit`` is None. Secrets never reach the log: headers
are not recorded, and query strings of the C route carry no credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from openami.hub.client_address import client_address
from openami.storage.repositories.audit import AuditLog, AuditRecord

if TYPE_CHECKING:
    from openami.hub.context import HubContext

PURPOSE_API_ACCESS = "api-access"
PURPOSE_RETAIL_SUPPLY = "retail-supply: the retailer supplies the point on these days"
ANONYMOUS = "anonymous"


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
                audit = _audit_of(request)
                if audit is not None:
                    record = _request_record(request, status)
                    await run_in_threadpool(audit.append, record)

        return handler


def _request_record(request: Request, status: int) -> AuditRecord:
    context = request.app.state.hub
    query = request.url.query
    return AuditRecord(
        at=context.clock.timestamp(),
        kind="request",
        actor=str(getattr(request.state, "audit_actor", ANONYMOUS)),
        action=f"{request.method} {request.url.path}" + (f"?{query}" if query else ""),
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
    """Log reads of personal data: ``reads`` = (supply point ID, period read) pairs."""
    audit = context.audit
    if audit is None or not reads:
        return
    now_s = context.clock.timestamp()
    audit.append_many(
        [
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
    )
