"""Packing closed A-route days into day rows changes nothing the views return.

Two JST days of A-route ticks (one batch per boundary for every meter) go through the real
VEE ingest into the narrow tables, with the cases that must stay narrow or need explicit
value lists: a tick that was estimated and later backfilled (two versions), a manual edit,
a register set-back (V04, invalid values), a meter exchange in the middle of a day, a meter
with multiplier 2, a flat run of zeros (V08 flags) and a meter without an export register.
The views, current values, billing and settlement must be the same before and after packing;
the day rows must be exactly the packable days; packing again changes nothing.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from tests.mdms.vee_world import make_data_dir

from openami.bus.messages import READ_SCHEMA
from openami.clock import ManualClock, day_first_slot
from openami.mdms import Mdms
from openami.registry import BalancingGroup, Meter, Registry, Retailer, make_supply_point_id
from openami.storage.day_pack import pack_days
from openami.storage.duckdb_interval import DuckIntervalStore

DAY = date(2026, 11, 2)
NEXT = DAY + timedelta(days=1)
D0 = day_first_slot(DAY)
N = 9
METERS = np.arange(100, 100 + N, dtype=np.int64)
PLAIN, BACKFILL, EDITED, SETBACK, EXCHANGED, MULT2, ZEROS, NO_EXPORT, PLAIN2 = range(N)
NEW_METER = 200
EXCHANGE_B = 48 + 20  # day 2, 10:00 JST
MISSING_B = 10  # day 1: this tick of BACKFILL arrives only later
SETBACK_B = 30  # day 1: SETBACK's import register goes back here


def _world() -> tuple[Mdms, list[int]]:
    registry = Registry.open(":memory:")
    registry.add_balancing_groups([BalancingGroup("BG1", "one")])
    registry.add_retailers([Retailer("R1", "r1", "BG1"), Retailer("R2", "r2", "BG1")])
    keys = registry.add_supply_points([make_supply_point_id("03", 10 + i) for i in range(N)])
    meters = [int(m) for m in METERS] + [NEW_METER]
    registry.add_meters(
        [Meter(m, "M", f"S{m}", 60, "mesh", None, date(2030, 1, 1)) for m in meters]
    )
    registry.install_meters([(k, int(m)) for k, m in zip(keys, METERS, strict=True)], 0.0)
    registry.add_supply_contracts(
        [(k, "R1" if i % 2 else "R2", date(2026, 1, 1), None) for i, k in enumerate(keys)]
    )
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=UTC))
    mdms = Mdms(DuckIntervalStore(), registry, clock)
    mdms.set_meter_master(
        pa.table(
            {
                "meter_id": pa.array([int(METERS[MULT2])], pa.int64()),
                "register_digits": pa.array([9], pa.int32()),
                "register_unit_wh": pa.array([1], pa.int64()),
                "multiplier": pa.array([2], pa.int64()),
            }
        )
    )
    return mdms, keys


def _registers() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Import and export registers (export NULL-able) at boundaries D0 … D0 + 96."""
    rng = np.random.default_rng(5)
    imp = rng.integers(10_000, 90_000, (N, 1)) + np.concatenate(
        [np.zeros((N, 1), np.int64), np.cumsum(rng.integers(1, 700, (N, 96)), axis=1)], axis=1
    )
    exp = 300 + np.concatenate(
        [np.zeros((N, 1), np.int64), np.cumsum(rng.integers(0, 200, (N, 96)), axis=1)], axis=1
    )
    imp[ZEROS] = imp[ZEROS, 0]  # no consumption, no export: V08 flags a run of zeros
    exp[ZEROS] = exp[ZEROS, 0]
    imp[SETBACK, SETBACK_B] -= 5_000  # one read back by 5 kWh: V04 on the slot before
    has_export = np.ones((N, 97), np.bool_)
    has_export[NO_EXPORT] = False
    return imp, exp, has_export


def _tick(
    meters: list[int], b: int, imp: list[int], exp: list[int | None], source: int = 0
) -> pa.Table:
    n = len(meters)
    return pa.table(
        {
            "meter_id": meters,
            "boundary": [D0 + b] * n,
            "import_register_wh": imp,
            "export_register_wh": exp,
            "received_at": [float((D0 + b) * 1800 + 90)] * n,
            "source": [source] * n,
        },
        schema=READ_SCHEMA,
    )


