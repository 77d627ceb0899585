"""Profiling: a period's energy spread over its slots with the load shape of its class;
the integer values of every period add up to its metered energy exactly."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from openami.clock import SLOTS_PER_DAY, day_first_slot, slot_of_day
from openami.mdms.profiling import SHAPE_MATRIX, SHAPES, profile, shape_indexes
from openami.registry.kinds import LOAD_SHAPES


def test_every_class_has_a_normalised_shape() -> None:
    assert set(SHAPES) == set(LOAD_SHAPES)
    assert SHAPE_MATRIX.shape == (len(LOAD_SHAPES), SLOTS_PER_DAY)
    np.testing.assert_allclose(SHAPE_MATRIX.sum(axis=1), 1.0)
    assert np.all(SHAPE_MATRIX > 0)


def test_sums_equal_the_metered_energy_exactly() -> None:
    rng = np.random.default_rng(16)
    n = 2_000
    energy_wh = rng.integers(0, 5_000_000_000, n)  # up to 5 GWh: high-voltage periods too
    energy_wh[:5] = [0, 1, 47, 49, 1_439]  # fewer Wh than slots, and odd remainders
    first = day_first_slot(date(2026, 10, 1)) + rng.integers(0, 2_000, n)
    n_slots = rng.integers(1, 40 * SLOTS_PER_DAY, n)
    shape = rng.integers(0, len(LOAD_SHAPES), n)
    out = profile(energy_wh, first, n_slots, shape)
    assert len(out.slot) == int(n_slots.sum())
    sums = np.bincount(out.period, weights=out.energy_wh, minlength=n).astype(np.int64)
    # float bincount is exact here (< 2**53); compare as integers too
    exact = np.zeros(n, dtype=np.int64)
    np.add.at(exact, out.period, out.energy_wh)
    np.testing.assert_array_equal(exact, energy_wh)
    np.testing.assert_array_equal(sums, energy_wh)
    assert out.energy_wh.min() >= 0
    assert out.energy_wh.dtype == np.int64
    # slots are consecutive from each period's first
    starts = np.cumsum(n_slots) - n_slots
    np.testing.assert_array_equal(out.slot[starts], first)


def test_the_shape_is_followed() -> None:
    day = day_first_slot(date(2026, 11, 2))
    residential, flat = shape_indexes(["residential", "flat"])
    energy = np.array([4_800_000, 4_800_000])
    out = profile(energy, np.array([day, day]), np.array([48, 48]), np.array([residential, flat]))
    res = out.energy_wh[out.period == 0]
    assert set(out.energy_wh[out.period == 1].tolist()) == {100_000}  # even split
    evening, night = slot_of_day(out.slot[:48]) == 39, slot_of_day(out.slot[:48]) == 6
    assert res[evening][0] > 3 * res[night][0]  # 19:30 far above 03:00
    np.testing.assert_allclose(res / energy[0], SHAPES["residential"], atol=1e-6)


def test_bad_periods_and_classes() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        profile(np.array([5]), np.array([0]), np.array([0]), np.array([0]))
    with pytest.raises(ValueError, match="negative"):
        profile(np.array([-5]), np.array([0]), np.array([4]), np.array([0]))
    with pytest.raises(ValueError, match="unknown load shape 'bakery'"):
        shape_indexes(["flat", "bakery"])
