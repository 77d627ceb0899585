"""The tick cache's bookkeeping: trusted only while in step with the store's writes."""

from __future__ import annotations

import numpy as np

from openami.mdms.tick_cache import TickCache, TickRows, put, searchsorted


def _tick(cache: TickCache, meters: list[int], generation: int) -> None:
    """A batch whose meters (ascending, as in a tick) the cache takes."""
    cache.begin(generation)
    ids = np.array(meters, dtype=np.int64)
    cached = cache.rows_for(ids)
    rows = TickRows.zeros(len(ids), wide=True)  # as a tick builds them: int64
    rows.meter_id[:] = ids
    rows.last_boundary[:] = 7
    cache.store_rows(cached, np.ones(len(ids), dtype=np.bool_), rows)
    cache.finish(generation + 1, ok=True)


def _cache_with(meters: list[int], generation: int) -> TickCache:
    cache = TickCache()
    _tick(cache, meters, generation)
    return cache


def test_new_rows_are_merged_in_meter_order_after_the_batch() -> None:
    cache = _cache_with([2, 9], 0)
    _tick(cache, [5], 1)  # a meter the cache did not hold: merged in at the batch's end
    assert cache.rows.meter_id.tolist() == [2, 5, 9]
    assert cache.meters_in_step() == 3
    cache.begin(2)
    cached = cache.rows_for(np.array([5, 9], dtype=np.int64))
    assert isinstance(cached.at, slice)  # a run of the cache's rows: views, no gather
    assert cached.in_step.tolist() == [True, True]


def test_a_write_by_anything_else_drops_the_rows() -> None:
    cache = _cache_with([1, 2], 0)
    cache.begin(2)  # the store counted a write the cache did not make (it finished at 1)
    assert len(cache.rows) == 0
    assert cache.rows_for(np.array([1], dtype=np.int64)).in_step.tolist() == [False]


def test_a_failed_or_spoilt_batch_drops_the_rows() -> None:
    for spoil in (False, True):
        cache = _cache_with([1, 2], 0)
        cache.begin(1)
        if spoil:
            cache.spoil()
        cache.finish(2, ok=spoil)  # failed, or spoilt by another path's write
        assert len(cache.rows) == 0 and cache.meters_in_step() == 0


def test_columns_are_narrow_while_the_values_fit() -> None:
    cache = _cache_with([2, 9], 0)
    assert cache.rows.meter_id.dtype == np.int32
    assert cache.rows.v06_count.dtype == np.int16
    assert cache.nbytes() == 2 * 58  # bytes a meter (84 when every column was wide)


def test_a_value_that_does_not_fit_makes_its_column_int64_exactly() -> None:
    big_meter = 2**40 + 3
    cache = _cache_with([2, 9], 0)
    _tick(cache, [big_meter], 1)  # merged in: the meter column is widened first
    assert cache.rows.meter_id.dtype == np.int64
    assert cache.rows.meter_id.tolist() == [2, 9, big_meter]
    cache.begin(2)
    ids = np.array([9, big_meter], dtype=np.int64)
    cached = cache.rows_for(ids)
    assert isinstance(cached.at, slice) and cached.in_step.tolist() == [True, True]
    rows = TickRows.zeros(2, wide=True)
    rows.meter_id[:] = ids
    rows.last_import_register_wh[:] = [3_000_000_000, 12]  # above 2**31 - 1 Wh
    cache.store_rows(cached, np.ones(2, dtype=np.bool_), rows)
    assert cache.rows.last_import_register_wh.dtype == np.int64
    assert cache.rows.last_import_register_wh.tolist() == [0, 3_000_000_000, 12]
    assert cache.rows.supply_point_key.dtype == np.int32  # the others stay narrow


def test_a_meter_above_the_narrow_range_is_merged_after_the_highest_one() -> None:
    cache = _cache_with([2, 2**31 - 1], 0)
    _tick(cache, [5, 2**40], 1)
    assert cache.rows.meter_id.tolist() == [2, 5, 2**31 - 1, 2**40]


def test_searchsorted_finds_no_needle_outside_a_narrow_haystack() -> None:
    haystack = np.array([1, 5, 2**31 - 1], dtype=np.int32)
    needles = np.array([5, 2**40, -(2**40), 2**31 - 1], dtype=np.int64)
    pos = np.minimum(searchsorted(haystack, needles), len(haystack) - 1)
    assert (haystack[pos] == needles).tolist() == [True, False, False, True]
    assert searchsorted(needles[:1], haystack).tolist() == [0, 0, 1]  # a small wide haystack


def test_put_widens_a_dict_column_and_keeps_a_fitting_one_narrow() -> None:
    columns = {"day_import_wh": np.zeros(3, np.int32), "v06_count": np.zeros(3, np.int16)}
    put(columns, "day_import_wh", slice(1, 3), np.array([7, -(2**33)], dtype=np.int64))
    put(columns, "v06_count", slice(0, 2), np.array([1344, 3], dtype=np.int64))
    assert columns["day_import_wh"].dtype == np.int64
    assert columns["day_import_wh"].tolist() == [0, 7, -(2**33)]
    assert columns["v06_count"].dtype == np.int16 and columns["v06_count"].tolist() == [1344, 3, 0]
