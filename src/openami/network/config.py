"""Parameters of the network model, read from a documented TOML file.

``defaults.toml`` (next to this module) holds the per-method defaults with their sources;
:func:`load_params` reads it and applies overrides (for example the ``[network.<method>]``
tables of an area file used by ``openami plan``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from openami.bus.messages import METHOD_CODES as METHOD_CODES  # the one list of methods


@dataclass(frozen=True)
class MethodParams:
    """Delivery behaviour of one communication method (see ``defaults.toml`` for meanings).

    The fields added after ``noisy_attempt_success`` default to a neutral network (one hop,
    no extra loss, no rejoin delay), so ``MethodParams(1.0, 60.0, 0.5)`` is a perfect link.
    """

    attempt_success: float
    median_delay_s: float
    delay_sigma: float
    noisy_share: float = 0.0
    noisy_attempt_success: float = 0.0
    hop_loss: float = 0.0
    load_loss: float = 0.0
    setup_s: float = 0.0
    round_trips: int = 3
    first_hop_s: float = 0.3
    per_hop_s: float = 0.13
    hop_distribution: tuple[float, ...] = (1.0,)
    segment_capacity: int = 500
    rejoin_min_s: float = 0.0
    rejoin_max_s: float = 0.0
    last_gasp_success: float = 0.5

    def __post_init__(self) -> None:
        for name in (
            "attempt_success",
            "noisy_share",
            "noisy_attempt_success",
            "hop_loss",
            "load_loss",
            "last_gasp_success",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {value}")
        if self.median_delay_s <= 0 or self.delay_sigma < 0:
            raise ValueError("delays must be positive")
        if min(self.setup_s, self.first_hop_s, self.per_hop_s) < 0 or self.round_trips < 0:
            raise ValueError("session times must not be negative")
        dist = self.hop_distribution
        if not dist or any(s < 0 for s in dist) or abs(sum(dist) - 1.0) > 1e-6:
            raise ValueError(f"hop_distribution must be shares summing to 1, got {dist}")
        if self.segment_capacity < 1:
            raise ValueError("segment_capacity must be at least 1")
        if not 0.0 <= self.rejoin_min_s <= self.rejoin_max_s:
            raise ValueError("need 0 <= rejoin_min_s <= rejoin_max_s")

    def with_overrides(self, overrides: Mapping[str, Any]) -> MethodParams:
        return replace(self, **_coerce(overrides))


@dataclass(frozen=True)
class ClockParams:
    """Drift and start offsets of simulated meter clocks."""

    drift_ppm_sigma: float = 15.0
    offset_sigma_s: float = 1.0
    bad_share: float = 0.01
    bad_offset_s: float = 120.0

    def __post_init__(self) -> None:
        if min(self.drift_ppm_sigma, self.offset_sigma_s, self.bad_offset_s) < 0:
            raise ValueError("clock parameters must not be negative")
        if not 0.0 <= self.bad_share <= 1.0:
            raise ValueError("bad_share must be within 0..1")


_METHOD_FIELDS = {f.name for f in fields(MethodParams)}
_CLOCK_FIELDS = {f.name for f in fields(ClockParams)}


def _coerce(table: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(table) - _METHOD_FIELDS
    if unknown:
        raise ValueError(f"unknown network parameter(s): {', '.join(sorted(unknown))}")
    out = dict(table)
    if "hop_distribution" in out:
        out["hop_distribution"] = tuple(float(x) for x in out["hop_distribution"])
    return out


def defaults_text() -> str:
    return resources.files("openami.network").joinpath("defaults.toml").read_text("utf-8")


def load_params(
    path: str | Path | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, MethodParams]:
    """Per-method parameters: the packaged ``defaults.toml``, then the tables of ``path``
    (only the keys it sets), then ``overrides``.

    ``overrides`` maps a method name to the keys to change, e.g. ``{"mesh": {"hop_loss": 0.02}}``.
    Unknown methods or keys raise ``ValueError`` naming them.
    """
    raw = tomllib.loads(defaults_text())
    params = {method: MethodParams(**_coerce(raw[method])) for method in METHOD_CODES}
    layers: list[Mapping[str, Mapping[str, Any]]] = []
    if path is not None:
        layers.append(
            {k: v for k, v in tomllib.loads(Path(path).read_text("utf-8")).items() if k != "clock"}
        )
    layers.append(overrides or {})
    for layer in layers:
        for method, table in layer.items():
            if method not in METHOD_CODES:
                raise ValueError(f"unknown communication method {method!r}")
            params[method] = params[method].with_overrides(table)
    return params


def load_clock_params(path: str | Path | None = None) -> ClockParams:
    raw = tomllib.loads(Path(path).read_text("utf-8") if path else defaults_text())
    table = raw.get("clock", {})
    unknown = set(table) - _CLOCK_FIELDS
    if unknown:
        raise ValueError(f"unknown clock parameter(s): {', '.join(sorted(unknown))}")
    return ClockParams(**table)


DEFAULT_PARAMS: dict[str, MethodParams] = load_params()
