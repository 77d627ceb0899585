"""The dense (grid) ingest path stores exactly what the general path stores.

Both paths ingest the same batches into two stores; the views ``register_reads`` and
``half_hour_values`` and the V06 history must be identical, while the dense store really
holds day rows. The data carry every rule's case: gaps, a register set back (V04), a
rollover (V04R), a multiplier, a meter without export, zero and flat runs across midnight,
a low day (V07L), a high value (V07), a spike (V06), outage and tamper events (V10), clock
offsets (V09), a wrong multiplier (V11) and a meter without a previous read. Batches with
gaps and without (whole rows are laid out without scattering), with export registers that
move and with none that does, take different branches.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from openami.bus.messages import READ_SCHEMA
from openami.clock import day_first_slot
from openami.mdms.indexes import InstallIndex, MeterIndex
from openami.mdms.ingest import IngestContext, VeeIngestResult, ingest_batch
from openami.mdms.tick_cache import TickCache
from openami.mdms.vee_config import VeeConfig, bit, load_vee_config
from openami.storage import duckdb_mdms
from openami.storage.duckdb_interval import DuckIntervalStore

DAY0 = day_first_slot(__import__("datetime").date(2026, 11, 2))
N = 40
ROLL_METER, MULT_METER, NO_EXPORT, ZERO_METER, FLAT_METER, LOW_METER = 3, 4, 5, 6, 7, 8
HIGH_METER, SPIKE_METER, OUTAGE_METER, TAMPER_METER, NO_PREV, UNIT_METER = 9, 10, 11, 12, 13, 14
PARTIAL, DUPLICATE, TWO_RECEIPTS, TWO_SOURCES = 20, 21, 22, 23


def _config(tmp_path: Path) -> VeeConfig:
    src = Path(__file__).resolve().parents[2] / "src/openami/config/vee.toml"
    text = src.read_text().replace("min_history = 96", "min_history = 40")
    path = tmp_path / "vee.toml"
    path.write_text(text)
    return load_vee_config(path)


def _indexes(cfg: VeeConfig) -> tuple[InstallIndex, MeterIndex]:
    ids = np.arange(N, dtype=np.int64)
    installs = InstallIndex(
        pa.table(
            {
                "meter_id": ids,
                "supply_point_key": 1000 - ids,  # supply point order differs from meter order
                "valid_from": np.zeros(N),
                "valid_to": pa.nulls(N, pa.float64()),
            }
        )
    )
    digits = np.full(N, 9)
    digits[ROLL_METER] = 5  # wraps at 100,000 Wh
    mult = np.ones(N, dtype=np.int64)
    mult[MULT_METER] = 2
    unit = np.ones(N, dtype=np.int64)
    unit[UNIT_METER] = 100
    meters = MeterIndex(
        pa.table(
            {
                "meter_id": ids,
                "contract_amperage_a": np.where(ids % 2 == 0, 30, 60),
                "register_digits": digits,
                "multiplier": mult,
                "register_unit_wh": unit,
            }
        ),
        cfg,
    )
    return installs, meters


def _increments(rng: np.random.Generator, days: int) -> np.ndarray:
    inc = rng.integers(50, 400, (N, days * 48)).astype(np.int64)
    inc[ZERO_METER, 80:110] = 0  # a zero run across midnight of day 1
    inc[FLAT_METER, 88:101] = 123  # a flat line across midnight of day 1
    inc[FLAT_METER, 110:122] = np.tile([70, 70, 90, 90], 3)  # pairs only
    inc[LOW_METER, 48:96] = 0  # a whole day with nothing
    inc[LOW_METER, 60] = 5
    inc[HIGH_METER, 70] = 4000  # 30 A × 100 V × 0.5 h × 1.5 = 2,250 Wh
    inc[SPIKE_METER, 130] = 3000  # 60 A: not high, but > 10 × the running mean
    inc[OUTAGE_METER, 80:90] = 0
    inc[UNIT_METER] = inc[UNIT_METER] // 100 * 100
    return inc


def _batch(
    registers: np.ndarray,
    export: np.ndarray,
    day: int,
    drop: np.ndarray,
    offset: np.ndarray | None = None,
    multiplier: np.ndarray | None = None,
) -> pa.Table:
    """Reads at the 48 boundaries ending day ``day``'s slots, meter order, without ``drop``."""
    b = DAY0 + 48 * day + np.arange(1, 49)
    meter = np.repeat(np.arange(N, dtype=np.int64), 48)
    boundary = np.tile(b, N)
    keep = ~drop.ravel()
    exp = export[:, 48 * day + 1 : 48 * day + 49].ravel()
    exp_mask = (meter == NO_EXPORT)[keep]
    cols: dict[str, pa.Array] = {
        "meter_id": pa.array(meter[keep]),
        "boundary": pa.array(boundary[keep]),
        "import_register_wh": pa.array(registers[:, 48 * day + 1 : 48 * day + 49].ravel()[keep]),
        "export_register_wh": pa.array(exp[keep], mask=exp_mask),
        "received_at": pa.array(np.full(int(keep.sum()), (DAY0 + 48 * day + 60) * 1800.0)),
        "source": pa.array(np.full(int(keep.sum()), 2, dtype=np.uint8)),
    }
    table = pa.table(cols).cast(READ_SCHEMA)
    if offset is not None:
        table = table.append_column("clock_offset_s", pa.array(offset.ravel()[keep]))
    if multiplier is not None:
        table = table.append_column("multiplier", pa.array(multiplier.ravel()[keep]))
    return table


