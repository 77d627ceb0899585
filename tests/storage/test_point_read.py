"""The NumPy point read of current values equals the SQL rule, column for column.

One world holds every kind of stored value: day rows from whole-day files (with a hole in
one meter's day), narrow values from A-route ticks (with a register going backwards), missing
marks, a late read on top of a missing mark, estimates (preliminary and final), manual edits
on day-row cells and on narrow cells, and a period declared final. For every supply point
and several slot ranges (across day edges, one slot, nothing) the point read must equal the
SQL of ``hh_point`` with the highest version per slot, and the many-points SQL fragment of
:mod:`openami.storage.current_values_sql`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from openami.bus.messages import READ_SCHEMA
from openami.clock import ManualClock, day_first_slot
from openami.mdms import Mdms
from openami.registry import Meter, Registry, make_supply_point_id
from openami.storage.current_values_sql import current_versions_sql, final_slots_sql
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.point_read import CURRENT_VALUES_SCHEMA, current_values

DAY0 = date(2026, 11, 2)
D0 = day_first_slot(DAY0)
METERS = [101, 102, 103]
HOLE_METER = 102  # its reads at boundaries D0 + 10 … D0 + 13 never arrive
BACKWARDS_AT = D0 + 83  # meter 103's read there is lower than the one before
LATE = {(101, 70), (101, 71), (102, 90)}  # (meter, boundary - D0) not there in time
ESTIMATED = (D0 + 48, D0 + 75)  # day 1's estimation run covers these slots only

_SQL_RULE = """
SELECT h.slot, h.import_wh, h.export_wh, h.quality, h.method, h.vee_flags,
       h.final OR EXISTS (SELECT 1 FROM final_periods f
                          WHERE h.slot BETWEEN f.first_slot AND f.last_slot) AS final,
       h.version, h.recorded_at, h.reason, h.edited_by
