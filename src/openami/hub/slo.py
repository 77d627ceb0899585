"""Delivery SLO of the hub: per slot, slot end → availability, and completeness.

Targets (croute.md §2.2, §6.3): 30-minute values on the C route within 60 minutes of the
slot end (p95, best effort); completeness published at slot end + 60 min, + 24 h and at
final. The figures come from the MDMS's reports (:meth:`MdmsReports.delivery_slo`); this
module shapes them for the API and the dashboard (:func:`slot_slo`, :func:`summary`).
"""

from __future__ import annotations

from dataclasses import dataclass

from openami.bus.messages import DELIVERY_DEADLINE_S
from openami.clock import slot_end_s
from openami.mdms.reports import MdmsReports
from openami.mdms.service import Mdms


@dataclass(frozen=True)
class SlotSlo:
    slot: int
    expected: int
    measured_now: int
    with_value_now: int
    latency_p50_s: float | None
    latency_p95_s: float | None
    latency_max_s: float | None  # slot end → the last collected value available
    complete_60min: float | None  # share of expected, None until slot end + 60 min
    complete_24h: float | None
    complete_now: float | None  # measured share now ("at final" once final)
    with_value_now_share: float | None  # measured, estimated or edited
    final: bool

    @property
    def slot_end_s(self) -> float:
        return slot_end_s(self.slot)


def _share(n: int | None, expected: int) -> float | None:
    return None if n is None or expected == 0 else n / expected


def slot_slo(
    mdms: Mdms, first_slot: int, last_slot: int, now_s: float | None = None
) -> list[SlotSlo]:
    """Per-slot SLO figures (dashboard: call this with the MDMS and a slot range)."""
    now = mdms.clock.timestamp() if now_s is None else now_s
    t = MdmsReports(mdms).delivery_slo(first_slot, last_slot, now).to_pydict()
    out = []
    for i, slot in enumerate(t["slot"]):
        expected = int(t["expected"][i])
        out.append(
            SlotSlo(
                slot=int(slot),
                expected=expected,
                measured_now=int(t["measured_now"][i]),
                with_value_now=int(t["with_value_now"][i]),
                latency_p50_s=t["latency_p50_s"][i],
                latency_p95_s=t["latency_p95_s"][i],
                latency_max_s=t["latency_max_s"][i],
                complete_60min=_share(t["within_60min"][i], expected),
                complete_24h=_share(t["within_24h"][i], expected),
                complete_now=_share(int(t["measured_now"][i]), expected),
                with_value_now_share=_share(int(t["with_value_now"][i]), expected),
                final=bool(t["final"][i]),
            )
        )
    return out


@dataclass(frozen=True)
class SloSummary:
    slots: int
    slots_meeting_target: int  # p95 latency <= 60 min
    worst_latency_p95_s: float | None
    mean_complete_60min: float | None
    mean_complete_24h: float | None


def summary(rows: list[SlotSlo]) -> SloSummary:
    p95 = [r.latency_p95_s for r in rows if r.latency_p95_s is not None]
    c60 = [r.complete_60min for r in rows if r.complete_60min is not None]
    c24 = [r.complete_24h for r in rows if r.complete_24h is not None]
    return SloSummary(
        slots=len(rows),
        slots_meeting_target=sum(1 for p in p95 if p <= DELIVERY_DEADLINE_S),
        worst_latency_p95_s=max(p95) if p95 else None,
        mean_complete_60min=sum(c60) / len(c60) if c60 else None,
        mean_complete_24h=sum(c24) / len(c24) if c24 else None,
    )
