"""High-voltage points (高圧, contract ≥ 50 kW): demand, maximum demand and contract kW.

- Energy of a transformer-operated meter = register difference × multiplier (乗率, CT/VT
  ratio). The MDMS keeps half-hour values in primary Wh: manual reads are multiplied when
  they are profiled (``mdms/conventional.py``), B-route values scaled by the meter's
  coefficient (ECHONET 0x028A, EPC 0xD3/0xD4).
- Demand (需要電力) of a slot = its average power = ``energy_wh × 2 / 1000`` [kW]; maximum
  demand (最大需要電力) = the largest demand of a calendar month (JST).
- Contract kW under 実量制 (annual maximum demand 50–500 kW): the largest of the month's
  maximum demand and the previous 11 months' maxima, in whole kW (rounded half up).
  Reference: retail-settlement-lifecycle §4.2–4.3.

Everything per slot is columnar (NumPy over the point's values, no object per value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from openami.clock import day_first_slot
from openami.mdms.service import Mdms
from openami.registry import Registry

#: months that make up the contract kW (the month itself and the 11 before it)
CONTRACT_MONTHS = 12
#: from this annual maximum demand on the contract kW is negotiated (協議制), not 実量制
NEGOTIATED_FROM_KW = 500


class HighVoltageError(ValueError):
    """A question about a supply point that is not high voltage, or a bad month."""


@dataclass(frozen=True)
class DemandMonth:
    month: date  # first day of the month
    energy_wh: int  # current values of the month added up
    slots_with_value: int
    slots_in_month: int
    max_demand_kw: float  # 0.0 when the month has no value


@dataclass(frozen=True)
class ContractKw:
    month: date
    contract_kw: int
    max_demand_kw: float  # of the month itself
    months: list[DemandMonth]  # the months looked at, oldest first
    negotiated: bool  # a maximum reached 500 kW: the contract kW is agreed, not computed


def demand_kw(energy_wh: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """30-minute demand [kW] of half-hour energies [Wh]: the average power of the slot."""
    return np.asarray(energy_wh, dtype=np.float64) * 2.0 / 1000.0


def contract_kw(monthly_max_kw: Sequence[float]) -> int:
    """実量制: the largest of the month's maximum demand and the previous 11 months' (the
    last :data:`CONTRACT_MONTHS` of ``monthly_max_kw``, oldest first), in whole kW rounded
    half up."""
    if not monthly_max_kw:
        raise HighVoltageError("no month to take the contract kW from")
    window = list(monthly_max_kw)[-CONTRACT_MONTHS:]
    if any(kw < 0 or math.isnan(kw) for kw in window):
        raise HighVoltageError("a maximum demand must be a non-negative number")
    return math.floor(max(window) + 0.5)


def month_starts(last_month: date, count: int) -> list[date]:
    """The first days of the ``count`` months ending with ``last_month``'s, oldest first."""
    index = last_month.year * 12 + last_month.month - 1
    return [date((i // 12), i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


def monthly_demand(
    slots: npt.NDArray[np.int64], energy_wh: npt.NDArray[np.int64], months: list[date]
) -> list[DemandMonth]:
    """Per month of ``months`` (first days, consecutive, plus the day after the last): the
    energy, the slots with a value and the maximum demand of the values in it."""
    bounds = [day_first_slot(m) for m in months]
    bounds.append(day_first_slot(_next_month(months[-1])))
    which = np.searchsorted(np.asarray(bounds, dtype=np.int64), slots, side="right") - 1
    kw = demand_kw(energy_wh)
    out: list[DemandMonth] = []
    for i, month in enumerate(months):
        in_month = which == i
        out.append(
            DemandMonth(
                month=month,
                energy_wh=int(np.asarray(energy_wh)[in_month].sum()),
                slots_with_value=int(in_month.sum()),
                slots_in_month=bounds[i + 1] - bounds[i],
                max_demand_kw=float(kw[in_month].max()) if in_month.any() else 0.0,
            )
        )
    return out


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


class HighVoltage:
    """Demand and contract kW of high-voltage supply points, from their current values."""

    def __init__(self, mdms: Mdms, registry: Registry) -> None:
        self._mdms = mdms
        self._registry = registry

    def contract(self, supply_point_key: int, month: date) -> ContractKw:
        """The contract kW of ``month`` (実量制) with the 12 months it follows from."""
        classes = self._registry.kinds.point_classes([supply_point_key])
        if classes.column("voltage_class")[0].as_py() != "high":
            raise HighVoltageError(
                f"supply point {supply_point_key} is not high voltage: no demand contract"
            )
        months = month_starts(month.replace(day=1), CONTRACT_MONTHS)
        first = day_first_slot(months[0])
        last = day_first_slot(_next_month(months[-1])) - 1
        values = self._mdms.current_values(supply_point_key, first, last)
        usable = values.filter(values.column("import_wh").is_valid())
        demand = monthly_demand(
            np.asarray(usable.column("slot").to_numpy(), dtype=np.int64),
            np.asarray(usable.column("import_wh").to_numpy(), dtype=np.int64),
            months,
        )
        maxima = [m.max_demand_kw for m in demand]
        return ContractKw(
            month=months[-1],
            contract_kw=contract_kw(maxima),
            max_demand_kw=maxima[-1],
            months=demand,
            negotiated=max(maxima) >= NEGOTIATED_FROM_KW,
        )
