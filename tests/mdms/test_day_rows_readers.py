"""Readers that restrict by slot or boundary range read day rows as they read narrow rows.

The same three JST days of register reads go into two stores: once through the dense path
(``day_rows``, one wide row per supply point and day) and once through the general path
(``hh_reads`` / ``hh_values``). Both then get the same estimation run and manual edit (narrow
versions on top of day rows in the dense store). Every reader that now goes through the
table macros ``hh_slots`` / ``hh_point`` / ``reads_between`` must return the same, non-empty
result from both stores, and the sums must match the registers the data were made from —
so a macro that pruned one day row too many (at a day edge, say) fails here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from openami.bus.messages import READ_SCHEMA
from openami.clock import ManualClock, day_first_slot
from openami.hub.context import HubContext
from openami.hub.espi_access import Point
from openami.hub.espi_feed import point_values
from openami.hub.values import daily_sums, visible_values
from openami.mdms import Mdms
from openami.mdms.ingest import IngestContext, ingest_batch
from openami.mdms.jobs import EditResult, EstimationResult
from openami.mdms.kpi import daily_kpis
from openami.registry import BalancingGroup, Meter, Registry, Retailer, make_supply_point_id
from openami.storage import dashboard_queries as dq
from openami.storage import duckdb_data_api as api
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.parquet_days import compact_day, day_path
from openami.storage.repositories import open_database
from openami.storage.repositories.clients import ClientStore
from openami.storage.slo_queries import delivery_slo

DAYS = [date(2026, 11, 2) + timedelta(days=d) for d in range(3)]
D0 = day_first_slot(DAYS[0])
N = 8
METERS = np.arange(100, 100 + N, dtype=np.int64)
GAP_METER = 5  # index: reads at day 1 boundaries 10..14 never arrive (a hole in its day row)
EDIT_POINT = 2  # index: slots 0 and 1 of day 1 edited by hand


def _registry() -> tuple[Registry, list[int], list[str]]:
    registry = Registry.open(":memory:")
    registry.add_balancing_groups([BalancingGroup("BG1", "one"), BalancingGroup("BG2", "two")])
    registry.add_retailers([Retailer("R1", "r1", "BG1"), Retailer("R2", "r2", "BG2")])
    ids = [make_supply_point_id("03" if i < 5 else "05", 10 + i) for i in range(N)]
    keys = registry.add_supply_points(ids)
    registry.add_meters(
        [
            Meter(
                int(m),
                "M",
                f"S{i}",
                30 if i % 2 else 60,
                ("mesh", "cellular")[i % 2],
                None,
                date(2030, 1, 1),
            )
            for i, m in enumerate(METERS)
        ]
    )
    registry.install_meters([(k, int(m)) for k, m in zip(keys, METERS, strict=True)], 0.0)
    registry.add_supply_contracts(
        [(k, "R1" if i % 3 else "R2", date(2026, 1, 1), None) for i, k in enumerate(keys)]
    )
    return registry, keys, ids


def _registers() -> tuple[np.ndarray, np.ndarray]:
    """Import and export registers at the 3 × 48 + 1 boundaries from D0, per meter."""
    rng = np.random.default_rng(11)
    steps = 3 * 48
    imp = rng.integers(20_000, 60_000, (N, 1)) + np.concatenate(
        [np.zeros((N, 1), np.int64), np.cumsum(rng.integers(0, 900, (N, steps)), axis=1)], axis=1
    )
    exp = 500 + np.concatenate(
        [np.zeros((N, 1), np.int64), np.cumsum(rng.integers(0, 40, (N, steps)), axis=1)], axis=1
    )
    return imp.astype(np.int64), exp.astype(np.int64)


def _batch(imp: np.ndarray, exp: np.ndarray, b: np.ndarray, drop: np.ndarray) -> pa.Table:
    """Reads of every meter at boundaries ``D0 + b`` (meter order), without ``drop``."""
    keep = ~drop.ravel()
    n = int(keep.sum())
    received = float((D0 + int(b.max()) + 2) * 1800)  # an hour after the last boundary
    return pa.table(
        {
            "meter_id": np.repeat(METERS, len(b))[keep],
            "boundary": np.tile(D0 + b, N)[keep],
            "import_register_wh": imp[:, b].ravel()[keep],
            "export_register_wh": exp[:, b].ravel()[keep],
            "received_at": np.full(n, received),
            "source": np.zeros(n, dtype=np.uint8),
        },
        schema=READ_SCHEMA,
    )


def _build(
    dense: bool, registry: Registry, imp: np.ndarray, exp: np.ndarray
) -> tuple[Mdms, EstimationResult, EditResult]:
    mdms = Mdms(DuckIntervalStore(), registry, ManualClock(datetime(2026, 11, 9, tzinfo=UTC)))

    def ingest(batch: pa.Table) -> None:
        recorded_at = float(batch.column("received_at")[0].as_py())
        context = IngestContext(
            mdms.store,
            mdms.install_index,
            mdms.meter_index,
            mdms.vee,
            recorded_at,
            tick_cache=mdms.tick_cache,
            dense=dense,
        )
        ingest_batch(context, batch)

    ingest(_batch(imp, exp, np.array([0]), np.zeros((N, 1), np.bool_)))  # seed at 00:00
    for d in range(3):
        drop = np.zeros((N, 48), np.bool_)
        if d == 1:
            drop[GAP_METER, 9:14] = True  # boundaries 10..14 of day 1
        ingest(_batch(imp, exp, np.arange(48 * d + 1, 48 * d + 49), drop))
    est = mdms.estimate(D0, D0 + 3 * 48 - 1)
    key = mdms.installations.column("supply_point_key").to_pylist()[EDIT_POINT]
    first = D0 + 48  # the read at its start boundary is the last one of day 0's row
    edit = mdms.edit(key, [first, first + 1], [111, 222], [0, 0], "alice", "customer reading")
    return mdms, est, edit


@pytest.fixture(scope="module")
def world() -> dict[str, object]:
    registry, keys, ids = _registry()
    imp, exp = _registers()
    dense, est_d, edit_d = _build(True, registry, imp, exp)
    narrow, est_n, edit_n = _build(False, registry, imp, exp)
    # the jobs read through the macros too: the estimation found the same gap, the edit
    # found both end reads (sum check run, and failed: the edit took energy away)
    assert est_d == est_n and est_d.gaps == 1 and est_d.candidates == 6
    assert edit_d == edit_n and edit_d.sum_check_ok is False
    return {"dense": dense, "narrow": narrow, "keys": keys, "ids": ids, "imp": imp, "exp": exp}


def _pair(world: dict[str, object]) -> tuple[Mdms, Mdms]:
    dense, narrow = world["dense"], world["narrow"]
    assert isinstance(dense, Mdms) and isinstance(narrow, Mdms)
    return dense, narrow


def _count(store: DuckIntervalStore, table: str) -> int:
    return int(store.query(f"SELECT count(*) AS n FROM {table}").column("n")[0].as_py())


def test_the_two_stores_hold_the_data_differently(world: dict[str, object]) -> None:
    dense, narrow = _pair(world)
    assert _count(dense.store, "day_rows") == 3 * N
    assert _count(narrow.store, "day_rows") == 0
    # in the dense store only the seed reads and the estimates and edits are narrow
    assert _count(dense.store, "hh_reads") == N
    assert 0 < _count(dense.store, "hh_values") < 20
    assert _count(narrow.store, "hh_values") > 3 * 48 * N
    snap = "SELECT * EXCLUDE (ingest_seq) FROM register_reads ORDER BY ALL"
    assert dense.store.query(snap) == narrow.store.query(snap)


def test_values_and_export_across_day_edges(world: dict[str, object]) -> None:
    dense, narrow = _pair(world)
    keys = world["keys"]
    assert isinstance(keys, list)
    lo, hi = D0 + 30, D0 + 48 * 2 + 5  # from inside day 0 to inside day 2
    for key in keys:
        got, want = dense.current_values(key, lo, hi), narrow.current_values(key, lo, hi)
        assert got.num_rows == hi - lo + 1
        assert got == want
    ids = world["ids"]
    assert isinstance(ids, list)
    for sp in ids:
        csv = dense.export_csv(sp, DAYS[0], DAYS[2])
        assert csv.count("\n") == 3 * 48 + 1 and "not_yet_available" not in csv
        assert csv == narrow.export_csv(sp, DAYS[0], DAYS[2])


def test_settlement_sums_match_the_registers(world: dict[str, object]) -> None:
    dense, narrow = _pair(world)
    imp = world["imp"]
    assert isinstance(imp, np.ndarray)
    got = dense.settle(DAYS[0]).rows
    assert got == narrow.settle(DAYS[0]).rows
    totals = got.filter(pc.equal(got.column("level"), "area"))
    truth = np.diff(imp, axis=1)[:, :48]  # day 0: no gap, no edit
    by_area = {"03": truth[:5].sum(axis=0), "05": truth[5:].sum(axis=0)}
    for row in totals.to_pylist():
        assert row["import_wh"] == by_area[row["area_code"]][row["slot"] - D0]
        assert row["quality"] == "measured"
    assert totals.num_rows == 2 * 48
    day1 = dense.settle(DAYS[1], kind="final").rows
    assert day1 == narrow.settle(DAYS[1], kind="final").rows
    assert set(day1.column("quality").to_pylist()) >= {"measured", "estimated"}


def test_billing_determinants(world: dict[str, object]) -> None:
    dense, narrow = _pair(world)
    imp = world["imp"]
    assert isinstance(imp, np.ndarray)
    got = dense.bill(DAYS[0], DAYS[2])
    assert got == narrow.bill(DAYS[0], DAYS[2])
    assert got.num_rows == N
    assert got.column("register_wh").to_pylist() == (imp[:, -1] - imp[:, 0]).tolist()
    assert got.column("slots").to_pylist() == [3 * 48] * N
    # one day only: its two end reads sit in different day rows (and the seed row)
    one = dense.bill(DAYS[1], DAYS[1])
    assert one == narrow.bill(DAYS[1], DAYS[1])
    assert one.column("register_wh").to_pylist() == (imp[:, 96] - imp[:, 48]).tolist()


def test_completeness_kpis_and_slo(world: dict[str, object]) -> None:
    dense, narrow = _pair(world)
    for day in DAYS:
        got = dense.completeness(day)
        assert got == narrow.completeness(day)
        assert got.column("expected_values").to_pylist()[-1] == 48 * N
        kpis = daily_kpis(dense.store, dense.registry, day)
        assert kpis == daily_kpis(narrow.store, narrow.registry, day)
        assert kpis[-1].meters == N
    first, last = D0 + 20, D0 + 48 * 2 + 3
    slo = delivery_slo(dense.store, dense.installations, first, last, 2e9)
    assert slo == delivery_slo(narrow.store, narrow.installations, first, last, 2e9)
    assert slo.column("measured_now").to_pylist()[0] == N


def test_dashboard_queries(world: dict[str, object]) -> None:
    dense, narrow = _pair(world)
    keys = world["keys"]
    assert isinstance(keys, list)
    for day in DAYS:
        wm = dq.day_watermark(dense.store, day)
        assert wm == dq.day_watermark(narrow.store, day)
        assert wm[0] >= 48 * N - 5 and wm[2] >= 48 * N
        tl = dq.slot_timeline(dense.store, dense.registry.meters_table(), day)
        assert tl == dq.slot_timeline(narrow.store, narrow.registry.meters_table(), day)
        assert sum(s.received for s in tl if s.group == "all") >= 48 * N - 5
    lo, hi = D0 + 40, D0 + 100
    for i, key in enumerate(keys):
        reads = dq.meter_register_reads(dense.store, int(METERS[i]), lo, hi)
        assert reads == dq.meter_register_reads(narrow.store, int(METERS[i]), lo, hi)
        assert len(reads) == hi - lo + 1 - (5 if i == GAP_METER else 0)
        versions = dq.value_versions(dense.store, key, lo, hi)
        assert versions == dq.value_versions(narrow.store, key, lo, hi)
        assert len(versions) == hi - lo + 1


def test_data_api_queries(world: dict[str, object]) -> None:
    dense, narrow = _pair(world)
    keys = world["keys"]
    assert isinstance(keys, list)
    ranges = pa.table({"first_slot": [D0 + 10, D0 + 60], "last_slot": [D0 + 40, D0 + 100]})
    for key in keys:
        values = visible_values(dense, key, ranges)
        assert values == visible_values(narrow, key, ranges)
        assert values.num_rows == 31 + 41
        sums = daily_sums(values)
        assert sums == daily_sums(visible_values(narrow, key, ranges))
        assert sums.num_rows == 3
    meter_ranges = pa.table(
        {
            "meter_id": METERS,
            "first_boundary": np.full(N, D0 + 47),
            "last_boundary": np.full(N, D0 + 97),
        }
    )
    reads = api.register_reads_page(dense.store, meter_ranges, None, 1000, 0)
    assert reads == api.register_reads_page(narrow.store, meter_ranges, None, 1000, 0)
    assert reads[1] == 51 * N - 5


def test_espi_values_and_parquet_days(world: dict[str, object], tmp_path: Path) -> None:
    dense, narrow = _pair(world)
    keys, ids = world["keys"], world["ids"]
    assert isinstance(keys, list) and isinstance(ids, list)
    points = [Point(k, sp, f"u{k}", DAYS[1:]) for k, sp in zip(keys, ids, strict=True)]
    got: list[object] = []
    for mdms in (dense, narrow):
        registry = mdms.registry
        context = HubContext(
            registry,
            mdms,
            ClientStore(open_database(":memory:")),
            mdms.clock,
            "op",
            "op-pw-12chars",
        )
        got.append(point_values(context, points))
    assert got[0] == got[1]
    assert isinstance(got[0], dict) and len(got[0]) == 2 * N
    assert all(len(rows) == 48 for rows in got[0].values())
    for day in DAYS:
        n = [
            compact_day(m.store, day, tmp_path / name) for m, name in ((dense, "d"), (narrow, "n"))
        ]
        assert n == [N, N]
        assert pq.read_table(day_path(tmp_path / "d", day)) == pq.read_table(
            day_path(tmp_path / "n", day)
        )
