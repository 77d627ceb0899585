"""A HEMS control policy: import limit, shedding priorities, comfort bounds, TOU bands and
demand-response targets. Loaded from TOML (``examples/hems-policy.toml``, docs/hems.md).

The import limit at a moment is the smaller of the contract's (amperage × 100 V, less a
margin) and every DR target active then. A DR target is set with
:meth:`Policy.set_dr_target` ("keep the import under ``limit_w`` from ``start`` to
``end``"): the `dr` side (OpenADR) maps an event to exactly that call.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from pathlib import Path
from typing import Any

from openami.clock import JST

DEVICES = ("ev", "water_heater", "battery", "ac")
BAND_KINDS = ("cheap", "normal", "peak")
MAX_POLICY_BYTES = 64 * 1024
VOLTAGE_V = 100.0  # the contract amperage is on the 100 V basis


class PolicyError(ValueError):
    """A policy file that cannot be used (the message says which key and why)."""


@dataclass(frozen=True)
class TariffBand:
    """A time-of-use band from ``start`` to ``end`` (JST wall clock; may wrap midnight)."""

    name: str
    kind: str
    start: time
    end: time
    price_yen_per_kwh: float

    def contains_hour(self, hour: float) -> bool:
        start = self.start.hour + self.start.minute / 60
        end = self.end.hour + self.end.minute / 60
        return start <= hour < end if start < end else hour >= start or hour < end


@dataclass(frozen=True)
class DrTarget:
    """Keep the import under ``limit_w`` from ``start_s`` to ``end_s`` (epoch seconds)."""

    start_s: float
    end_s: float
    limit_w: float
    source: str = "manual"


@dataclass(frozen=True)
class Comfort:
    ac_cool_max_c: int = 28  # the HEMS never cools with a set point above this
    ac_heat_min_c: int = 19  # …nor heats with one below this
    battery_reserve: float = 0.2  # share of capacity kept for outages
    ev_departure: time = time(7, 0)
    ev_departure_soc: float = 0.9  # share of the EV's capacity at departure
    water_heater_min: float = 0.25  # share of the tank kept hot


@dataclass(frozen=True)
class Policy:
    contract_amperage_a: int = 40
    margin_w: float = 200.0
    shed_order: tuple[str, ...] = DEVICES
    comfort: Comfort = Comfort()
    bands: tuple[TariffBand, ...] = ()
    default_band: TariffBand = TariffBand("day", "normal", time(0), time(0), 31.0)
    dr_targets: tuple[DrTarget, ...] = field(default=())
    ac_w_per_c: float = 90.0  # the HEMS's estimate of an AC's power per °C of set point
    water_heater_w: float = 1400.0  # …of a water heater's heating power

    # -- the limit -----------------------------------------------------------------------------
    @property
    def contract_limit_w(self) -> float:
        return self.contract_amperage_a * VOLTAGE_V - self.margin_w

    def limit_w(self, at_s: float) -> float:
        """The import limit in force at ``at_s``: contract, or a lower active DR target."""
        active = [t.limit_w for t in self.dr_targets if t.start_s <= at_s < t.end_s]
        return min([self.contract_limit_w, *active])

    def set_dr_target(
        self, limit_w: float, start: datetime, end: datetime, *, source: str = "manual"
    ) -> Policy:
        """This policy with "keep the import under ``limit_w`` [W] from ``start`` to ``end``"
        added (aware datetimes; expired targets are dropped)."""
        if start.tzinfo is None or end.tzinfo is None:
            raise PolicyError("DR target times must carry a time zone")
        if not end > start:
            raise PolicyError("a DR target must end after it starts")
        if limit_w < 0:
            raise PolicyError("a DR target is a non-negative import limit in W")
        target = DrTarget(start.timestamp(), end.timestamp(), float(limit_w), source)
        kept = tuple(t for t in self.dr_targets if t.end_s > start.timestamp() - 86_400)
        return replace(self, dr_targets=(*kept, target))

    # -- the tariff ----------------------------------------------------------------------------
    def band_at_hour(self, hour: float) -> TariffBand:
        for band in self.bands:
            if band.contains_hour(hour):
                return band
        return self.default_band

    def cheap_hours_between(self, hour_from: float, hour_to: float) -> float:
        """Hours of cheap band from ``hour_from`` to ``hour_to`` (JST, wrapping), quarter-hour
        resolution."""
        span = (hour_to - hour_from) % 24.0
        steps = int(span * 4)
        return sum(
            0.25
            for k in range(steps)
            if self.band_at_hour((hour_from + k * 0.25) % 24.0).kind == "cheap"
        )


# -- loading ---------------------------------------------------------------------------------------
def _time(text: Any, key: str) -> time:
    try:
        hh, mm = str(text).split(":")
        return time(int(hh) % 24, int(mm)) if int(hh) <= 24 else time(99)
    except ValueError:
        raise PolicyError(f"{key}: expected HH:MM, got {text!r}") from None


def _number(table: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise PolicyError(f"{key}: expected a number {low}–{high}, got {value!r}")
    return float(value)


def _bands(raw: Any) -> tuple[TariffBand, ...]:
    if not isinstance(raw, list) or len(raw) > 24:
        raise PolicyError("tariff.bands: expected a list of at most 24 tables")
    bands = []
    for i, item in enumerate(raw):
        key = f"tariff.bands[{i}]"
        if not isinstance(item, dict) or item.get("kind") not in BAND_KINDS:
            raise PolicyError(f"{key}.kind: one of {', '.join(BAND_KINDS)}")
        bands.append(
            TariffBand(
                str(item.get("name", item["kind"]))[:40],
                item["kind"],
                _time(item.get("start"), f"{key}.start"),
                _time(item.get("end"), f"{key}.end"),
                _number(item, "price_yen_per_kwh", 30.0, 0.0, 1000.0),
            )
        )
    return tuple(bands)


def _comfort(raw: dict[str, Any]) -> Comfort:
    return Comfort(
        ac_cool_max_c=int(_number(raw, "ac_cool_max_c", 28, 16, 32)),
        ac_heat_min_c=int(_number(raw, "ac_heat_min_c", 19, 16, 32)),
        battery_reserve=_number(raw, "battery_reserve", 0.2, 0.0, 1.0),
        ev_departure=_time(raw.get("ev_departure", "07:00"), "comfort.ev_departure"),
        ev_departure_soc=_number(raw, "ev_departure_soc", 0.9, 0.0, 1.0),
        water_heater_min=_number(raw, "water_heater_min", 0.25, 0.0, 1.0),
    )


def policy_from_dict(raw: dict[str, Any]) -> Policy:
    limits = raw.get("limits", {})
    comfort = raw.get("comfort", {})
    tariff = raw.get("tariff", {})
    if not all(isinstance(t, dict) for t in (limits, comfort, tariff)):
        raise PolicyError("limits, comfort and tariff must be tables")
    order = tuple(raw.get("priorities", {}).get("shed", DEVICES))
    if sorted(order) != sorted(set(order)) or not set(order) <= set(DEVICES):
        raise PolicyError(f"priorities.shed: distinct names among {', '.join(DEVICES)}")
    default = TariffBand(
        "other",
        "normal",
        time(0),
        time(0),
        _number(tariff, "default_price_yen_per_kwh", 31, 0, 1000),
    )
    return Policy(
        contract_amperage_a=int(_number(limits, "contract_amperage_a", 40, 10, 60)),
        margin_w=_number(limits, "margin_w", 200.0, 0.0, 5000.0),
        shed_order=order,
        comfort=_comfort(comfort),
        bands=_bands(tariff.get("bands", [])),
        default_band=default,
        ac_w_per_c=_number(limits, "ac_w_per_c", 90.0, 10.0, 1000.0),
        water_heater_w=_number(limits, "water_heater_w", 1400.0, 100.0, 10_000.0),
    )


def load_policy(path: Path) -> Policy:
    """Read a policy TOML file (at most 64 KiB). :class:`PolicyError` says what is wrong."""
    data = path.read_bytes()
    if len(data) > MAX_POLICY_BYTES:
        raise PolicyError(f"{path}: larger than {MAX_POLICY_BYTES} bytes")
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from None
    policy = policy_from_dict(raw)
    for event in raw.get("dr", []):
        try:
            start = datetime.fromisoformat(str(event["start"]))
            end = datetime.fromisoformat(str(event["end"]))
            start = start if start.tzinfo else start.replace(tzinfo=JST)
            end = end if end.tzinfo else end.replace(tzinfo=JST)
            limit = _number(event, "limit_w", 0, 0, 100_000)
        except (KeyError, ValueError, TypeError) as exc:
            msg = f"dr: each event needs start, end (ISO 8601) and limit_w: {exc}"
            raise PolicyError(msg) from None
        policy = policy.set_dr_target(limit, start, end, source="policy file")
    return policy