def _ingest_ticks(mdms: Mdms, keys: list[int]) -> None:
    imp, exp, has_export = _registers()
    clock = mdms.clock
    assert isinstance(clock, ManualClock)
    rng = np.random.default_rng(8)
    new_imp = 7 + np.concatenate([[0], np.cumsum(rng.integers(1, 700, 96 - EXCHANGE_B))])
    for b in range(97):
        clock.set_timestamp((D0 + b) * 1800 + 120.0)
        rows = [i for i in range(N) if not (i == BACKFILL and b == MISSING_B)]
        if b >= EXCHANGE_B:
            rows = [i for i in rows if i != EXCHANGED]
        meters = [int(METERS[i]) for i in rows]
        ims = [int(imp[i, b]) for i in rows]
        exs: list[int | None] = [int(exp[i, b]) if has_export[i, b] else None for i in rows]
        if b > EXCHANGE_B:
            meters.append(NEW_METER)
            ims.append(int(new_imp[b - EXCHANGE_B]))
            exs.append(0)
        mdms.ingest(_tick(meters, b, ims, exs))
        if b == EXCHANGE_B:
            mdms.exchange_meter(
                keys[EXCHANGED],
                int(METERS[EXCHANGED]),
                (int(imp[EXCHANGED, b]), int(exp[EXCHANGED, b])),
                NEW_METER,
                (int(new_imp[0]), 0),
                D0 + b,
            )
        if b == 20:  # the hole is estimated (E1) …
            mdms.estimate(D0, D0 + 19, [keys[BACKFILL]])
        if b == 30:  # … and the late tick replaces the estimates with a new version
            i = BACKFILL
            mdms.ingest(
                _tick([int(METERS[i])], MISSING_B, [int(imp[i, MISSING_B])],
                      [int(exp[i, MISSING_B])], source=2)
            )  # fmt: skip
    mdms.edit(keys[EDITED], [D0 + 5], [123], [0], "alice", "customer reading")


def _snapshot(mdms: Mdms) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    reads = mdms.store.query(
        "SELECT * EXCLUDE (ingest_seq) FROM register_reads ORDER BY ALL"
    ).to_pylist()
    values = mdms.store.query("SELECT * FROM half_hour_values ORDER BY ALL").to_pylist()
    return reads, values


def _queries(mdms: Mdms, keys: list[int]) -> dict[str, object]:
    first, last = D0, D0 + 95
    values = {k: mdms.current_values(k, first, last).to_pylist() for k in keys}
    bill = mdms.bill(DAY, NEXT).to_pylist()
    rows = mdms.settle(DAY, estimate=False).rows
    if "run_id" in rows.column_names:
        rows = rows.drop_columns(["run_id"])
    return {"values": values, "bill": bill, "settle": rows.to_pylist()}


def _count(mdms: Mdms, table: str) -> int:
    return int(mdms.store.query(f"SELECT count(*) AS n FROM {table}").column("n")[0].as_py())


@pytest.fixture(scope="module")
def packed() -> dict[str, object]:
    mdms, keys = _world()
    _ingest_ticks(mdms, keys)
    before = _snapshot(mdms)
    queries_before = _queries(mdms, keys)
    narrow_values, narrow_reads = _count(mdms, "hh_values"), _count(mdms, "hh_reads")
    tick_rows = _count(mdms, "hh_tick_reads"), _count(mdms, "hh_tick_values")
    first = mdms.pack(DAY, DAY)  # day 1 alone first: day 2 then starts from a day row
    second = mdms.pack(DAY, NEXT)
    return {
        "mdms": mdms,
        "keys": keys,
        "before": before,
        "queries_before": queries_before,
        "narrow": (narrow_values, narrow_reads),
        "tick_rows": tick_rows,
        "first": first,
        "second": second,
    }


def test_views_are_the_same_after_packing(packed: dict[str, object]) -> None:
    mdms = packed["mdms"]
    assert isinstance(mdms, Mdms)
    reads_before, values_before = packed["before"]  # type: ignore[misc]
    reads_after, values_after = _snapshot(mdms)
    assert len(values_before) > 2 * 48 * N - 10
    assert reads_after == reads_before
    assert values_after == values_before


def test_queries_are_the_same_after_packing(packed: dict[str, object]) -> None:
    mdms = packed["mdms"]
    assert isinstance(mdms, Mdms)
    keys = packed["keys"]
    assert isinstance(keys, list)
    assert _queries(mdms, keys) == packed["queries_before"]


def test_exactly_the_packable_days_became_day_rows(packed: dict[str, object]) -> None:
    mdms = packed["mdms"]
    assert isinstance(mdms, Mdms)
    keys = packed["keys"]
    assert isinstance(keys, list)
    rows = mdms.store.query(
        "SELECT supply_point_key, day_first_slot, meter_id, qcode IS NOT NULL AS explicit "
        "FROM day_rows ORDER BY ALL"
    ).to_pylist()
    got = {(r["supply_point_key"], r["day_first_slot"] - D0): r["explicit"] for r in rows}
    narrow_day1 = {BACKFILL, EDITED}  # two versions; a manual edit
    narrow_day2 = {EXCHANGED}  # two meters that day
    expected = {}
    for i, k in enumerate(keys):
        explicit = i in (SETBACK, MULT2, ZEROS)
        if i not in narrow_day1:
            expected[(k, 0)] = explicit
        if i not in narrow_day2:
            expected[(k, 48)] = explicit and i != SETBACK  # the set-back is on day 1
    assert got == expected
    first, second = packed["first"], packed["second"]
    assert first.packed_days == N - 2  # type: ignore[attr-defined]
    assert second.packed_days == N - 1  # type: ignore[attr-defined]
    assert second.narrow_reasons == {  # type: ignore[attr-defined]
        "several versions": 2,  # backfill, edit (day 1)
        "not a plain measured version": 1,  # exchange reads give 'meter exchange' values
    }
    # the narrow tables lost exactly the packed values and reads
    narrow_values, narrow_reads = packed["narrow"]  # type: ignore[misc]
    n_packed = len(expected)
    assert _count(mdms, "hh_values") == narrow_values - 48 * n_packed
    assert _count(mdms, "hh_reads") == narrow_reads - 48 * n_packed
    # ticks' reads and values were packed out of their narrow tables too, and their batches
    # with them
    tick_reads, tick_values = packed["tick_rows"]  # type: ignore[misc]
    assert 0 < _count(mdms, "hh_tick_reads") < tick_reads
    assert 0 < _count(mdms, "hh_tick_values") < tick_values
    for kind in ("read", "value"):
        orphans = f"hh_tick_{kind}_batches b ANTI JOIN hh_tick_{kind}s t ON t.batch = b.batch"
        assert _count(mdms, orphans) == 0


