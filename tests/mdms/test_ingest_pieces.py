"""A batch in pieces (``ingest_pieces``) stores what the same batch in one call stores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from openami.bus.messages import READ_SCHEMA
from openami.mdms.indexes import InstallIndex, MeterIndex
from openami.mdms.ingest import IngestContext, ingest_batch, ingest_pieces
from openami.mdms.tick_cache import TickCache
from openami.mdms.vee_config import load_vee_config
from openami.storage import duckdb_checkpoints
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.mdms_schema import upgrade_mdms_schema

N = 300
B0 = 48 * 20_000 + 30


def _tick(b: int) -> pa.Table:
    ids = np.arange(N, dtype=np.int64)
    imp = 1_000 * ids + 37 * b + (ids % 7) * b
    imp[5] = 10 if b == 3 else imp[5]  # set back: V04
    return pa.table(
        {
            "meter_id": ids,
            "boundary": np.full(N, B0 + b, dtype=np.int64),
            "import_register_wh": imp,
            "export_register_wh": np.zeros(N, dtype=np.int64),
            "received_at": np.full(N, (B0 + b) * 1800.0 + 60),
            "source": np.zeros(N, dtype=np.uint8),
        },
        schema=READ_SCHEMA,
    )


def _store(path: Path) -> tuple[DuckIntervalStore, IngestContext]:
    cfg = load_vee_config()
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
    store = DuckIntervalStore(path)
    upgrade_mdms_schema(store)
    meters = MeterIndex(pa.table({"meter_id": ids}), cfg)
    context = IngestContext(store, installs, meters, cfg, 1.0, tick_cache=TickCache(), part_rows=64)
    return store, context


def _stored(store: DuckIntervalStore) -> list[tuple[object, ...]]:
    rows = []
    for sql in (
        "SELECT * EXCLUDE (ingest_seq) FROM register_reads ORDER BY ALL",
        "SELECT * FROM half_hour_values ORDER BY ALL",
        "SELECT * FROM vee_history ORDER BY ALL",
    ):
        t = store.query(sql)
        rows += list(zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True))
    return rows


def test_pieces_store_what_one_batch_stores(tmp_path: Path) -> None:
    whole, whole_ctx = _store(tmp_path / "whole.duckdb")
    pieces, pieces_ctx = _store(tmp_path / "pieces.duckdb")
    for b in range(5):
        tick = _tick(b)
        expected = ingest_batch(whole_ctx, tick)
        # pieces of 100 reads (each cut into parts of 64), one empty
        cut = [tick.slice(0, 100), tick.slice(100, 0), tick.slice(100, 100), tick.slice(200)]
        assert ingest_pieces(pieces_ctx, iter(cut)) == expected
    assert expected.values_new == N and expected.invalid == 1  # the tick path ran, V04 found
    assert pieces_ctx.tick_cache is not None and pieces_ctx.tick_cache.meters_in_step() == N
    assert _stored(whole) == _stored(pieces)
    assert ingest_pieces(pieces_ctx, iter([])).rows_in == 0


def test_pieces_out_of_meter_order_are_refused(tmp_path: Path) -> None:
    store, context = _store(tmp_path / "x.duckdb")
    tick = _tick(0)
    with pytest.raises(ValueError, match="above the pieces"):
        ingest_pieces(context, iter([tick.slice(100, 100), tick.slice(0, 150)]))
    kept = store.query("SELECT count(*) AS n FROM register_reads").column("n")[0].as_py()
    assert kept == 100  # the piece before it is stored, nothing of the refused one


def test_an_ingest_checkpoints_the_store_once_its_log_is_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "interval.duckdb"
    store, context = _store(path)
    ingest_pieces(context, [_tick(1)])  # a small log: DuckDB's threshold decides
    assert store.background_checkpoint.wait(30) is None
    assert path.with_name("interval.duckdb.wal").stat().st_size > 0
    monkeypatch.setattr(duckdb_checkpoints, "CHECKPOINT_DUE_BYTES", 1)
    ingest_pieces(context, [_tick(2)])
    assert store.background_checkpoint.wait(30) is not None
    assert not path.with_name("interval.duckdb.wal").exists()
    store.close()