FROM hh_point(?, ?, ?) h
QUALIFY row_number() OVER (PARTITION BY h.slot ORDER BY h.version DESC) = 1
ORDER BY h.slot
"""


def _reads(meter: int, boundaries: np.ndarray, registers: np.ndarray, at: float) -> pa.Table:
    n = len(boundaries)
    return pa.table(
        {
            "meter_id": np.full(n, meter, np.int64),
            "boundary": boundaries.astype(np.int64),
            "import_register_wh": registers.astype(np.int64),
            "export_register_wh": (registers // 50).astype(np.int64),
            "received_at": np.full(n, at),
            "source": np.zeros(n, np.uint8),
        },
        schema=READ_SCHEMA,
    )


def _registers(meter: int) -> np.ndarray:
    """Import registers [Wh] at boundaries D0 … D0 + 96."""
    rng = np.random.default_rng(meter)
    return 40_000 + np.concatenate([[0], np.cumsum(rng.integers(20, 700, 96))])


def _day0_files(mdms: Mdms) -> None:
    """Day 0 as whole-day files (dense path: day rows), meter by meter."""
    received = float((D0 + 50) * 1800)
    for meter in METERS:
        registers = _registers(meter)
        mdms.ingest(_reads(meter, np.array([D0]), registers[:1], received))
    for meter in METERS:
        registers = _registers(meter)
        b = np.arange(1, 49)
        if meter == HOLE_METER:
            b = b[(b < 10) | (b > 13)]
        mdms.ingest(_reads(meter, D0 + b, registers[b], received))


def _day1_ticks(mdms: Mdms, clock: ManualClock) -> None:
    """Day 1 as A-route ticks (one read per meter and boundary): narrow values."""
    for b in range(49, 97):
        boundary = D0 + b
        meters = [m for m in METERS if (m, b) not in LATE]
        registers = [int(_registers(m)[b]) for m in meters]
        if boundary == BACKWARDS_AT:
            registers[meters.index(103)] -= 5_000  # invalid, and flagged in the slot after
        at = float(boundary * 1800 + 90)
        clock.set_timestamp(at)
        tick = _reads(0, np.full(len(meters), boundary), np.array(registers), at)
        mdms.ingest(tick.set_column(0, "meter_id", pa.array(meters, pa.int64())))


def _build() -> tuple[Mdms, list[int]]:
    registry = Registry.open(":memory:")
    keys = registry.add_supply_points([make_supply_point_id("03", 500 + m) for m in METERS])
    registry.add_meters(
        [Meter(m, "M", f"S{m}", 40, "mesh", None, date(2031, 1, 1)) for m in METERS]
    )
    registry.install_meters(list(zip(keys, METERS, strict=True)), 0.0)
    clock = ManualClock(datetime.fromtimestamp((D0 + 48) * 1800 + 60, UTC))
    mdms = Mdms(DuckIntervalStore(), registry, clock)
    _day0_files(mdms)
    _day1_ticks(mdms, clock)
    clock.set_timestamp((D0 + 96 + 4) * 1800.0)
    mdms.mark_missing(D0, D0 + 95)
    late = _reads(101, np.array([D0 + 70]), _registers(101)[70:71], clock.timestamp())
    mdms.ingest(late)  # a measured version on top of a missing mark
    mdms.estimate(*ESTIMATED)  # preliminary estimates on narrow values
    mdms.edit(keys[0], [D0 + 3, D0 + 4], [111, 222], [0, None], "alice", "customer reading")
    mdms.edit(keys[0], [D0 + 70], [333], [1], "bob", "meter photo")  # on an estimate
    mdms.finalize(D0, D0 + 47, "carol")  # final estimates on day rows, day 0 declared final
    return mdms, keys


@pytest.fixture(scope="module")
def world() -> tuple[Mdms, list[int]]:
    return _build()


RANGES = [
    (D0 - 5, D0 + 100),  # everything and a little around it
    (D0 + 30, D0 + 60),  # across the day edge
    (D0 + 47, D0 + 48),  # the last slot of day 0 and the first of day 1
    (D0 + 11, D0 + 11),  # one slot inside the hole
    (D0 + 300, D0 + 310),  # nothing stored
]


def test_the_world_has_every_kind_of_value(world: tuple[Mdms, list[int]]) -> None:
    mdms, keys = world
    counts = mdms.store.query(
        "SELECT (SELECT count(*) FROM day_rows) AS day_rows, "
        "(SELECT count(*) FROM hh_values) AS narrow, "
        "(SELECT count(*) FROM final_periods) AS finals"
    ).to_pylist()[0]
    assert counts["day_rows"] == len(METERS) and counts["narrow"] > 48 * len(METERS)
    assert counts["finals"] == 1
    every = pa.concat_tables([current_values(mdms.store, k, D0, D0 + 95) for k in keys])
    assert set(every.column("quality").to_pylist()) == {
        "measured",
        "estimated",
        "edited",
        "missing",
        "invalid",
    }
    versions = every.column("version").to_pylist()
    assert max(versions) >= 3 and versions.count(1) > 48  # layered versions and day cells
    assert {"alice", "bob", "carol"} <= set(every.column("edited_by").to_pylist())
    assert {"E1", "M"} <= set(every.column("method").to_pylist())
    finals = every.column("final").to_pylist()
    assert True in finals and False in finals


@pytest.mark.parametrize(("first", "last"), RANGES)
def test_point_read_equals_the_sql_rule(
    world: tuple[Mdms, list[int]], first: int, last: int
) -> None:
    mdms, keys = world
    for key in keys:
        got = current_values(mdms.store, key, first, last)
        want = mdms.store.query(_SQL_RULE, [key, first, last])
        assert got.schema == CURRENT_VALUES_SCHEMA
        assert want.schema == CURRENT_VALUES_SCHEMA
        assert got == want
        assert got == mdms.current_values(key, first, last)


def test_point_read_equals_the_many_points_fragment(world: tuple[Mdms, list[int]]) -> None:
    mdms, keys = world
    first, last = D0 - 2, D0 + 97
    bulk = mdms.store.query(
        f"""
        SELECT c.supply_point_key, c.slot, c.import_wh, c.export_wh, c.quality, c.method,
               c.vee_flags, c.final OR f.in_final AS final, c.version, c.recorded_at,
               c.reason, c.edited_by
        FROM ({current_versions_sql("?", "?")}) c JOIN ({final_slots_sql("?", "?")}) f
        USING (slot)
        ORDER BY c.supply_point_key, c.slot
        """,
        [first, last, first, last],
    )
    for key in keys:
        mine = bulk.filter(pc.equal(bulk.column("supply_point_key"), key))
        got = current_values(mdms.store, key, first, last)
        assert got.num_rows == 96
        assert got == mine.drop_columns(["supply_point_key"]).cast(CURRENT_VALUES_SCHEMA)


def test_final_is_null_only_where_the_stored_flag_is_and_no_period_covers_the_slot() -> None:
    mdms, keys = _build()
    with mdms.store.transaction() as cur:  # versions whose stored final flag is unknown
        cur.execute(
            "INSERT INTO hh_value_versions (supply_point_key, slot, import_wh, export_wh, quality, "
            "version, recorded_at, reason, final) VALUES "
            "(?, ?, 1, 0, 'estimated', 9, 1.0, 'x', NULL), "
            "(?, ?, 1, 0, 'estimated', 9, 1.0, 'x', NULL)",
            [keys[1], D0 + 5, keys[1], D0 + 60],
        )
    got = current_values(mdms.store, keys[1], D0 + 5, D0 + 60).to_pylist()
    by_slot = {r["slot"]: r["final"] for r in got}
    assert by_slot[D0 + 5] is True  # day 0 is a final period
    assert by_slot[D0 + 60] is None  # NULL OR false
    want = mdms.store.query(_SQL_RULE, [keys[1], D0 + 5, D0 + 60])
    assert want.column("final").to_pylist() == [r["final"] for r in got]


def test_a_period_declared_final_after_a_read_shows_at_once() -> None:
    mdms, keys = _build()
    before = mdms.current_values(keys[0], D0 + 48, D0 + 60)  # keeps the final periods
    assert before.column("final").to_pylist() == [False] * 13
    mdms.finalize(D0 + 48, D0 + 95, "dave")
    after = mdms.current_values(keys[0], D0 + 48, D0 + 60)
    assert after.column("final").to_pylist() == [True] * 13
    assert after == mdms.store.query(_SQL_RULE, [keys[0], D0 + 48, D0 + 60])