def _snapshot(store: DuckIntervalStore) -> dict[str, list[tuple[object, ...]]]:
    def rows(sql: str) -> list[tuple[object, ...]]:
        t = store.query(sql)
        return list(zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True))

    return {
        "reads": rows("SELECT * EXCLUDE (ingest_seq) FROM register_reads ORDER BY ALL"),
        "values": rows("SELECT * FROM half_hour_values ORDER BY ALL"),
        "history": rows("SELECT * FROM vee_history ORDER BY ALL"),
    }


@pytest.fixture()
def stores(tmp_path: Path) -> tuple[DuckIntervalStore, DuckIntervalStore, VeeConfig]:
    cfg = _config(tmp_path)
    dense = DuckIntervalStore(tmp_path / "dense.duckdb")
    general = DuckIntervalStore(tmp_path / "general.duckdb")
    for store in (dense, general):
        duckdb_mdms.ensure_schema(store)
    return dense, general, cfg


@pytest.mark.parametrize(("gaps", "exporting"), [(True, True), (False, True), (True, False)])
def test_grid_path_stores_what_the_general_path_stores(
    stores: tuple[DuckIntervalStore, DuckIntervalStore, VeeConfig], gaps: bool, exporting: bool
) -> None:
    dense, general, cfg = stores
    rng = np.random.default_rng(7)
    days = 4
    inc = _increments(rng, days)
    start = rng.integers(0, 50_000, N).astype(np.int64)
    start[ROLL_METER] = 99_000
    start[UNIT_METER] = start[UNIT_METER] // 100 * 100
    registers = np.concatenate([start[:, None], start[:, None] + np.cumsum(inc, axis=1)], axis=1)
    registers[ROLL_METER] %= 100_000  # rollover at 5 digits
    registers[2, 20] -= 5_000  # set back: V04 on both sides
    export = np.cumsum(rng.integers(0, 3, (N, days * 48 + 1)), axis=1).astype(np.int64)
    export[ZERO_METER] = export[ZERO_METER, 0]  # zero import and export: V08
    if not exporting:  # no meter exports (every export register reads 0)
        export[:] = 0
    events = pa.table(
        {
            "meter_id": pa.array([OUTAGE_METER, TAMPER_METER], pa.int64()),
            "kind": ["outage", "tamper"],
            "start_s": [(DAY0 + 80) * 1800.0, (DAY0 + 10) * 1800.0 + 60],
            "end_s": [(DAY0 + 90) * 1800.0, (DAY0 + 11) * 1800.0],
            "recorded_at": [0.0, 0.0],
        }
    )
    seed = pa.table(
        {
            "meter_id": pa.array(np.delete(np.arange(N), NO_PREV)),
            "boundary": pa.array(np.full(N - 1, DAY0, dtype=np.int64)),
            "import_register_wh": pa.array(np.delete(registers[:, 0], NO_PREV)),
            "export_register_wh": pa.array(
                np.delete(export[:, 0], NO_PREV), mask=np.delete(np.arange(N) == NO_EXPORT, NO_PREV)
            ),
            "received_at": pa.array(np.full(N - 1, DAY0 * 1800.0)),
            "source": pa.array(np.zeros(N - 1, dtype=np.uint8)),
        }
    ).cast(READ_SCHEMA)
    drop = np.zeros((N, 48), dtype=np.bool_)
    if gaps:
        drop[15, 10] = drop[16, 47] = drop[17, 0] = True  # gaps, one at each day edge
    offset = np.zeros((N, 48))
    offset[18, 5] = 120.0  # V09
    told = np.ones((N, 48), dtype=np.int64)
    told[MULT_METER] = 2
    told[19, 7] = 3  # V11
    # days 1 and 2 in one batch (rows chain inside the part); meter PARTIAL has only 10 reads
    # on day 2 and meter DUPLICATE a second, different read: both go the general path in the
    # same transaction, the other meters become day rows
    drop2 = drop.copy()
    drop2[PARTIAL, 10:] = True
    days12 = pa.concat_tables(
        [_batch(registers, export, 1, drop), _batch(registers, export, 2, drop2)]
    )
    # meters TWO_RECEIPTS and TWO_SOURCES: one read of day 2 arrived later or by another route
    meter_ids = days12.column("meter_id").to_numpy()
    received = days12.column("received_at").to_numpy().copy()
    received[np.flatnonzero(meter_ids == TWO_RECEIPTS)[60]] += 1800.0
    source = days12.column("source").to_numpy().copy()
    source[np.flatnonzero(meter_ids == TWO_SOURCES)[70]] = 0
    days12 = days12.set_column(4, "received_at", pa.array(received))
    days12 = days12.set_column(5, "source", pa.array(source, pa.uint8()))
    dup = days12.filter(pa.array(meter_ids == DUPLICATE)).slice(5, 1)
    dup = dup.set_column(2, "import_register_wh", pa.array([dup.column(2)[0].as_py() + 7]))
    # day 3 as a day file with its opening 00:00 read: identical to the stored one except
    # for meter 16, whose day-end reads were dropped (a new read that closes day 2)
    day3 = _batch(registers, export, 3, drop)
    opening = pa.table(
        {
            "meter_id": pa.array(np.arange(N, dtype=np.int64)),
            "boundary": pa.array(np.full(N, DAY0 + 144, dtype=np.int64)),
            "import_register_wh": pa.array(registers[:, 144]),
            "export_register_wh": pa.array(export[:, 144], mask=np.arange(N) == NO_EXPORT),
            "received_at": pa.array(np.full(N, day3.column("received_at")[0].as_py())),
            "source": pa.array(np.full(N, 2, dtype=np.uint8)),
        }
    ).cast(READ_SCHEMA)
    batches = [
        _batch(registers, export, 0, drop, offset=offset, multiplier=told),
        pa.concat_tables([days12, dup]).sort_by(
            [("meter_id", "ascending"), ("boundary", "ascending")]
        ),
        pa.concat_tables([opening, day3]).sort_by(
            [("meter_id", "ascending"), ("boundary", "ascending")]
        ),
    ]
    ingests = [_Ingest(dense, cfg), _Ingest(general, cfg, dense=False)]
    for ingest in ingests:
        with ingest.store.transaction() as cur:
            cur.register("ev", events)
            cur.execute("INSERT INTO meter_events SELECT * FROM ev")
        ingest(seed, 1.0)
        for k, batch in enumerate(batches):
            ingest(batch, 10.0 + k)
    got, want = _snapshot(dense), _snapshot(general)
    assert len(want["values"]) > 4 * 48 * (N - 2)
    assert got["reads"] == want["reads"]
    assert got["values"] == want["values"]
    assert got["history"] == want["history"]

    rows = dense.query(
        "SELECT count(*) AS n, count(*) FILTER (WHERE qcode IS NULL) AS derived FROM day_rows"
    )
    n, derived = rows.column("n")[0].as_py(), rows.column("derived")[0].as_py()
    assert n == 4 * N - 8  # every meter-day but the 2 of PARTIAL, DUPLICATE, TWO_RECEIPTS and
    # TWO_SOURCES in the batch of days 1 and 2 became a day row …
    assert 0 < derived < n  # … most with values derived from the registers, some explicit
    assert general.query("SELECT count(*) AS n FROM day_rows").column("n")[0].as_py() == 0

    # every rule of the data set fired somewhere
    flags = dense.query("SELECT bit_or(vee_flags) AS f FROM half_hour_values").column("f")
    mask = int(flags[0].as_py())
    for rule in (
        "V02",
        "V04",
        "V04R",
        "V06",
        "V07",
        "V07L",
        "V08",
        "V08F",
        "V09",
        "V10",
        "V10O",
        "V11",
    ):
        assert mask & bit(rule), rule

    # re-sent batches add nothing on either path; a late read fills its gap the same way
    for ingest in ingests:
        again = ingest(batches[1], 20.0)
        assert (again.reads_new, again.values_new) == (0, 0)
        late = _batch(registers, export, 0, ~drop)  # only the reads dropped before
        late = late.filter(pa.array(late.column("meter_id").to_numpy() != 16))
        ingest(late, 30.0)
    assert _snapshot(dense) == _snapshot(general)


