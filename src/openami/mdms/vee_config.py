"""VEE configuration: rule IDs, their parameters and actions, estimation parameters.

The defaults live in ``openami/config/vee.toml``; :func:`load_vee_config` reads that file or
another one with the same shape. Each rule has a bit in the per-value ``vee_flags`` mask.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from openami.bus.messages import DELIVERY_DEADLINE_S
from openami.clock import SLOTS_PER_DAY

Action = Literal["reject", "flag"]

#: rule ID → (bit, short description); V04R/V07L/V08F/V10O are sub-flags of their rule.
RULES: dict[str, tuple[int, str]] = {
    "V01": (0, "interval grid"),
    "V02": (1, "duplicate read with other registers"),
    "V03": (2, "gap: no read at one end of the slot"),
    "V04": (3, "register went backwards"),
    "V04R": (4, "register rollover"),
    "V05": (5, "sum of values differs from register difference"),
    "V06": (6, "spike against own history"),
    "V07": (7, "above contract capacity"),
    "V07L": (8, "connected day below low band"),
    "V08": (9, "zero run while connected"),
    "V08F": (10, "flat-line run"),
    "V09": (11, "meter clock deviation"),
    "V10": (12, "event: tamper, reset or test mode"),
    "V10O": (13, "outage or disconnection (valid zero)"),
    "V11": (14, "unit/multiplier differs from master data"),
    "V12": (15, "metered after the meter's certification expired (not billable)"),
}

#: estimation method codes written in the ``method`` column
METHODS: dict[str, str] = {
    "E1": "linear interpolation of registers",
    "E2": "like-day profile scaled to the register difference",
    "E3": "class load profile",
    "E4": "flat distribution of a known total",
    "E0": "outage: valid zero",
    "M": "manual edit",
}


def bit(rule_id: str) -> int:
    """The flag mask of one rule ID."""
    return 1 << RULES[rule_id][0]


def decode_flags(mask: int) -> list[str]:
    """Rule IDs set in a flag mask, in rule order."""
    return [rid for rid, (b, _) in RULES.items() if mask & (1 << b)]


def decode_flags_array(masks: np.ndarray) -> list[str]:
    """Semicolon-joined rule IDs per mask (for exports); one string per distinct mask."""
    uniq, inverse = np.unique(masks.astype(np.int64), return_inverse=True)
    names = [";".join(decode_flags(int(m))) for m in uniq]
    return [names[i] for i in inverse.ravel()]


@dataclass(frozen=True)
class Rule:
    rule_id: str
    action: Action
    params: dict[str, float]

    def p(self, name: str) -> float:
        if name not in self.params:
            raise KeyError(f"VEE rule {self.rule_id} has no parameter {name!r}")
        return float(self.params[name])


@dataclass(frozen=True)
class VeeConfig:
    rules: dict[str, Rule]
    meter_defaults: dict[str, float]
    max_interpolation_slots: int
    like_day_weeks: int
    class_profile: np.ndarray = field(repr=False)
    class_daily_wh_per_a: float = 300.0
    #: a slot without a value this long after its end is marked missing [s]
    missing_deadline_s: float = DELIVERY_DEADLINE_S

    def rule(self, rule_id: str) -> Rule:
        return self.rules[rule_id]

    def reject_mask(self) -> int:
        """Flag bits whose rule action is ``reject``."""
        mask = 0
        for rid, rule in self.rules.items():
            if rule.action == "reject":
                mask |= bit(rid)
        return mask


def _parse(data: dict[str, Any], origin: str) -> VeeConfig:
    rules: dict[str, Rule] = {}
    for rid in (*(f"V{n:02d}" for n in range(1, 12)), "V12"):
        raw = dict(data.get("rules", {}).get(rid, {}))
        action = raw.pop("action", "flag")
        if action not in ("reject", "flag"):
            raise ValueError(f"{origin}: rule {rid} action must be reject or flag, got {action!r}")
        if rid == "V12" and action != "flag":  # the values stay as metered, never estimated
            raise ValueError(f"{origin}: rule V12 only flags (its values stay visible)")
        rules[rid] = Rule(rid, action, {k: float(v) for k, v in raw.items()})
    est = data.get("estimation", {})
    profile = np.asarray(est.get("class_profile", [1.0] * SLOTS_PER_DAY), dtype=np.float64)
    if profile.shape != (SLOTS_PER_DAY,) or np.any(profile < 0) or profile.sum() <= 0:
        raise ValueError(f"{origin}: estimation.class_profile needs 48 non-negative weights")
    missing_after_s = float(data.get("deadline", {}).get("missing_after_s", DELIVERY_DEADLINE_S))
    if not missing_after_s > 0:
        raise ValueError(f"{origin}: deadline.missing_after_s must be positive")
    return VeeConfig(
        rules=rules,
        meter_defaults={k: float(v) for k, v in data.get("meter_defaults", {}).items()},
        max_interpolation_slots=int(est.get("max_interpolation_slots", 4)),
        like_day_weeks=int(est.get("like_day_weeks", 4)),
        class_profile=profile / profile.sum(),
        class_daily_wh_per_a=float(est.get("class_daily_wh_per_a", 300)),
        missing_deadline_s=missing_after_s,
    )


def load_vee_config(path: str | Path | None = None) -> VeeConfig:
    """Read VEE parameters from ``path``, or the packaged defaults."""
    if path is None:
        text = resources.files("openami").joinpath("config/vee.toml").read_text("utf-8")
        return _parse(tomllib.loads(text), "vee.toml")
    p = Path(path)
    return _parse(tomllib.loads(p.read_text("utf-8")), str(p))
