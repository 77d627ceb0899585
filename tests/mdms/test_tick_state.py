"""The tick path (VEE state carried from tick to tick) stores exactly what the general path
stores, tick after tick.

Two stores get the same A-route ticks, one through ``ingest_batch`` as it is (the tick path
with its tick cache) and one with ``dense=False`` (the general path only). The views
``register_reads`` and ``half_hour_values`` and the V06 means must be identical. The ticks
carry zero runs and flat lines (also pairs and runs that began before a restart), gaps
(missed ticks), a register set back (V04), a rollover (V04R), a multiplier, a meter
without export, a high value (V07), a spike (V06), a low day (V07L), outage and tamper
events (V10), clock offsets (V09), a wrong multiplier (V11), a meter exchange mid-day,
re-sent and late ticks, ticks cut into parts, a write by something else (the state must be
dropped) and a restart (the state rebuilt from the store).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from openami.bus.messages import READ_SCHEMA
from openami.mdms import general as general_module
from openami.mdms.indexes import InstallIndex, MeterIndex
from openami.mdms.ingest import IngestContext, VeeIngestResult, ingest_batch
from openami.mdms.tick_cache import TickCache
from openami.mdms.tick_state import load_tick_state, mark_missing_in_step, save_tick_state
from openami.mdms.vee_config import VeeConfig, bit, load_vee_config
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.mdms_schema import upgrade_mdms_schema

N = 40
B0 = 48 * 20_000 + 30  # a JST day start (boundary of 00:00)
TICKS = 150
ZERO, FLAT, PAIRS, LOW, HIGH, SPIKE, OUTAGE, TAMPER = 1, 2, 3, 4, 5, 6, 7, 8
ROLL, MULT, NO_EXPORT, OFFSET, TOLD, GAPPY, SETBACK = 9, 10, 11, 12, 13, 14, 15
OLD, NEW = 30, 31  # meter exchange: NEW replaces OLD at boundary EXCHANGE
EXCHANGE = 70
ZERO_LATE, FLAT_LATE = 16, 17  # runs that span the restart


def _config(tmp_path: Path) -> VeeConfig:
    src = Path(__file__).resolve().parents[2] / "src/openami/config/vee.toml"
    text = src.read_text().replace("min_history = 96", "min_history = 30")
    path = tmp_path / "vee.toml"
    path.write_text(text)
    return load_vee_config(path)


def _indexes(cfg: VeeConfig) -> tuple[InstallIndex, MeterIndex]:
    ids = np.arange(N, dtype=np.int64)
    key = 5000 - 3 * ids  # supply point order differs from meter order
    valid_from = np.zeros(N)
    valid_to = np.full(N, np.nan)
    key[NEW] = key[OLD]
    valid_to[OLD] = (B0 + EXCHANGE) * 1800.0
    valid_from[NEW] = (B0 + EXCHANGE) * 1800.0
    installs = InstallIndex(
        pa.table(
            {
                "meter_id": ids,
                "supply_point_key": key,
                "valid_from": valid_from,
                "valid_to": pa.array(valid_to, mask=np.isnan(valid_to)),
            }
        )
    )
    digits = np.full(N, 9)
    digits[ROLL] = 5  # wraps at 100,000 Wh
    mult = np.ones(N, dtype=np.int64)
    mult[MULT] = 2
    meters = MeterIndex(
        pa.table(
            {
                "meter_id": ids,
                "contract_amperage_a": np.where(ids % 2 == 0, 30, 60),
                "register_digits": digits,
                "multiplier": mult,
            }
        ),
        cfg,
    )
    return installs, meters


def _registers(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    inc = rng.integers(40, 300, (N, TICKS)).astype(np.int64)
    inc[ZERO, 5:40] = 0  # a long zero run
    inc[ZERO, 60:75] = 0  # and a short one
    inc[FLAT, 10:30] = 77  # a flat line
    inc[FLAT, 30:34] = 78  # an adjacent flat group
    inc[PAIRS, 30:50] = np.tile([55, 55, 66, 66], 5)  # pairs that make one flat_cond run
    inc[LOW, 48:96] = 0  # the second JST day (values 48..95) with nothing …
    inc[LOW, 60] = 3  # … but 3 Wh
    inc[HIGH, 33] = 4000  # 30 A × 100 V × 0.5 h × 1.5 = 2,250 Wh
    inc[SPIKE, 120] = 3000  # 60 A: not high, but > 10 × the running mean
    inc[OUTAGE, 80:95] = 0
    inc[ZERO_LATE, 95:140] = 0  # a zero run the restart (tick 110) cuts
    inc[FLAT_LATE, 100:130] = 42  # a flat line the restart cuts …
    inc[FLAT_LATE, 130:132] = 43  # … and a pair right after it (the same flat_cond run)
    regs = np.concatenate([np.zeros((N, 1), np.int64), np.cumsum(inc, axis=1)], axis=1)
    regs += rng.integers(0, 50_000, N)[:, None]
    regs[ROLL] = (regs[ROLL] - regs[ROLL, 0] + 99_000) % 100_000
    regs[SETBACK, 50:] -= 5_000  # one value set back (V04), later ones continue
    export = np.cumsum(rng.integers(0, 3, (N, TICKS + 1)), axis=1).astype(np.int64)
    export[[ZERO, ZERO_LATE, OUTAGE, LOW]] = 0  # zero import and export
    return regs, export


def _tick(
    regs: np.ndarray, export: np.ndarray, b: int, meters: np.ndarray, offset: bool
) -> pa.Table:
    n = len(meters)
    table = pa.table(
        {
            "meter_id": meters,
            "boundary": np.full(n, B0 + b, dtype=np.int64),
            "import_register_wh": regs[meters, b],
            "export_register_wh": pa.array(export[meters, b], mask=meters == NO_EXPORT),
            "received_at": np.full(n, (B0 + b) * 1800.0 + 60),
            "source": np.zeros(n, dtype=np.uint8),
        }
    ).cast(READ_SCHEMA)
    if offset:
        off = np.where(meters == OFFSET, 120.0 if b % 7 == 0 else 5.0, 0.0)
        told = np.where(meters == MULT, 2, 1)
        told = np.where((meters == TOLD) & (b % 11 == 0), 5, told)
        table = table.append_column("clock_offset_s", pa.array(off))
        table = table.append_column("multiplier", pa.array(told.astype(np.int64)))
    return table


def _who(b: int) -> np.ndarray:
    everyone = np.arange(N, dtype=np.int64)
    keep = np.ones(N, dtype=np.bool_)
    keep[OLD] = b <= EXCHANGE
    keep[NEW] = b >= EXCHANGE
    if b in (20, 21, 45, 88):  # missed ticks: gaps, one of them two ticks long
        keep[GAPPY] = False
    if b == 36:
        keep[FLAT] = False  # the flat line loses one slot, arriving later (tick 40)
    return everyone[keep]


def _snapshot(store: DuckIntervalStore) -> dict[str, list[tuple[object, ...]]]:
    def rows(sql: str) -> list[tuple[object, ...]]:
        t = store.query(sql)
        return list(zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True))

    return {
        "reads": rows("SELECT * EXCLUDE (ingest_seq) FROM register_reads ORDER BY ALL"),
        "values": rows("SELECT * FROM half_hour_values ORDER BY ALL"),
        "history": rows("SELECT * FROM vee_history ORDER BY ALL"),
    }


def _run(
    store: DuckIntervalStore, cfg: VeeConfig, use_tick: bool, snapshot: Path | None = None
) -> tuple[list[tuple[str, int]], list[VeeIngestResult], DuckIntervalStore]:
    """The ticks; at tick 110 a restart: the state is rebuilt from the store, or (with
    ``snapshot``) saved there, the store closed and opened again and the state loaded."""
    installs, meters = _indexes(cfg)
    regs, export = _registers(np.random.default_rng(11))
    events = pa.table(
        {
            "meter_id": pa.array([OUTAGE, TAMPER], pa.int64()),
            "kind": ["outage", "tamper"],
            "start_s": [(B0 + 80) * 1800.0, (B0 + 12) * 1800.0 + 60],
            "end_s": [(B0 + 95) * 1800.0, (B0 + 13) * 1800.0],
            "recorded_at": [0.0, 0.0],
        }
    )
    with store.transaction() as cur:
        cur.register("ev", events)
        cur.execute("INSERT INTO meter_events SELECT * FROM ev")
    state_sizes: list[tuple[str, int]] = []
    results: list[VeeIngestResult] = []
    cache = TickCache() if use_tick else None

    def ingest(batch: pa.Table, at: float, part_rows: int = 1 << 20) -> None:
        context = IngestContext(
            store,
            installs,
            meters,
            cfg,
            at,
            tick_cache=cache,
            dense=use_tick,
            part_rows=part_rows,
        )
        results.append(ingest_batch(context, batch))

    for b in range(TICKS + 1):
        ingest(
            _tick(regs, export, b, _who(b), offset=b % 3 == 0), float(b), 16 if b % 5 else 1 << 20
        )
        if b == 40:  # the flat line's missing read, late
            ingest(_tick(regs, export, 36, np.array([FLAT]), offset=False), 40.5)
        if b == 24:  # the deadline closes the gap's slots: missing marks, state kept
            everyone = np.unique(5000 - 3 * np.arange(N, dtype=np.int64))
            points = pa.table(
                {
                    "supply_point_key": everyone,
                    "valid_from": np.zeros(len(everyone)),
                    "valid_to": pa.array([None] * len(everyone), pa.float64()),
                }
            )
            marked = mark_missing_in_step(store, cache, points, (B0 + 17, B0 + 22), 24.5)
            stored = store.query(
                "SELECT count(*) AS n FROM half_hour_values WHERE quality = 'missing'"
            )
            assert marked >= 3 and marked == stored.column("n")[0].as_py()  # GAPPY's gap and more
            assert cache is None or cache.in_step_with(store.generation)
        if b == 60:  # a tick sent twice
            ingest(_tick(regs, export, 60, _who(60), offset=False), 60.5)
        if b == 61:  # one meter's read sent again, corrected: a new read and new versions
            fixed = regs.copy()
            fixed[20, 61] += 5
            ingest(_tick(fixed, export, 61, np.array([20]), offset=False), 61.5)
        if b == 100:  # something else writes: the state must not be trusted after it
            other = pa.table(
                {
                    "supply_point_key": [123456],
                    "valid_from": [0.0],
                    "valid_to": pa.array([None], pa.float64()),
                }
            )
            assert store.mark_missing(other, B0 + 80, B0 + 80, 100.7) == 1
        if b == 110 and cache is not None and snapshot is None:  # a restart: rebuilt state
            cache.clear()
        if b == 110 and cache is not None and snapshot is not None:  # a restart: saved state
            assert save_tick_state(cache, store, cfg, snapshot) is not None
            path = Path(store.path)
            store.close()
            store = DuckIntervalStore(path)
            upgrade_mdms_schema(store)
            cache = TickCache()
            got = load_tick_state(cache, store, cfg, snapshot)
            assert got.loaded, got.reason
            assert got.meters == len(cache.rows) and cache.meters_in_step() >= N - 4
        if cache is not None:
            state_sizes.append((f"b{b}", cache.meters_in_step()))
    return state_sizes, results, store


@pytest.mark.parametrize("restart", ["rebuilt", "snapshot"])
def test_tick_path_stores_what_the_general_path_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restart: str
) -> None:
    cfg = _config(tmp_path)
    general_reads: list[tuple[int, int]] = []  # (tick, meter) of reads the general path took
    plan_general = general_module.plan_general

    def counting(tx: object, reads: pa.Table, *args: object, **kwargs: object) -> object:
        b = int(reads.column("boundary")[0].as_py()) - B0
        general_reads.extend((b, m) for m in reads.column("meter_id").to_pylist())
        return plan_general(tx, reads, *args, **kwargs)  # type: ignore[arg-type]

    stores = {}
    for name in ("tick", "general"):
        store = DuckIntervalStore(tmp_path / f"{name}.duckdb")
        upgrade_mdms_schema(store)
        stores[name] = store
    monkeypatch.setattr(general_module, "plan_general", counting)
    snapshot = tmp_path / "tick_state.arrow" if restart == "snapshot" else None
    sizes, results, stores["tick"] = _run(stores["tick"], cfg, use_tick=True, snapshot=snapshot)
    # only the late read and the corrected re-send needed the general path: runs and days
    # that began before a restart or a foreign write were looked back for, not handed over
    assert general_reads == [(36, FLAT), (61, 20)]
    monkeypatch.undo()
    _, expected, _ = _run(stores["general"], cfg, use_tick=False)
    assert results == expected  # the counts each call reports, duplicates included
    assert any(r.duplicates == len(_who(60)) for r in results)
    got, want = _snapshot(stores["tick"]), _snapshot(stores["general"])
    assert len(want["values"]) > (N - 2) * (TICKS - 10)
    assert got["reads"] == want["reads"]
    assert got["values"] == want["values"]
    assert got["history"] == want["history"]

    # the state was used: nearly every meter in step on most ticks
    in_step = dict(sizes)
    assert in_step["b30"] >= N - 4
    assert in_step["b150"] >= N - 4
    flags = stores["tick"].query("SELECT bit_or(vee_flags) AS f FROM half_hour_values")
    mask = int(flags.column("f")[0].as_py())
    for rule in ("V04", "V04R", "V06", "V07", "V07L", "V08", "V08F", "V09", "V10", "V10O", "V11"):
        assert mask & bit(rule), rule


def test_values_too_wide_for_the_narrow_state_are_stored_exactly(tmp_path: Path) -> None:
    """Meter IDs, supply point keys and registers above 2**31 (the tick state holds those
    columns as int64 then): the tick path stores what the general path stores, and values."""
    cfg = load_vee_config()
    ids = np.array([7, 2**33 + 1], dtype=np.int64)
    installs = InstallIndex(
        pa.table(
            {
                "meter_id": ids,
                "supply_point_key": np.array([9, 2**34 + 5], dtype=np.int64),
                "valid_from": np.zeros(2),
                "valid_to": pa.nulls(2, pa.float64()),
            }
        )
    )
    meters = MeterIndex(pa.table({"meter_id": ids, "register_digits": [12, 12]}), cfg)
    start = np.array([1_000, 3_000_000_000], dtype=np.int64)  # Wh; 2**31 - 1 ≈ 2.1e9
    got: dict[bool, dict[str, list[tuple[object, ...]]]] = {}
    for use_tick in (True, False):
        store = DuckIntervalStore(tmp_path / f"{use_tick}.duckdb")
        upgrade_mdms_schema(store)
        cache = TickCache() if use_tick else None
        for b in range(6):
            imp = start + 100 * b
            reads = pa.table(
                {
                    "meter_id": ids,
                    "boundary": np.full(2, B0 + b, dtype=np.int64),
                    "import_register_wh": imp,
                    "export_register_wh": imp + 2**32,
                    "received_at": np.full(2, (B0 + b) * 1800.0 + 60),
                    "source": np.zeros(2, dtype=np.uint8),
                },
                schema=READ_SCHEMA,
            )
            context = IngestContext(
                store, installs, meters, cfg, float(b), tick_cache=cache, dense=use_tick
            )
            ingest_batch(context, reads)
        if cache is not None:
            assert cache.rows.meter_id.dtype == np.int64
            assert cache.rows.last_export_register_wh.tolist() == (start + 500 + 2**32).tolist()
            assert cache.rows.supply_point_key.tolist() == [9, 2**34 + 5]
        got[use_tick] = _snapshot(store)
        t = store.query("SELECT supply_point_key, import_wh, export_wh FROM half_hour_values")
        got[use_tick]["energy"] = sorted(zip(*(c.to_pylist() for c in t.columns), strict=True))
        store.close()
    assert got[True] == got[False]
    assert got[True]["energy"] == [(9, 100, 100)] * 5 + [(2**34 + 5, 100, 100)] * 5