class _Ingest:
    """``ingest_batch`` into one store with its tick cache, as an Mdms on it would."""

    def __init__(self, store: DuckIntervalStore, cfg: VeeConfig, dense: bool = True) -> None:
        self.store, self.cfg, self.dense = store, cfg, dense
        self.installs, self.meters = _indexes(cfg)
        self.cache = TickCache()

    def __call__(self, batch: pa.Table, recorded_at: float) -> VeeIngestResult:
        context = IngestContext(
            self.store,
            self.installs,
            self.meters,
            self.cfg,
            recorded_at,
            tick_cache=self.cache,
            dense=self.dense,
        )
        return ingest_batch(context, batch)


def current_values_sql(store: DuckIntervalStore, key: int, lo: int, hi: int) -> pa.Table:
    """The highest version per slot through the hh_point macro: what the views say."""
    return store.query(
        "SELECT slot, import_wh, export_wh, quality, version, recorded_at FROM hh_point(?, ?, ?) "
        "QUALIFY row_number() OVER (PARTITION BY slot ORDER BY version DESC) = 1 ORDER BY slot",
        [key, lo, hi],
    )


def test_current_values_from_day_rows_equal_the_views(
    stores: tuple[DuckIntervalStore, DuckIntervalStore, VeeConfig],
) -> None:
    dense, _, cfg = stores
    ingest = _Ingest(dense, cfg)
    rng = np.random.default_rng(11)
    inc = _increments(rng, 3)[:, :96]
    registers = np.concatenate([np.zeros((N, 1), np.int64), np.cumsum(inc, axis=1)], axis=1)
    registers[2, 30] -= 4000  # V04: explicit lists
    export = np.zeros((N, 97), dtype=np.int64)
    drop = np.zeros((N, 48), dtype=np.bool_)
    drop[15, 10] = True  # a gap: absent cells (qcode 255)
    first = pa.table(
        {
            "meter_id": pa.array(np.arange(N, dtype=np.int64)),
            "boundary": pa.array(np.full(N, DAY0, dtype=np.int64)),
            "import_register_wh": pa.array(registers[:, 0]),
            "export_register_wh": pa.array(export[:, 0], mask=np.arange(N) == NO_EXPORT),
            "received_at": pa.array(np.full(N, 1.0)),
            "source": pa.array(np.zeros(N, dtype=np.uint8)),
        }
    ).cast(READ_SCHEMA)
    for batch in (
        first,
        _batch(registers, export, 0, drop),
        _batch(registers, export, 1, drop),
    ):
        if batch.num_rows:
            ingest(batch, 5.0)
    late = _batch(registers, export, 0, ~drop)  # the gap's read: narrow versions on top
    ingest(late, 9.0)
    assert dense.query("SELECT count(*) AS n FROM day_rows").column("n")[0].as_py() == 2 * N
    lo, hi = DAY0 - 5, DAY0 + 100
    for key in [1000 - m for m in range(N)] + [12345]:
        got = dense.current_values(key, lo, hi)
        want = current_values_sql(dense, key, lo, hi)
        assert got.to_pylist() == want.to_pylist(), key
        assert got.schema == want.schema
    assert dense.current_values(1000, DAY0 + 10, DAY0 + 12).num_rows == 3  # inside one day
