"""The meter → supply point route the bus partitions by."""

from __future__ import annotations

import numpy as np

from openami.bus.route import MeterRoute


def test_the_latest_installation_of_a_meter_wins() -> None:
    meters, keys = np.array([5, 6, 5]), np.array([100, 200, 300])
    route = MeterRoute(lambda: (meters, keys))
    assert route(np.array([5, 6, 5])).tolist() == [300, 200, 300]


def test_an_unknown_meter_reloads_once_then_goes_by_its_own_id() -> None:
    loads: list[int] = []
    tables = [(np.array([1]), np.array([10])), (np.array([1, 2]), np.array([10, 20]))]

    def load() -> tuple[np.ndarray, np.ndarray]:
        loads.append(1)
        return tables[min(len(loads) - 1, 1)]

    route = MeterRoute(load, reload_every_s=0.0)
    assert route(np.array([1])).tolist() == [10]  # loaded on first use
    assert route(np.array([2, 1])).tolist() == [20, 10]  # installed since: reloaded
    assert route(np.array([3])).tolist() == [3]  # never installed: its own id
    assert len(loads) == 3


def test_no_reload_before_its_time() -> None:
    loads: list[int] = []

    def load() -> tuple[np.ndarray, np.ndarray]:
        loads.append(1)
        return np.array([1]), np.array([10])

    route = MeterRoute(load, reload_every_s=3600.0)
    route(np.array([1, 9]))
    route(np.array([9]))
    assert len(loads) == 1
