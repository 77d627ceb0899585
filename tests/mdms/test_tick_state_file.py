"""Loading a saved tick state: only when the store and the VEE parameters are unchanged."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from openami.bus.messages import READ_SCHEMA
from openami.mdms.indexes import InstallIndex, MeterIndex
from openami.mdms.ingest import IngestContext, ingest_batch
from openami.mdms.tick_cache import TickCache
from openami.mdms.tick_state import load_tick_state, save_tick_state, vee_fingerprint
from openami.mdms.vee_config import VeeConfig, load_vee_config
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.mdms_schema import upgrade_mdms_schema
from openami.storage.tick_snapshot import save_snapshot

N = 50
B0 = 48 * 20_000 + 30


def _ticks(store: DuckIntervalStore, cfg: VeeConfig, cache: TickCache, boundaries: range) -> None:
    ids = np.arange(N, dtype=np.int64)
    installs = InstallIndex(
        pa.table(
            {
                "meter_id": ids,
                "supply_point_key": ids + 1,
                "valid_from": np.zeros(N),
                "valid_to": pa.nulls(N, pa.float64()),
            }
        )
    )
    meters = MeterIndex(pa.table({"meter_id": ids, "contract_amperage_a": np.full(N, 30)}), cfg)
    for b in boundaries:
        reads = pa.table(
            {
                "meter_id": np.arange(N, dtype=np.int64),
                "boundary": np.full(N, B0 + b, dtype=np.int64),
                "import_register_wh": np.arange(N, dtype=np.int64) * 1000 + 100 * b,
                "export_register_wh": np.zeros(N, dtype=np.int64),
                "received_at": np.full(N, (B0 + b) * 1800.0),
                "source": np.zeros(N, dtype=np.uint8),
            }
        ).cast(READ_SCHEMA)
        ctx = IngestContext(store, installs, meters, cfg, float(b), tick_cache=cache)
        ingest_batch(ctx, reads)


def _saved(tmp_path: Path) -> tuple[DuckIntervalStore, VeeConfig, Path]:
    store = DuckIntervalStore(tmp_path / "i.duckdb")
    upgrade_mdms_schema(store)
    cfg = load_vee_config()
    cache = TickCache()
    _ticks(store, cfg, cache, range(4))
    path = tmp_path / "tick_state.arrow"
    assert save_tick_state(cache, store, cfg, path) is not None
    return store, cfg, path


def test_loaded_rows_equal_the_saved_ones(tmp_path: Path) -> None:
    store, cfg, path = _saved(tmp_path)
    cache = TickCache()
    got = load_tick_state(cache, store, cfg, path)
    assert got.loaded and got.meters == N
    assert cache.meters_in_step() == N
    assert cache.in_step_with(store.generation)
    assert np.array_equal(cache.rows.last_boundary, np.full(N, B0 + 3))
    cache.rows.flat_run_slots[0] = 7  # the columns are writable copies, not the mapped file


def test_a_write_after_the_save_refuses_it(tmp_path: Path) -> None:
    store, cfg, path = _saved(tmp_path)
    _ticks(store, cfg, TickCache(), range(4, 5))  # another process's tick
    cache = TickCache()
    got = load_tick_state(cache, store, cfg, path)
    assert not got.loaded and "written after" in got.reason
    assert len(cache.rows) == 0


def test_other_vee_parameters_refuse_it(tmp_path: Path) -> None:
    store, cfg, path = _saved(tmp_path)
    other = replace(cfg, max_interpolation_slots=cfg.max_interpolation_slots + 1)
    got = load_tick_state(TickCache(), store, other, path)
    assert not got.loaded and "VEE" in got.reason


def test_a_damaged_or_unsorted_snapshot_is_refused(tmp_path: Path) -> None:
    store, cfg, path = _saved(tmp_path)
    path.write_bytes(b"not arrow at all")
    got = load_tick_state(TickCache(), store, cfg, path)
    assert not got.loaded and "not a readable Arrow file" in got.reason
    (tmp_path / "b").mkdir()
    store2, cfg2, path2 = _saved(tmp_path / "b")
    cache = TickCache()
    assert load_tick_state(cache, store2, cfg2, path2).loaded
    backwards = cache.rows.select(slice(None, None, -1))
    table = pa.table({f.name: getattr(backwards, f.name) for f in fields(backwards)})
    tag = {"store_writes": store2.durable_writes(), "vee": vee_fingerprint(cfg2)}
    save_snapshot(path2, table, tag)
    got = load_tick_state(TickCache(), store2, cfg2, path2)
    assert not got.loaded and "columns" in got.reason


def test_an_out_of_step_cache_is_not_saved_and_removes_the_old_file(tmp_path: Path) -> None:
    store, cfg, path = _saved(tmp_path)
    cache = TickCache()
    assert save_tick_state(cache, store, cfg, path) is None  # empty: nothing in step
    assert not path.exists()


def test_a_snapshot_whose_row_count_does_not_match_is_refused(tmp_path: Path) -> None:
    store, cfg, path = _saved(tmp_path)
    cache = TickCache()
    assert load_tick_state(cache, store, cfg, path).loaded
    rows = cache.rows
    table = pa.table({f.name: getattr(rows, f.name) for f in fields(rows)})
    tag = {"store_writes": store.durable_writes(), "vee": vee_fingerprint(cfg)}
    for wrong in (len(rows) + 1, len(rows) - 1):  # more rows promised than held, fewer
        meta = {b"openami.tick_state": json.dumps({"format": 1, **tag, "rows": wrong})}
        tagged = table.replace_schema_metadata(meta)
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, tagged.schema) as w:
            w.write_table(tagged)
        got = load_tick_state(TickCache(), store, cfg, path)
        assert not got.loaded and "columns" in got.reason