def test_packing_again_changes_nothing(packed: dict[str, object]) -> None:
    mdms = packed["mdms"]
    assert isinstance(mdms, Mdms)
    snap = _snapshot(mdms)
    rows = _count(mdms, "day_rows")
    again = mdms.pack(DAY, NEXT)
    assert again.packed_days == 0
    assert _count(mdms, "day_rows") == rows
    assert _snapshot(mdms) == snap


def test_rejects_a_range_that_is_not_on_day_starts() -> None:
    mdms, _ = _world()
    with pytest.raises(ValueError):
        pack_days(mdms.store, mdms.installations, D0 + 1, D0 + 1, 0.0)


def test_days_a_day_row_cannot_hold_unchanged_stay_narrow() -> None:
    mdms, keys = _world()
    _ingest_ticks(mdms, keys)
    # a second, different read at a boundary of day 2: new versions of its two slots
    mdms.ingest(_tick([int(METERS[PLAIN2])], 58, [1], [1]))
    # a stored duplicate of one read of day 2 (as a superseded read would be)
    with mdms.store.transaction() as cur:
        cur.execute(
            "INSERT INTO hh_read_rows SELECT meter_id, boundary, import_register_wh + 1, "
            "export_register_wh, received_at + 1, source, ingest_seq FROM hh_reads "
            "WHERE meter_id = ? AND boundary = ?",
            [int(METERS[MULT2]), D0 + 70],
        )
    before = _snapshot(mdms)
    # the registry as a caller might pass it without the meter of PLAIN: no meter all day
    inst = mdms.installations
    inst = inst.filter(pa.array(np.asarray(inst.column("meter_id")) != METERS[PLAIN]))
    result = pack_days(mdms.store, inst, D0, D0 + 48, 0.0)
    assert result.narrow_reasons == {
        "not one meter all day": 2,  # PLAIN, both days
        "several versions": 3,  # backfill, edit (day 1), PLAIN2's late read (day 2)
        "not a plain measured version": 1,  # exchange (day 2)
        "reads missing or duplicated": 1,  # MULT2 (day 2)
    }
    assert result.packed_days == 2 * N - 7
    assert _snapshot(mdms) == before


def test_cli_packs_a_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_data_dir(data, 4)
    registry = Registry.open(data / "registry.sqlite")
    store = DuckIntervalStore(data / "interval.duckdb")
    mdms = Mdms(store, registry, ManualClock(datetime(2026, 11, 3, tzinfo=UTC)))
    regs = 5_000 + np.cumsum(np.random.default_rng(2).integers(0, 500, (49, 4)), axis=0)
    meters = [1000 + i for i in range(4)]
    for b in range(49):  # ticks of DAY for meters 1000-1003; meter 1003 misses 12:00
        rows = [i for i in range(4) if not (i == 3 and b == 24)]
        mdms.ingest(
            _tick([meters[i] for i in rows], b, [int(regs[b, i]) for i in rows], [0] * len(rows))
        )
    before = _snapshot(mdms)
    store.close()
    registry.close()
    exe = str(Path(sys.executable).parent / "openami")
    args = [exe, "mdms", "pack", "--from", str(DAY), "--to", str(DAY)]
    res = subprocess.run(
        [*args, "--data-dir", str(data)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert "packed 3 supply-point days" in res.stdout
    assert "1 stayed narrow" in res.stdout and "1 incomplete day" in res.stdout
    registry = Registry.open(data / "registry.sqlite")
    store = DuckIntervalStore(data / "interval.duckdb")
    mdms = Mdms(store, registry, ManualClock(datetime(2026, 11, 3, tzinfo=UTC)))
    assert _snapshot(mdms) == before
    assert _count(mdms, "day_rows") == 3
    store.close()
    registry.close()
    helped = subprocess.run([exe, "mdms", "pack", "--help"], capture_output=True, text=True)
    assert "day rows" in helped.stdout and "stay narrow" in helped.stdout
