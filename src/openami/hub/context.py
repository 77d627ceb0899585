"""What the hub and dashboard need from the rest of the system, in one object."""

from __future__ import annotations

from dataclasses import dataclass, field

from openami.clock import Clock
from openami.hub.ratelimit import RateLimiter
from openami.mdms.service import Mdms
from openami.registry import Registry
from openami.storage.audit_sqlite import AuditLog
from openami.storage.sqlite_clients import ClientStore


@dataclass
class HubContext:
    registry: Registry
    mdms: Mdms
    clients: ClientStore
    clock: Clock
    operator_user: str
    operator_password: str
    token_lifetime_s: float = 3600.0
    audit: AuditLog | None = None  # None: requests and reads are not logged
    rate_limits: RateLimiter | None = field(default_factory=RateLimiter)  # None: no limits
    espi_id_key: bytes | None = None  # key of opaque ESPI ids; None: kept in the registry
