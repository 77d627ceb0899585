"""The tick cache's bookkeeping: trusted only while in step with the store's writes."""

from __future__ import annotations

import numpy as np

from openami.mdms.tick_cache import TickCache, TickRows


def _tick(cache: TickCache, meters: list[int], generation: int) -> None:
    """A batch whose meters (ascending, as in a tick) the cache takes."""
    cache.begin(generation)
    ids = np.array(meters, dtype=np.int64)
    cached = cache.rows_for(ids)
    rows = TickRows.zeros(len(ids))
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
