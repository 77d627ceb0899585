"""The HES's own guard on remote switching, whoever submits the command.

:class:`HeadEnd` asks its guard about every disconnect, reconnect and amperage setting
before queuing it; a refused command is never queued: it ends at once as ``FAILED``, its
reason recorded (``hes_command_refusals``). Reasons:

- ``halted``: the emergency stop is set (``openami ops halt``);
- ``unsigned``: no signed authorisation from the hub (when signatures are required);
- ``altered``: the signature does not verify, or the signed kind, meter or argument is not
  the command's;
- ``expired`` / ``not_yet_effective``: outside the authorisation's validity;
- ``replay``: a command with the same request id or signature was admitted before;
- ``fleet_cap``: more remote operations in the window than the fleet-wide cap allows
  (count and share of the fleet), unless operators approved the command (the approvals
  are part of what the hub signed). A cap hit is an alert (log event and stored alert).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import structlog

from openami.bus.messages import REMOTE_OPERATIONS, CommandKind
from openami.storage.repositories.command_signing import CommandVerifier, SignedCommand
from openami.storage.repositories.hes_guard import HesGuardStore

log = structlog.get_logger(__name__)

I64 = npt.NDArray[np.int64]
CLOCK_SKEW_S = 300.0  # an authorisation may reach the HES this much before it takes effect


@dataclass(frozen=True)
class FleetCap:
    """At most ``min(max_count, max(floor, max_share × fleet))`` remote operations in any
    ``window_s``."""

    window_s: float = 3600.0
    max_count: int = 200
    max_share: float = 0.10
    floor: int = 5

    def limit(self, points: int) -> int:
        return int(min(self.max_count, max(self.floor, math.floor(self.max_share * points))))


class SwitchGuard:
    def __init__(
        self,
        store: HesGuardStore,
        verifier: CommandVerifier | None,
        fleet_size: int,
        cap: FleetCap | None = None,
        require_signature: bool = True,
    ) -> None:
        if require_signature and verifier is None:
            raise ValueError("a guard that requires signatures needs the hub's public key")
        self.store = store
        self.verifier = verifier
        self.fleet_size = int(fleet_size)
        self.cap = cap or FleetCap()
        self.require_signature = require_signature

    def check(
        self,
        kind: CommandKind,
        meter_ids: I64,
        arguments: I64,
        now_s: float,
        authorisations: Sequence[SignedCommand | None] | None,
    ) -> list[str | None]:
        """One refusal reason per command (None: admitted)."""
        n = len(meter_ids)
        if kind not in REMOTE_OPERATIONS:
            return [None] * n
        if self.store.stop_flag().halted:
            return ["halted"] * n
        auths = list(authorisations) if authorisations is not None else [None] * n
        if len(auths) != n:
            raise ValueError("one authorisation (or None) per command")
        reasons: list[str | None] = []
        seen: set[str] = set()
        for meter, argument, auth in zip(
            meter_ids.tolist(), arguments.tolist(), auths, strict=True
        ):
            reasons.append(self._one(kind, int(meter), int(argument), now_s, auth, seen))
        limit = self.cap.limit(self.fleet_size)
        used = self.store.admitted_since(now_s - self.cap.window_s)
        for i, auth in enumerate(auths):
            if reasons[i] is not None or (auth is not None and auth.approvals):
                continue
            if used + 1 > limit:
                reasons[i] = "fleet_cap"
            else:
                used += 1
        capped = reasons.count("fleet_cap")
        if capped:
            log.warning(
                "switching.cap_hit",
                source="hes",
                scope="fleet",
                kind=kind.name,
                refused=capped,
                limit=limit,
                window_s=self.cap.window_s,
            )
            self.store.add_alert(
                now_s, "fleet", {"kind": kind.name, "refused": capped, "limit": limit}
            )
        return reasons

    def _one(
        self,
        kind: CommandKind,
        meter: int,
        argument: int,
        now_s: float,
        auth: SignedCommand | None,
        seen: set[str],
    ) -> str | None:
        if auth is None:
            return "unsigned" if self.require_signature else None
        if self.verifier is None or not self.verifier.valid(auth):
            return "altered"
        if (auth.kind, auth.meter_id) != (int(kind), meter):
            return "altered"
        if kind == CommandKind.SET_AMPERAGE and auth.argument != argument:
            return "altered"
        if now_s > auth.expires_s:
            return "expired"
        if now_s + CLOCK_SKEW_S < auth.effective_s:
            return "not_yet_effective"
        if auth.request_id in seen or auth.signature in seen:
            return "replay"
        if self.store.seen(auth.request_id, auth.signature):
            return "replay"
        seen.update((auth.request_id, auth.signature))
        return None

    def record(
        self,
        kind: CommandKind,
        correlation_ids: I64,
        meter_ids: I64,
        reasons: Sequence[str | None],
        now_s: float,
        authorisations: Sequence[SignedCommand | None] | None,
    ) -> None:
        """Remember admitted remote operations (cap, replay) and refusals (with reasons)."""
        if kind not in REMOTE_OPERATIONS:
            return
        auths = list(authorisations) if authorisations is not None else [None] * len(reasons)
        admitted, refused = [], []
        for corr, meter, reason, auth in zip(
            correlation_ids.tolist(), meter_ids.tolist(), reasons, auths, strict=True
        ):
            request_id = auth.request_id if auth is not None else None
            if reason is None:
                signature = auth.signature if auth is not None else None
                admitted.append((corr, meter, int(kind), now_s, request_id, signature))
            else:
                refused.append((corr, meter, int(kind), request_id, reason, now_s))
                log.warning(
                    "hes.command_refused",
                    correlation_id=corr,
                    meter_id=meter,
                    kind=kind.name,
                    reason=reason,
                    request_id=request_id,
                )
        self.store.record(admitted, refused)

    def refusal(self, correlation_id: int) -> str | None:
        return self.store.refusal(correlation_id)
