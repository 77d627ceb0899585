"""Clustering closed windows of day rows point-major changes where rows lie, nothing else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from openami.bus.messages import READ_SCHEMA
from openami.mdms.indexes import InstallIndex, MeterIndex
from openami.mdms.ingest import IngestContext, ingest_batch
from openami.mdms.tick_cache import TickCache
from openami.mdms.vee_config import load_vee_config
from openami.storage import duckdb_mdms
from openami.storage.day_cluster import cluster_days, complete_windows, window_of
from openami.storage.duckdb_interval import DuckIntervalStore

N = 30
WINDOW = 4


def test_windows_are_aligned_and_only_closed_ones_count() -> None:
    lo, hi = window_of(48 * 1000 + 30, 5)
    assert (hi - lo) == 48 * 4 and (lo + 18) % 48 == 0 and ((lo + 18) // 48) % 5 == 0
    assert window_of(lo + 48 * 3, 5) == (lo, hi)  # every day of a window maps to it
    assert window_of(hi + 48, 5) == (hi + 48, hi + 48 * 5)
    assert complete_windows(lo + 48, hi, 5) == [(lo, hi)]  # overlapping, ends in range
    assert complete_windows(lo, hi - 48, 5) == []  # its last day is not in range yet
    assert complete_windows(lo, hi + 48 * 10, 5) == [
        (lo, hi),
        (hi + 48, hi + 48 * 5),
        (hi + 48 * 6, hi + 48 * 10),
    ]


def _store(tmp_path: Path) -> tuple[DuckIntervalStore, int, int]:
    cfg = load_vee_config()
    ids = np.arange(N, dtype=np.int64)
    installs = InstallIndex(
        pa.table(
            {
                "meter_id": ids,
                "supply_point_key": 500 - ids,
                "valid_from": np.zeros(N),
                "valid_to": pa.nulls(N, pa.float64()),
            }
        )
    )
    meters = MeterIndex(pa.table({"meter_id": ids}), cfg)
    store = DuckIntervalStore(tmp_path / "interval.duckdb")
    duckdb_mdms.ensure_schema(store)
    first, _ = window_of(48 * 1000, WINDOW)  # start on a window edge
    days = 2 * WINDOW + 1
    rng = np.random.default_rng(3)
    regs = np.cumsum(rng.integers(0, 500, (N, days * 48 + 1)), axis=1)
    regs[7, 100] -= 3000  # an invalid value: a row with explicit lists

    def batch(meter: np.ndarray, boundary: np.ndarray, at: float) -> pa.Table:
        return pa.table(
            {
                "meter_id": meter,
                "boundary": boundary,
                "import_register_wh": regs[meter, boundary - first],
                "export_register_wh": np.zeros(len(meter), dtype=np.int64),
                "received_at": np.full(len(meter), at),
                "source": np.full(len(meter), 4, dtype=np.uint8),
            },
            schema=READ_SCHEMA,
        )

    cache = TickCache()

    def context(at: float) -> IngestContext:
        return IngestContext(store, installs, meters, cfg, at, tick_cache=cache)

    ingest_batch(context(1.0), batch(ids, np.full(N, first), 1.0))
    for d in range(days):
        b = first + 48 * d + np.arange(1, 49)
        at = float(first + 48 * d + 50) * 1800
        ingest_batch(context(at), batch(np.repeat(ids, 48), np.tile(b, N), at))
    return store, first, days


def _views(store: DuckIntervalStore) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    def rows(sql: str) -> list[tuple[object, ...]]:
        t = store.query(sql)
        return list(zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True))

    return (
        rows("SELECT * FROM register_reads ORDER BY ALL"),
        rows("SELECT * FROM half_hour_values ORDER BY ALL"),
    )


def test_clustering_keeps_every_row_and_puts_a_points_window_together(tmp_path: Path) -> None:
    store, first, days = _store(tmp_path)
    assert store.query("SELECT count(*) AS n FROM day_rows").column("n")[0].as_py() == N * days
    before = _views(store)
    assert len(before[1]) == N * days * 48

    result = cluster_days(store, first, first + 48 * (days - 1), WINDOW)
    assert (result.windows, result.rows) == (2, 2 * WINDOW * N)  # the last window is open
    assert _views(store) == before  # nothing changed but the order

    order = store.query(
        "SELECT supply_point_key AS k, day_first_slot AS d FROM day_rows ORDER BY rowid"
    )
    k = order.column("k").to_numpy()
    d = order.column("d").to_numpy()
    w = (d - first) // (48 * WINDOW)
    for window in (0, 1):  # each closed window: one run of rows sorted by (point, day)
        at = np.flatnonzero(w == window)
        assert np.array_equal(at, np.arange(at[0], at[0] + len(at)))
        pairs = list(zip(k[at], d[at], strict=True))
        assert pairs == sorted(pairs)
    open_window = np.flatnonzero(w == 2)  # the open window keeps arrival order: day-major
    assert np.all(np.diff(d[open_window]) == 0) and np.all(np.diff(k[open_window]) > 0)

    again = cluster_days(store, first, first + 48 * (days - 1), WINDOW)
    assert again.windows == 2 and _views(store) == before
