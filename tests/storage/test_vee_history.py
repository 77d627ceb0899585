"""The V06 running means as the tick path writes them (``duckdb_mdms.set_history``): a whole
range of keys by a range delete and an append, any other key set by UPDATE/INSERT; either
way one row per key, with exactly the numbers given."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from openami.storage import duckdb_mdms as db
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.mdms_schema import upgrade_mdms_schema


def _means(keys: list[int], n: int, base: float) -> pa.Table:
    return pa.table(
        {
            "supply_point_key": np.array(keys, dtype=np.int64),
            "n": np.full(len(keys), n, dtype=np.int64),
            "mean_wh": np.array([base + k for k in keys], dtype=np.float64),
        }
    )


def _stored(store: DuckIntervalStore) -> list[tuple[int, int, float]]:
    rows = store.query("SELECT * FROM vee_history ORDER BY supply_point_key").to_pylist()
    return [(r["supply_point_key"], r["n"], r["mean_wh"]) for r in rows]


def _write(store: DuckIntervalStore, means: pa.Table, stored: list[bool]) -> None:
    with store.transaction() as cur:
        db.set_history(cur, means, np.array(stored, dtype=np.bool_))


def test_a_whole_range_replaces_its_means_and_leaves_the_others(tmp_path) -> None:
    store = DuckIntervalStore(tmp_path / "h.duckdb")
    upgrade_mdms_schema(store)
    _write(store, _means([1, 2, 3, 4, 5, 6, 7], 1, 100.0), [False] * 7)
    # keys 3..5 are a whole range (one of them new to the store would be fine too)
    _write(store, _means([3, 4, 5], 2, 500.0), [True, True, True])
    got = _stored(store)
    assert [k for k, _, _ in got] == [1, 2, 3, 4, 5, 6, 7]  # one row per key
    assert got[:2] == [(1, 1, 101.0), (2, 1, 102.0)]
    assert got[2:5] == [(3, 2, 503.0), (4, 2, 504.0), (5, 2, 505.0)]
    assert got[5:] == [(6, 1, 106.0), (7, 1, 107.0)]
    # a range that reaches past the stored keys: the new keys are added once
    _write(store, _means([6, 7, 8, 9], 3, 900.0), [True, True, False, False])
    got = _stored(store)
    assert [k for k, _, _ in got] == list(range(1, 10))
    assert got[5:] == [(6, 3, 906.0), (7, 3, 907.0), (8, 3, 908.0), (9, 3, 909.0)]
    store.close()


def test_keys_with_a_gap_keep_the_key_between(tmp_path) -> None:
    store = DuckIntervalStore(tmp_path / "h.duckdb")
    upgrade_mdms_schema(store)
    _write(store, _means([10, 11, 12], 1, 0.0), [False] * 3)
    # 10 and 12 (not 11) plus a new key 14: 11 must survive as it was
    _write(store, _means([10, 12, 14], 4, 50.0), [True, True, False])
    assert _stored(store) == [(10, 4, 60.0), (11, 1, 11.0), (12, 4, 62.0), (14, 4, 64.0)]
    store.close()


def test_a_rolled_back_range_write_leaves_the_means(tmp_path) -> None:
    store = DuckIntervalStore(tmp_path / "h.duckdb")
    upgrade_mdms_schema(store)
    _write(store, _means([1, 2, 3], 1, 10.0), [False] * 3)
    before = _stored(store)
    try:
        with store.transaction() as cur:
            db.set_history(cur, _means([1, 2, 3], 9, 99.0), np.ones(3, dtype=np.bool_))
            raise RuntimeError("crash after the write, before the commit")
    except RuntimeError:
        pass
    assert _stored(store) == before
    store.close()
