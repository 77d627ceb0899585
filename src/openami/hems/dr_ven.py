"""The HEMS's OpenADR 2.0b VEN (openleadr's ``OpenADRClient``): it registers with the
aggregator's VTN over mutual TLS, turns each event into a peak-cut target for the HEMS
controller, answers optIn or optOut, and reports the home's metered load.

How an event becomes a target [W] on the home's import (:class:`TargetMapping`):

| signal | target |
|---|---|
| SIMPLE / level 1, 2, 3 | ``normal_limit_w`` × 0.8, 0.6, 0.4 (level 0: no target) |
| LOAD_DISPATCH / setpoint | the payload, in W |
| ELECTRICITY_PRICE / price | ``normal_limit_w`` × 0.6 from ``price_limit_jpy_kwh`` on |

The VEN opts out when it would have to go below ``min_target_w`` (comfort floor) or cannot
read the signal; otherwise it hands ``on_target(target_w, start, end)`` to the controller and
opts in. ``normal_limit_w`` is the contract's limit (e.g. 30 A × 100 V = 3000 W).
:func:`controller_callbacks` wires ``on_target`` and ``on_cancel`` to the HEMS controller
(:meth:`HemsController.set_dr_target <openami.hems.live.HemsController.set_dr_target>`).

``load_w`` gives the home's metered import for the TELEMETRY_USAGE report: a number of W,
or a list of (instant, W) — empty when the meter could not be read —, or a coroutine of
either.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.utils import CryptographyDeprecationWarning

# signxml (under openleadr) names the DSA key type at import, which cryptography flags as
# deprecated; the VEN's keys are ECDSA P-256
warnings.filterwarnings(
    "ignore", category=CryptographyDeprecationWarning, module=r"(signxml|openleadr)\."
)
from openleadr import OpenADRClient  # noqa: E402

from openami.hems.live import HemsController  # noqa: E402
from openami.log import get_logger  # noqa: E402

log = get_logger(__name__)

OnTarget = Callable[[float, datetime, datetime], Awaitable[None] | None]
OnCancel = Callable[[str, datetime, datetime], Awaitable[None] | None]
OPENADR_SOURCE = "openadr"  # the ``source`` of the DR targets this VEN sets
LEVEL_FRACTIONS = {1: 0.8, 2: 0.6, 3: 0.4}


@dataclass(frozen=True)
class VenTls:
    """PEM files: this VEN's client certificate and key (also its message signer), the CA
    that signed the VTN's certificate, and the VTN's OpenADR fingerprint."""

    cert: Path
    key: Path
    ca: Path
    vtn_fingerprint: str


@dataclass(frozen=True)
class TargetMapping:
    normal_limit_w: float = 3000.0
    min_target_w: float = 500.0
    price_limit_jpy_kwh: float = 50.0

    def target_w(self, signal_name: str, signal_type: str, payload: float) -> float | None:
        """The import limit an event's payload asks for, None when it asks for none."""
        if signal_name == "SIMPLE" and signal_type == "level":
            fraction = LEVEL_FRACTIONS.get(int(payload))
            return None if fraction is None else self.normal_limit_w * fraction
        if signal_name == "LOAD_DISPATCH" and signal_type == "setpoint":
            return float(payload)
        if signal_name == "ELECTRICITY_PRICE" and signal_type == "price":
            return self.normal_limit_w * 0.6 if payload >= self.price_limit_jpy_kwh else None
        raise ValueError(f"signal {signal_name}/{signal_type} is not supported")


@dataclass(frozen=True)
class Decision:
    event_id: str
    opt: str  # optIn / optOut, or "cancelled" when the VTN withdrew the event
    target_w: float | None
    start: datetime | None
    end: datetime | None
    reason: str


