"""A tick looks back only for the supply points whose new value can continue a V08 run; the
stored result is the same as with the full look-back for every point."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from openami.bus.messages import READ_SCHEMA
from openami.mdms.indexes import InstallIndex, MeterIndex
from openami.mdms.ingest import IngestContext, ingest_batch
from openami.mdms.tick_cache import TickCache
from openami.mdms.vee_config import bit, load_vee_config
from openami.storage import duckdb_mdms
from openami.storage.duckdb_interval import DuckIntervalStore

N = 24
B0 = 48 * 20_000 + 30  # a JST day start
TICKS = 80


def _registers(rng: np.random.Generator) -> np.ndarray:
    inc = rng.integers(30, 300, (N, TICKS)).astype(np.int64)
    inc[1, 5:40] = 0  # a zero run over many ticks
    inc[2, 10:30] = 77  # a flat line
    inc[3, 20:23] = 0  # too short to flag
    inc[4, 30:50] = np.tile([55, 55, 66, 66], 5)  # pairs
    inc[5, 60:75] = 0  # a zero run that starts after a gap (tick 58 is missing for meter 5)
    inc[6, 45:70] = 91  # a flat line interrupted by a backfilled tick
    inc[7, 20:45] = 88  # a flat line whose middle arrives last, with stored values after it
    return np.concatenate([np.zeros((N, 1), np.int64), np.cumsum(inc, axis=1)], axis=1)


def _tick(regs: np.ndarray, b: int, meters: np.ndarray) -> pa.Table:
    n = len(meters)
    return pa.table(
        {
            "meter_id": meters,
            "boundary": np.full(n, B0 + b, dtype=np.int64),
            "import_register_wh": regs[meters, b],
            "export_register_wh": np.zeros(n, dtype=np.int64),
            "received_at": np.full(n, (B0 + b) * 1800.0 + 60),
            "source": np.zeros(n, dtype=np.uint8),
        },
        schema=READ_SCHEMA,
    )


def _run(path: Path, candidates: bool, tick_cache: bool) -> list[tuple[object, ...]]:
    cfg = load_vee_config()
    ids = np.arange(N, dtype=np.int64)
    installs = InstallIndex(
        pa.table(
            {
                "meter_id": ids,
                "supply_point_key": 100 + ids,
                "valid_from": np.zeros(N),
                "valid_to": pa.nulls(N, pa.float64()),
            }
        )
    )
    meters = MeterIndex(pa.table({"meter_id": ids}), cfg)
    store = DuckIntervalStore(path)
    duckdb_mdms.ensure_schema(store)
    regs = _registers(np.random.default_rng(5))
    everyone = np.arange(N, dtype=np.int64)
    missing = {58: 5, 50: 6, 30: 7, 31: 7}  # tick → the meter whose read did not arrive
    cache = TickCache() if tick_cache else None

    def ingest(batch: pa.Table, recorded_at: float) -> None:
        context = IngestContext(
            store,
            installs,
            meters,
            cfg,
            recorded_at,
            tick_cache=cache,
            lookback_candidates_only=candidates,
        )
        ingest_batch(context, batch)

    for b in range(TICKS + 1):
        who = everyone[everyone != missing[b]] if b in missing else everyone
        ingest(_tick(regs, b, who), float(b))
    ingest(_tick(regs, 50, np.array([6])), 99.0)  # backfill
    # meter 7's read 31 alone: one value (slot 31, up to the stored read 32) between stored
    # values after it and a gap before it
    ingest(_tick(regs, 31, np.array([7])), 100.0)
    rows = store.query("SELECT * FROM half_hour_values ORDER BY ALL")
    history = store.query("SELECT * FROM vee_history ORDER BY ALL")
    store.close()
    out = list(zip(*(rows.column(c).to_pylist() for c in rows.column_names), strict=True))
    return out + list(
        zip(*(history.column(c).to_pylist() for c in history.column_names), strict=True)
    )


@pytest.mark.parametrize("tick_cache", [True, False], ids=["tick cache", "look-ups every tick"])
def test_tick_look_back_for_candidates_only_stores_the_same(
    tmp_path: Path, tick_cache: bool
) -> None:
    fast = _run(tmp_path / "fast.duckdb", True, tick_cache)
    full = _run(tmp_path / "full.duckdb", False, tick_cache)
    assert fast == full
    flags = 0
    for row in fast:
        if len(row) > 9 and isinstance(row[9], int):
            flags |= row[9]
    assert flags & bit("V08") and flags & bit("V08F")  # the runs were found at all
