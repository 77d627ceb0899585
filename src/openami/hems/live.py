"""The live HEMS: read the meter (B route) and the appliances, decide, set, log.

:class:`HemsController` runs one decision round per :meth:`step`: the meter's instantaneous
power (E7) over the B route (UDP or the Wi-SUN module: any
:class:`~openami.hems.client.MeterClient`), the appliances' state over ECHONET Lite
(:class:`~openami.hems.appliance_link.ApplianceLink`), :func:`~openami.hems.control.decide`
with the policy, then the Sets. Each round is logged as one structured event
(``hems.decision``: limit, import, reasons, the Sets and their answers) and returned as a
:class:`Decision` for the live view.

Demand response: :meth:`HemsController.set_dr_target` ("keep the import under ``limit_w``
from ``start`` to ``end``") is the entry point for an OpenADR VEN.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from openami.hems.appliance_link import ApplianceLink, SetResult
from openami.hems.client import MeterClient
from openami.hems.control import decide
from openami.hems.policy import Policy
from openami.log import get_logger
from openami.protocols.echonet import smart_meter as sm

log = get_logger(__name__)


@dataclass(frozen=True)
class Decision:
    """One round: what was read, decided and sent."""

    at_s: float
    band: str
    limit_w: float
    import_w: float | None
    expected_import_w: float
    reasons: tuple[str, ...]
    sets: tuple[SetResult, ...]


class HemsController:
    """Peak cut and peak shift for one home."""

    def __init__(
        self,
        policy: Policy,
        meter: MeterClient,
        appliances: ApplianceLink,
        *,
        interval_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.meter = meter
        self.appliances = appliances
        self.interval_s = interval_s
        self.clock = clock
        self.history: list[Decision] = []

    def set_dr_target(
        self, limit_w: float, start: datetime, end: datetime, *, source: str = "manual"
    ) -> None:
        """Keep the home's import under ``limit_w`` [W] from ``start`` to ``end`` (aware)."""
        self.policy = self.policy.set_dr_target(limit_w, start, end, source=source)
        log.info(
            "hems.dr_target",
            limit_w=limit_w,
            start=start.isoformat(),
            end=end.isoformat(),
            source=source,
        )

    def read_import_w(self) -> float | None:
        edt = self.meter.get([sm.EPC_INSTANT_POWER])[sm.EPC_INSTANT_POWER]
        return None if edt is None else sm.decode_power_w(edt)

    def step(self) -> Decision:
        """One round: read, decide, set, log."""
        now_s = self.clock()
        import_w = self.read_import_w()
        self.appliances.read()
        state = self.appliances.state(0.0 if import_w is None else float(import_w))
        commands = decide(state, self.policy, now_s, self.interval_s)
        sets = tuple(self.appliances.apply(commands))
        hour = ((now_s + 9 * 3600) % 86_400) / 3600
        decision = Decision(
            at_s=now_s,
            band=self.policy.band_at_hour(hour).name,
            limit_w=float(commands.limit_w[0]),
            import_w=None if import_w is None else float(import_w),
            expected_import_w=float(commands.expected_import_w[0]),
            reasons=tuple(commands.describe(0)),
            sets=sets,
        )
        self.history = [*self.history[-99:], decision]
        log.info(
            "hems.decision",
            band=decision.band,
            limit_w=round(decision.limit_w),
            import_w=decision.import_w,
            expected_import_w=round(decision.expected_import_w),
            reasons=list(decision.reasons),
            sets=[
                f"{s.device} {s.epc:#04x}={s.value} {'ok' if s.accepted else 'SNA'}" for s in sets
            ],
        )
        return decision
