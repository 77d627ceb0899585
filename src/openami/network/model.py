"""Statistical model of the A-route networks.

Each delivery attempt of a meter's reading succeeds with a method-dependent probability and
arrives after a log-normal delay. A share of meters can sit on a degraded link (PLC's noisy
minority). Outages (a concentrator failing, an area blackout, injected faults) make meters
unreachable for a period. Outcomes are deterministic in ``(seed, meter, boundary, attempt)``.

Default figures follow the reference notes: mesh per-hop latency of a few hundred ms with
multi-hop queuing (median about 2 min to the HES), cellular session set-up in seconds, PLC
reaching about 95-97 % at once with a noisy minority.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from openami.meter.load import hash_normal, hash_uniform

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
BoolArr = npt.NDArray[np.bool_]

METHOD_CODES: dict[str, int] = {"mesh": 0, "cellular": 1, "plc": 2}


@dataclass(frozen=True)
class MethodParams:
    """Delivery behaviour of one communication method."""

    attempt_success: float
    median_delay_s: float
    delay_sigma: float
    noisy_share: float = 0.0
    noisy_attempt_success: float = 0.0

    def __post_init__(self) -> None:
        for name in ("attempt_success", "noisy_share", "noisy_attempt_success"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {value}")
        if self.median_delay_s <= 0 or self.delay_sigma < 0:
            raise ValueError("delays must be positive")


DEFAULT_PARAMS: dict[str, MethodParams] = {
    "mesh": MethodParams(
        attempt_success=0.95,
        median_delay_s=120.0,
        delay_sigma=0.8,
        noisy_share=0.02,
        noisy_attempt_success=0.35,
    ),
    "cellular": MethodParams(attempt_success=0.995, median_delay_s=15.0, delay_sigma=0.5),
    "plc": MethodParams(
        attempt_success=0.985,
        median_delay_s=60.0,
        delay_sigma=0.6,
        noisy_share=0.03,
        noisy_attempt_success=0.5,
    ),
}


@dataclass(frozen=True)
class Outage:
    """Meters (by fleet position) unreachable over ``[start_s, end_s)`` Unix seconds."""

    meter_index: I64
    start_s: float
    end_s: float
    reason: str = "outage"


@dataclass
class NetworkModel:
    """Delivery outcomes for the meters of a fleet (arrays aligned with fleet positions)."""

    meter_ids: I64
    method_codes: npt.NDArray[np.uint8]
    seed: int
    params: dict[str, MethodParams] = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    outages: list[Outage] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.meter_ids)
        self._success = np.empty(n, dtype=np.float64)
        self._median = np.empty(n, dtype=np.float64)
        self._sigma = np.empty(n, dtype=np.float64)
        noisy_u = hash_uniform(self.seed, 201, self.meter_ids)
        for name, code in METHOD_CODES.items():
            p = self.params[name]
            sel = self.method_codes == code
            noisy = sel & (noisy_u < p.noisy_share)
            self._success[sel] = p.attempt_success
            self._success[noisy] = p.noisy_attempt_success
            self._median[sel] = p.median_delay_s
            self._sigma[sel] = p.delay_sigma

    def add_outage(self, outage: Outage) -> None:
        self.outages.append(outage)

    def reachable(self, index: I64, at_s: F64) -> BoolArr:
        ok = np.ones(len(index), dtype=np.bool_)
        for outage in self.outages:
            hit = np.isin(index, outage.meter_index) & (at_s >= outage.start_s)
            hit &= at_s < outage.end_s
            ok &= ~hit
        return ok

    def attempt(
        self, index: I64, boundary: I64 | int, attempt_no: int, at_s: F64
    ) -> tuple[BoolArr, F64]:
        """Outcome of one delivery attempt per meter: (delivered, delay in seconds)."""
        ids = self.meter_ids[index]
        b = np.broadcast_to(np.asarray(boundary, dtype=np.int64), ids.shape)
        u = hash_uniform(self.seed, 300 + attempt_no, ids, b)
        ok = (u < self._success[index]) & self.reachable(index, at_s)
        z = hash_normal(self.seed, 400 + attempt_no, ids, b)
        delay_s = self._median[index] * np.exp(self._sigma[index] * z)
        return ok, np.minimum(delay_s, 1500.0)
