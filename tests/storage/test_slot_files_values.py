"""The slot-file pass picks each point's current value in NumPy: the same rows as the SQL
rule (``current_versions_sql``) on random versions, for dense and sparse keys, for an
unsorted audience with a point twice (a switch that day), and for a small audience that
is filtered in the database."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from openami.storage.current_values_sql import current_versions_sql
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.duckdb_mdms import VALUE_SCHEMA
from openami.storage.duckdb_reads import read_query
from openami.storage.interval_appends import append_values
from openami.storage.slot_files_values import current_rows, join_audience, read_versions

SLOT = 985_000


def _store(keys: np.ndarray, seed: int) -> DuckIntervalStore:
    """Up to three versions per point, stored in three rounds; a later version may have no
    import (missing) or carry an edit; other slots hold noise."""
    rng = np.random.default_rng(seed)
    store = DuckIntervalStore()
    with store.transaction() as cur:
        for version in (1, 2, 3):
            chosen = keys if version == 1 else keys[rng.random(len(keys)) < 0.4]
            n = len(chosen)
            missing = rng.random(n) < 0.2
            for slot in (SLOT - 1, SLOT):
                table = pa.table(
                    {
                        "supply_point_key": chosen,
                        "slot": np.full(n, slot, np.int64),
                        "import_wh": pa.array(rng.integers(0, 2000, n), mask=missing),
                        "export_wh": pa.array(rng.integers(0, 50, n), mask=missing),
                        "qcode": np.where(missing, 3, rng.integers(0, 2, n)).astype(np.uint8),
                        "version": np.full(n, version, np.int32),
                        "vee_flags": np.zeros(n, np.int32),
                    },
                    schema=VALUE_SCHEMA,
                )
                append_values(cur, table, 1.0e9 + 600 * version + 0.0004, "register difference")
    return store


def _expected(store: DuckIntervalStore, as_of_s: float) -> dict[int, tuple[object, ...]]:
    sql = f"""SELECT supply_point_key, import_wh, export_wh, quality, version,
                     CAST(recorded_at * 1000 AS BIGINT) AS recorded_ms
              FROM ({current_versions_sql("$slot", "$slot", "WHERE recorded_at <= $as_of")})"""
    rows = read_query(store, sql, {"slot": SLOT, "as_of": as_of_s}).to_pylist()
    return {r["supply_point_key"]: tuple(list(r.values())[1:]) for r in rows}


@pytest.mark.parametrize("spacing", [1, 9_973])  # dense keys, sparse keys
def test_the_numpy_rule_matches_the_sql_rule(spacing: int) -> None:
    keys = np.arange(1, 3001, dtype=np.int64) * spacing + 5
    store = _store(keys, seed=spacing)
    rng = np.random.default_rng(7)
    # unsorted, a point twice (two retailers that day), points without any version
    aud_keys = np.concatenate([rng.permutation(keys)[:2500], keys[:3], [10**12, 10**12 + 1]])
    audience = pa.table(
        {
            "supply_point_key": aud_keys,
            "supply_point_id": [f"{k:022d}" for k in aud_keys],
            "recipient": rng.integers(0, 4, len(aud_keys)).astype(np.int32),
        }
    )
    for as_of_s in (1.0e9 + 700, 1.0e9 + 2000):  # before and after the third round
        expected = _expected(store, as_of_s)
        for small in (False, True):
            versions = read_versions(store, SLOT, as_of_s, None, audience if small else None)
            got = join_audience(SLOT, audience, versions)
            got_keys = got.column("supply_point_key").to_pylist()
            assert got_keys == sorted(aud_keys.tolist())  # every audience row, in key order
            assert got.column("supply_point_id").to_pylist() == [f"{k:022d}" for k in got_keys]
            recorded = got.column("recorded_at").cast(pa.int64()).to_pylist()
            for i, row in enumerate(got.drop(["recorded_at"]).to_pylist()):
                want = expected.get(row["supply_point_key"])
                have = (row["import_wh"], row["export_wh"], row["quality"], row["version"])
                if want is None:
                    assert have == (None, None, None, None)
                    assert recorded[i] is None
                else:
                    assert have == want[:4]
                    assert recorded[i] == want[4]
    store.close()


def test_current_rows_takes_the_highest_version_of_each_key() -> None:
    keys = np.array([5, 3, 5, 9, 3, 5], np.int64)
    versions = np.array([1, 1, 3, 1, 2, 2], np.int64)
    got_keys, rows = current_rows(keys, versions)
    assert got_keys.tolist() == [3, 5, 9]
    assert rows.tolist() == [4, 2, 3]
    empty_keys, empty_rows = current_rows(np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert len(empty_keys) == len(empty_rows) == 0
