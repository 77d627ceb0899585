"""Deterministic, seeded household load and PV models (vectorized, stateless).

Every figure here is a pure function of ``(seed, meter_id, slot)``: the same inputs give
the same energy on any machine, in any order, so a meter's past can be recomputed and
tests can derive expected values independently of the collection path.

Shape of consumption (average power within a slot):
- a base load, a morning peak around 07:00 and an evening peak around 19:30 JST;
- a seasonal factor peaking in winter (January) with a smaller summer peak (August);
- multiplicative log-normal noise per slot.
PV (for meters that have it): a sine between 06:00 and 18:00 JST scaled by the season and a
per-day cloudiness factor; the net of consumption and generation gives import or export.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openami.clock.slots import SLOT_SECONDS, jst_day_number, slot_of_day

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

NOMINAL_VOLTAGE_V = 100.0  # Japanese single-phase 3-wire, contract amperage is on the 100 V basis
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (z ^ (z >> np.uint64(31))) & _MASK64


def hash_uniform(seed: int, stream: int, *keys: npt.ArrayLike) -> F64:
    """Uniform [0, 1) numbers that depend only on ``seed``, ``stream`` and the key arrays."""
    with np.errstate(over="ignore"):
        acc = _splitmix64(np.asarray([seed * 0x100000001B3 + stream], dtype=np.uint64))
        for key in keys:
            k = np.asarray(key).astype(np.int64).astype(np.uint64)
            acc = _splitmix64(acc ^ (k * np.uint64(0xD6E8FEB86659FD93)))
    return (acc >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def hash_normal(seed: int, stream: int, *keys: npt.ArrayLike) -> F64:
    """Standard normal numbers from two hashed uniforms (Box-Muller)."""
    u1 = hash_uniform(seed, stream, *keys)
    u2 = hash_uniform(seed, stream + 7919, *keys)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


@dataclass(frozen=True)
class HouseholdParams:
    """Per-meter parameters drawn from the seed; arrays aligned with ``meter_ids``."""

    meter_ids: I64
    mean_power_w: F64
    pv_capacity_w: F64
    contract_amperage_a: I64

    @classmethod
    def draw(
        cls,
        meter_ids: npt.ArrayLike,
        seed: int,
        pv_share: float = 0.15,
        amperage_choices_a: tuple[int, ...] = (30, 40, 50, 60),
    ) -> HouseholdParams:
        if not 0.0 <= pv_share <= 1.0:
            raise ValueError(f"pv_share must be within 0..1, got {pv_share}")
        ids = np.asarray(meter_ids, dtype=np.int64)
        u_mean = hash_uniform(seed, 1, ids)
        u_pv = hash_uniform(seed, 2, ids)
        u_cap = hash_uniform(seed, 3, ids)
        u_amp = hash_uniform(seed, 4, ids)
        mean_power_w = 250.0 + 450.0 * u_mean  # about 2,200 to 6,100 kWh a year
        has_pv = u_pv < pv_share
        pv_capacity_w = np.where(has_pv, 3000.0 + 3000.0 * u_cap, 0.0)
        choices = np.asarray(amperage_choices_a, dtype=np.int64)
        amps = choices[np.minimum((u_amp * len(choices)).astype(np.int64), len(choices) - 1)]
        return cls(ids, mean_power_w, pv_capacity_w, amps)

    @property
    def has_pv(self) -> npt.NDArray[np.bool_]:
        return self.pv_capacity_w > 0


def _daily_shape(hour: F64) -> F64:
    """Relative consumption by hour of day (mean about 1)."""
    morning = 0.9 * np.exp(-0.5 * ((hour - 7.0) / 1.2) ** 2)
    evening = 1.4 * np.exp(-0.5 * ((hour - 19.5) / 2.2) ** 2)
    night_dip = -0.35 * np.exp(-0.5 * ((hour - 3.5) / 1.8) ** 2)
    return 0.72 + morning + evening + night_dip


def _seasonal(day_of_year: F64) -> F64:
    winter = 0.22 * np.cos(2.0 * np.pi * (day_of_year - 20.0) / 365.25)
    summer = 0.18 * np.exp(-0.5 * ((day_of_year - 220.0) / 20.0) ** 2)
    return 1.0 + winter + summer


def _day_of_year(days_since_epoch: I64) -> F64:
    # 1970-01-01 is day-of-year 0; a 365.25-day year is close enough for a load shape
    return np.mod(days_since_epoch.astype(np.float64), 365.25)


def household_power_w(
    params: HouseholdParams,
    index: npt.ArrayLike,
    slots: npt.ArrayLike,
    seed: int,
) -> tuple[F64, F64]:
    """Average consumption and PV generation [W] of meters ``params.*[index]`` in ``slots``
    (both non-negative; ``index`` and ``slots`` broadcast together)."""
    idx = np.asarray(index, dtype=np.int64)
    sl = np.asarray(slots, dtype=np.int64)
    idx, sl = np.broadcast_arrays(idx, sl)
    ids = params.meter_ids[idx]
    hour = slot_of_day(sl).astype(np.float64) / 2.0 + 0.25
    days = jst_day_number(sl)
    doy = _day_of_year(days)
    noise = np.exp(0.35 * hash_normal(seed, 11, ids, sl) - 0.06125)
    consumption_w = params.mean_power_w[idx] * _daily_shape(hour) * _seasonal(doy) * noise
    pv_cap = params.pv_capacity_w[idx]
    sun = np.clip(np.sin(np.pi * (hour - 6.0) / 12.0), 0.0, None)
    season_sun = 0.75 + 0.25 * np.cos(2.0 * np.pi * (doy - 172.0) / 365.25)
    cloud = 0.3 + 0.7 * hash_uniform(seed, 12, ids, days)
    pv_w = pv_cap * sun * season_sun * cloud
    return consumption_w, pv_w


def interval_energy_wh(
    params: HouseholdParams,
    index: npt.ArrayLike,
    slots: npt.ArrayLike,
    seed: int,
) -> tuple[I64, I64]:
    """Import and export energy [Wh] of meters ``params.*[index]`` in ``slots``.

    ``index`` (positions into ``params``) and ``slots`` broadcast together. Import is capped
    by the contract amperage, as the meter's limiter would.
    """
    idx, _ = np.broadcast_arrays(np.asarray(index, dtype=np.int64), np.asarray(slots))
    consumption_w, pv_w = household_power_w(params, index, slots, seed)
    net_w = consumption_w - pv_w
    cap_w = params.contract_amperage_a[idx].astype(np.float64) * NOMINAL_VOLTAGE_V
    hours = SLOT_SECONDS / 3600.0
    import_wh = np.floor(np.clip(net_w, 0.0, cap_w) * hours).astype(np.int64)
    export_wh = np.floor(np.clip(-net_w, 0.0, None) * hours).astype(np.int64)
    return import_wh, export_wh


def instantaneous_power_w(
    params: HouseholdParams, index: npt.ArrayLike, epoch_seconds: float, seed: int
) -> F64:
    """Signed instantaneous power [W] (positive import, negative export) at a moment.

    The slot's average net power with a few percent of jitter that changes every 10 s.
    """
    idx = np.asarray(index, dtype=np.int64)
    slot = np.full(idx.shape, int(epoch_seconds // SLOT_SECONDS), dtype=np.int64)
    imp, exp = interval_energy_wh(params, idx, slot, seed)
    avg_w = (imp - exp).astype(np.float64) * (3600.0 / SLOT_SECONDS)
    tick = np.full(idx.shape, int(epoch_seconds // 10), dtype=np.int64)
    jitter = 1.0 + 0.04 * hash_normal(seed, 13, params.meter_ids[idx], tick)
    return np.asarray(avg_w * jitter, dtype=np.float64)
