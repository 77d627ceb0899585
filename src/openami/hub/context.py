"""What the hub and dashboard need from the rest of the system, in one object."""

from __future__ import annotations

from dataclasses import dataclass

from openami.clock import Clock
from openami.mdms.service import Mdms
from openami.registry import Registry
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
