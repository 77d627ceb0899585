"""What the hub and dashboard need from the rest of the system, in one object.

Services (the MDMS, the registry), the bus, the command port to the head-end
(:class:`openami.hub.ports.CommandPort`) and the hub's own stores. Never the head-end, the
simulation or a database connection: the composition root wires those.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field

from openami.bus.inprocess import Bus
from openami.clock import Clock
from openami.hub.body_limit import DEFAULT_MAX_BODY_BYTES
from openami.hub.lockout import Lockout
from openami.hub.operators import OperatorAccounts, Sessions, SessionStore
from openami.hub.ports import CommandPort
from openami.hub.ratelimit import RateLimiter
from openami.mdms.service import Mdms
from openami.registry import Registry
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.clients import ClientStore
from openami.storage.repositories.command_signing import CommandSigner
from openami.storage.repositories.consents import ConsentStore
from openami.storage.repositories.oauth import OAuthStore
from openami.storage.repositories.operators import OperatorStore


def new_replica_id() -> str:
    """A name for this hub process, unique among the replicas sharing a store."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class HubContext:
    registry: Registry
    mdms: Mdms
    clients: ClientStore
    clock: Clock
    # the bootstrap dashboard account: made (or reset to) an admin with this password in the
    # operator accounts on construction; an empty password makes none
    operator_user: str
    operator_password: str
    token_lifetime_s: float = 3600.0
    audit: AuditLog | None = None  # None: requests and reads are not logged
    rate_limits: RateLimiter | None = field(default_factory=RateLimiter)  # None: no limits
    espi_id_key: bytes | None = None  # key of opaque ESPI ids; None: kept in the registry
    # retailer requests become HES commands through the port; None: none are sent
    command_port: CommandPort | None = None
    bus: Bus | None = None  # command outcomes arrive here (topic hes.commands)
    # signs remote switching commands for the HES's guard; None: sent unsigned
    command_signer: CommandSigner | None = None
    services: dict[str, object] = field(default_factory=dict)  # hub workers, built on first use
    # third parties (authorization code + PKCE, consent); stores made on first use if None
    consents: ConsentStore | None = None
    oauth: OAuthStore | None = None
    third_party_token_lifetime_s: float = 600.0  # short-lived access tokens
    refresh_token_lifetime_s: float = 30 * 86400.0  # rotated on every use
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES  # larger request bodies: 413, never read
    # reverse proxies whose X-Forwarded-For is believed (addresses or networks); none: the
    # TCP peer is the client (see openami.hub.client_address)
    trusted_proxies: tuple[str, ...] = ()
    # locks a client id or customer id after repeated wrong secrets; None: no lockout
    lockout: Lockout | None = field(default_factory=Lockout)
    # anonymous requests: one sampled audit entry and one summary per window (hub.audit)
    anonymous_audit_window_s: float = 60.0
    # dashboard operator accounts (argon2id) in the clients' database if None; their sessions
    operators: OperatorAccounts | None = None
    operator_sessions: SessionStore = field(default_factory=Sessions)
    # the customer portal's sessions; None: in the app's memory (web.portal_auth)
    portal_sessions: SessionStore | None = None
    # how long a point's half-hour service start (smart meter, area opening) may be answered
    # from memory [s]; 0: asked of the registry on every request (hub.values)
    service_start_cache_s: float = 0.0
    # how long a confirmed client-credentials token may be answered from memory [s] (a
    # revocation through another replica shows that much later; hub.token_cache); 0: never
    token_cache_s: float = 5.0
    # worker threads of the lane the one-point reads run in (hub.lanes): few contend less
    # for the GIL; the other endpoints keep the shared pool
    quick_lane_threads: int = 1
    # this process among the hub replicas over one store: it claims webhook deliveries and
    # data jobs under this name, each claim valid claim_ttl_s after its last renewal
    replica_id: str = field(default_factory=new_replica_id)
    claim_ttl_s: float = 120.0

    def __post_init__(self) -> None:
        if self.operators is None:
            self.operators = OperatorAccounts(OperatorStore(self.clients.database), self.lockout)
        if self.operator_password:
            self.operators.ensure_admin(
                self.operator_user, self.operator_password, self.clock.timestamp()
            )

    @property
    def operator_accounts(self) -> OperatorAccounts:
        assert self.operators is not None  # set in __post_init__
        return self.operators
