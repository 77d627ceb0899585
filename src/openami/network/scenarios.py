"""Scenarios on a network model: concentrator failure, area blackout, interference.

Each helper adds the outage or interference to the model and returns it. Times are Unix
seconds; meters are fleet positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from openami.network.model import Interference, NetworkModel, Outage

I64 = npt.NDArray[np.int64]


def concentrator_members(network: NetworkModel, concentrator: int) -> I64:
    assert network.concentrator_of is not None
    members = np.flatnonzero(network.concentrator_of == concentrator).astype(np.int64)
    if len(members) == 0:
        raise ValueError(f"concentrator {concentrator} has no meters")
    return members


def concentrator_failure(
    network: NetworkModel, concentrator: int, start_s: float, end_s: float
) -> Outage:
    """A concentrator fails: its meters are unreachable, then re-join one by one."""
    outage = Outage(
        concentrator_members(network, concentrator),
        start_s,
        end_s,
        reason=f"concentrator {concentrator} failure",
        rejoin=True,
    )
    network.add_outage(outage)
    return outage


def meters_in_area(supply_point_ids: Sequence[str], area_code: str) -> I64:
    """Fleet positions whose supply point ID starts with the two-digit ``area_code``."""
    return np.array(
        [i for i, sp in enumerate(supply_point_ids) if sp[:2] == area_code], dtype=np.int64
    )


def area_blackout(
    network: NetworkModel, meter_index: npt.ArrayLike, start_s: float, end_s: float
) -> Outage:
    """Mains fail over an area: last gasps at the start, restore notices after re-join."""
    outage = Outage(
        np.asarray(meter_index, dtype=np.int64),
        start_s,
        end_s,
        reason="area blackout",
        rejoin=True,
        power=True,
    )
    network.add_outage(outage)
    return outage


def add_interference(
    network: NetworkModel,
    meter_index: npt.ArrayLike,
    start_s: float,
    end_s: float,
    success_factor: float = 0.5,
) -> Interference:
    """Radio or line noise: attempts succeed ``success_factor`` as often over the period."""
    item = Interference(np.asarray(meter_index, dtype=np.int64), start_s, end_s, success_factor)
    network.add_interference(item)
    return item