class DrVen:
    def __init__(
        self,
        ven_name: str,
        vtn_url: str,
        tls: VenTls,
        on_target: OnTarget,
        load_w: Callable[[], Any],
        mapping: TargetMapping | None = None,
        report_every_s: float = 10.0,
        on_cancel: OnCancel | None = None,
    ) -> None:
        self.mapping = mapping or TargetMapping()
        self.on_target = on_target
        self.on_cancel = on_cancel
        self._answers: dict[str, str] = {}
        self._windows: dict[str, tuple[datetime, datetime]] = {}  # targets handed over
        self.decisions: list[Decision] = []
        self.client = OpenADRClient(
            ven_name=ven_name,
            vtn_url=vtn_url,
            cert=str(tls.cert),
            key=str(tls.key),
            ca_file=str(tls.ca),
            vtn_fingerprint=tls.vtn_fingerprint,
            show_fingerprint=False,
            allow_jitter=False,
        )
        self.client.add_handler("on_event", self.on_event)
        self.client.add_handler("on_update_event", self.on_update_event)
        self.client.add_report(
            callback=load_w,
            resource_id="home",
            measurement="power_real",
            unit="W",
            scale="none",
            sampling_rate=timedelta(seconds=report_every_s),
            report_duration=timedelta(hours=1),
        )

    async def on_event(self, event: dict[str, Any]) -> str:
        decision = self.decide(event)
        self.decisions.append(decision)
        self._answers[decision.event_id] = decision.opt
        if decision.opt == "optIn" and decision.target_w is not None:
            assert decision.start is not None and decision.end is not None
            self._windows[decision.event_id] = (decision.start, decision.end)
            await _maybe_await(self.on_target(decision.target_w, decision.start, decision.end))
        return decision.opt

    async def on_update_event(self, event: dict[str, Any]) -> str:
        """A changed event: cancelled (the controller drops its target, the earlier answer
        stands), or modified (decided afresh)."""
        descriptor = event.get("event_descriptor", {})
        event_id = str(descriptor.get("event_id", ""))
        if descriptor.get("event_status") != "cancelled":
            return await self.on_event(event)
        self.decisions.append(Decision(event_id, "cancelled", None, None, None, "cancelled"))
        window = self._windows.pop(event_id, None)
        if self.on_cancel is not None and window is not None:
            await _maybe_await(self.on_cancel(event_id.partition(".")[0], *window))
        return self._answers.get(event_id, "optOut")

    def decide(self, event: dict[str, Any]) -> Decision:
        event_id = str(event.get("event_descriptor", {}).get("event_id", ""))
        try:
            signal = event["event_signals"][0]
            interval = signal["intervals"][0]
            payload = float(interval["signal_payload"])
            target = self.mapping.target_w(signal["signal_name"], signal["signal_type"], payload)
            period = event["active_period"]
            start: datetime = period["dtstart"]
            end = start + period["duration"]
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            return Decision(event_id, "optOut", None, None, None, f"unreadable: {exc}")
        if target is not None and target < self.mapping.min_target_w:
            return Decision(event_id, "optOut", target, start, end, "below the comfort floor")
        return Decision(event_id, "optIn", target, start, end, "ok")

    @property
    def registered(self) -> bool:
        return self.client.registration_id is not None

    @property
    def ven_id(self) -> str | None:
        value = self.client.ven_id
        return None if value is None else str(value)

    async def start(self) -> bool:
        """Register and start polling; False when the VTN refused the registration."""
        await self.client.run()
        return self.registered

    async def stop(self) -> None:
        await self.client.stop()


def controller_callbacks(controller: HemsController) -> tuple[OnTarget, OnCancel]:
    """``on_target`` and ``on_cancel`` for a :class:`~openami.hems.live.HemsController`:
    an event's target becomes ``set_dr_target`` (source ``openadr``), a cancelled event's
    target is taken out of the controller's policy again."""

    def on_target(target_w: float, start: datetime, end: datetime) -> None:
        controller.set_dr_target(target_w, start, end, source=OPENADR_SOURCE)

    def on_cancel(event_id: str, start: datetime, end: datetime) -> None:
        window = (start.timestamp(), end.timestamp())
        policy = controller.policy
        kept = tuple(
            t
            for t in policy.dr_targets
            if not (t.source == OPENADR_SOURCE and (t.start_s, t.end_s) == window)
        )
        controller.policy = replace(policy, dr_targets=kept)
        log.info("hems.dr_target_cancelled", event_id=event_id, start=start.isoformat())

    return on_target, on_cancel


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if inspect.isawaitable(result):
        await result
