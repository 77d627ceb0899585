"""The interval store's side of the VEE ingest: its write transactions, their count in the
store's write counter, and the fresh-ground check."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pytest

from openami.bus.messages import READ_SCHEMA
from openami.storage.duckdb_interval import DEFAULT_REASON, DuckIntervalStore
from openami.storage.duckdb_mdms import VALUE_SCHEMA
from openami.storage.interval_appends import append_reads, append_values
from openami.storage.interval_ingest import (
    FreshGround,
    IngestAppend,
    IngestLogRow,
    IntervalIngest,
)
from openami.storage.mdms_schema import upgrade_mdms_schema

B = 48 * 20_000 + 30


def _part(meter: int, boundary: int) -> IngestAppend:
    reads = pa.table(
        {
            "meter_id": [meter],
            "boundary": [boundary],
            "import_register_wh": [1000 + boundary],
            "export_register_wh": [None],
            "received_at": [1.0],
            "source": [0],
        },
        schema=READ_SCHEMA,
    )
    values = pa.table(
        {
            "supply_point_key": [meter + 100],
            "slot": [boundary - 1],
            "import_wh": [1],
            "export_wh": [None],
            "qcode": np.array([0], np.uint8),
            "version": np.array([1], np.int32),
            "vee_flags": np.array([0], np.int32),
        },
        schema=VALUE_SCHEMA,
    )
    return IngestAppend(reads=reads, values=values)


def _log(ingest: IntervalIngest) -> IngestLogRow:
    return IngestLogRow(ingest.next_ingest_seq(), 5.0, 1, 1, 1, "register difference")


def _counts(store: DuckIntervalStore) -> tuple[int, int, int]:
    got = store.query(
        "SELECT (SELECT count(*) FROM hh_reads) AS r, (SELECT count(*) FROM hh_values) AS v, "
        "(SELECT count(*) FROM ingest_log) AS l"
    )
    return got.column("r")[0].as_py(), got.column("v")[0].as_py(), got.column("l")[0].as_py()


def test_a_write_transaction_commits_early_rolls_back_the_rest_and_counts_itself() -> None:
    store = DuckIntervalStore()
    upgrade_mdms_schema(store)
    ingest = IntervalIngest(store)
    g0 = ingest.generation
    with ThreadPoolExecutor(max_workers=1) as pool, ingest.locked():
        writer = ingest.writer()
        pool.submit(writer.begin).result()
        pool.submit(writer.append, _part(1, B), _log(ingest), 96).result()
        pool.submit(writer.commit_and_begin).result()
        assert ingest.generation == g0 + 1
        assert _counts(store) == (1, 1, 1)  # committed: other cursors see it
        pool.submit(writer.append, _part(2, B), _log(ingest), 96).result()
        pool.submit(writer.roll_back).result()
        writer.close()
    assert _counts(store) == (1, 1, 1)  # the part after the early commit is gone
    assert ingest.generation == g0 + 2  # the rolled-back transaction counts too


def test_a_failed_transaction_stores_nothing_of_it() -> None:
    store = DuckIntervalStore()
    upgrade_mdms_schema(store)
    ingest = IntervalIngest(store)
    with pytest.raises(RuntimeError), ingest.open_part() as tx:
        tx.append(_part(1, B), _log(ingest), 96)
        raise RuntimeError("a later check failed")
    assert _counts(store) == (0, 0, 0)


def test_fresh_ground_sees_reads_values_and_day_rows_in_range_only() -> None:
    store = DuckIntervalStore()
    upgrade_mdms_schema(store)
    ingest = IntervalIngest(store)
    with ingest.open_part() as tx:
        tx.append(_part(5, B), _log(ingest), 96)

    def fresh(meters: tuple[int, int], keys: tuple[int, int], boundaries: tuple[int, int]) -> bool:
        ground = FreshGround(*meters, *keys, *boundaries, boundaries[0] - 1, boundaries[1] - 1)
        with ingest.open_part() as tx:
            return tx.nothing_stored(ground)

    assert fresh((0, 4), (0, 99), (B - 10, B + 10))  # other meters, other supply points
    assert fresh((0, 9), (0, 99), (B + 1, B + 10))  # the read lies before the range
    assert not fresh((0, 9), (0, 99), (B - 10, B + 10))  # the meter's read
    assert not fresh((0, 4), (100, 110), (B - 10, B + 10))  # the supply point's value


def _table_counts(store: DuckIntervalStore) -> tuple[int, int]:
    got = store.query(
        "SELECT (SELECT count(*) FROM hh_tick_values) AS t, "
        "(SELECT count(*) FROM hh_value_versions) AS w"
    ).to_pylist()[0]
    return int(got["t"]), int(got["w"])


def test_tick_values_go_to_the_narrow_table_and_read_back_as_every_other_version() -> None:
    store = DuckIntervalStore()
    upgrade_mdms_schema(store)
    values = _part(7, B).values
    assert values is not None
    with store.transaction() as cur:  # a tick's values: the usual provenance
        append_values(cur, values, 5.0, DEFAULT_REASON)
    assert _table_counts(store) == (1, 0)
    edited = values.set_column(5, "version", pa.array([2], pa.int32()))
    with store.transaction() as cur:  # an edit: who and why are kept, in the wide table
        append_values(cur, edited, 6.0, "meter exchange", method="manual", edited_by="op-1")
    assert _table_counts(store) == (1, 1)
    rows = store.query(
        "SELECT version, import_wh, quality, reason, method, final, edited_by, recorded_at "
        "FROM half_hour_values ORDER BY version"
    ).to_pylist()
    assert rows == [
        {
            "version": 1,
            "import_wh": 1,
            "quality": "measured",
            "reason": DEFAULT_REASON,
            "method": None,
            "final": False,
            "edited_by": None,
            "recorded_at": 5.0,
        },
        {
            "version": 2,
            "import_wh": 1,
            "quality": "measured",
            "reason": "meter exchange",
            "method": "manual",
            "final": False,
            "edited_by": "op-1",
            "recorded_at": 6.0,
        },
    ]
    with store.transaction() as cur:  # a final version goes wide even with the usual reason
        append_values(
            cur,
            edited.set_column(5, "version", pa.array([3], pa.int32())),
            7.0,
            DEFAULT_REASON,
            final=True,
        )
    assert _table_counts(store) == (1, 2)


def test_write_numbers_cover_both_tables_of_values_in_commit_order() -> None:
    store = DuckIntervalStore()
    upgrade_mdms_schema(store)
    values = _part(7, B).values
    assert values is not None
    with store.transaction() as cur:
        append_values(cur, values, 5.0, DEFAULT_REASON)
    store.track_writes()
    with store.transaction() as cur:
        append_values(cur, values.set_column(5, "version", pa.array([2], pa.int32())), 6.0, "x")
    with store.transaction() as cur:
        append_values(
            cur, values.set_column(5, "version", pa.array([3], pa.int32())), 7.0, DEFAULT_REASON
        )
    got = store.query("SELECT version, write_seq FROM hh_values ORDER BY write_seq").to_pylist()
    assert [r["version"] for r in got] == [1, 2, 3]
    assert len({r["write_seq"] for r in got}) == 3


def test_later_versions_and_energies_beyond_32_bits_go_to_the_wide_table() -> None:
    store = DuckIntervalStore()
    upgrade_mdms_schema(store)
    values = _part(7, B).values
    assert values is not None
    second = values.set_column(5, "version", pa.array([2], pa.int32()))
    with store.transaction() as cur:
        append_values(cur, second, 5.0, DEFAULT_REASON)
    assert _table_counts(store) == (0, 1)
    huge = values.set_column(2, "import_wh", pa.array([2**31], pa.int64()))
    huge = huge.set_column(0, "supply_point_key", pa.array([8], pa.int64()))
    with store.transaction() as cur:
        append_values(cur, huge, 5.0, DEFAULT_REASON)
    assert _table_counts(store) == (0, 2)
    two_slots = pa.concat_tables([values, values.set_column(1, "slot", pa.array([B], pa.int64()))])
    two_slots = two_slots.set_column(0, "supply_point_key", pa.array([6, 6], pa.int64()))
    with store.transaction() as cur:  # a tick's values are of one slot
        append_values(cur, two_slots, 5.0, DEFAULT_REASON)
    assert _table_counts(store) == (0, 4)
    store.query("DELETE FROM hh_value_versions WHERE supply_point_key = 6")
    just_fits = huge.set_column(2, "import_wh", pa.array([2**31 - 1], pa.int64()))
    just_fits = just_fits.set_column(0, "supply_point_key", pa.array([9], pa.int64()))
    with store.transaction() as cur:
        append_values(cur, just_fits, 5.0, DEFAULT_REASON)
    assert _table_counts(store) == (1, 2)
    got = store.query(
        "SELECT supply_point_key, version, import_wh FROM hh_values ORDER BY supply_point_key"
    ).to_pylist()
    assert got == [
        {"supply_point_key": 8, "version": 1, "import_wh": 2**31},
        {"supply_point_key": 9, "version": 1, "import_wh": 2**31 - 1},
        {"supply_point_key": 107, "version": 2, "import_wh": 1},
    ]


def _reads(
    meters: list[int], boundaries: list[int], imports: list[int], sources: list[int]
) -> pa.Table:
    n = len(meters)
    return pa.table(
        {
            "meter_id": meters,
            "boundary": boundaries,
            "import_register_wh": imports,
            "export_register_wh": [None if i % 2 else 10 * i for i in range(n)],
            "received_at": [1.0e9 + 0.25 * i for i in range(n)],
            "source": sources,
        },
        schema=READ_SCHEMA,
    )


def _read_tables(store: DuckIntervalStore) -> tuple[int, int, int]:
    got = store.query(
        "SELECT (SELECT count(*) FROM hh_tick_reads) AS t, "
        "(SELECT count(*) FROM hh_read_rows) AS w, "
        "(SELECT count(*) FROM hh_tick_read_batches) AS b"
    ).to_pylist()[0]
    return int(got["t"]), int(got["w"]), int(got["b"])


def test_tick_reads_go_to_the_narrow_table_and_read_back_as_given() -> None:
    store = DuckIntervalStore()
    tick = _reads([5, 6, 7], [B] * 3, [2**31 - 1, 0, 12_345], [1] * 3)
    mixed = _reads([5, 6], [B + 1, B + 2], [1, 2], [1, 1])  # two boundaries
    sources = _reads([5, 6], [B + 3] * 2, [1, 2], [0, 2])  # two sources
    huge = _reads([5], [B + 4], [2**31], [1])  # a register beyond 32 bits
    taken = tick.append_column("take_row", pa.array([True, False, True]))
    taken = taken.set_column(1, "boundary", pa.array([B + 5] * 3, pa.int64()))
    with store.transaction() as cur:
        append_reads(cur, tick, 3)
    assert _read_tables(store) == (3, 0, 1)
    with store.transaction() as cur:
        for seq, reads in enumerate((mixed, sources, huge), start=4):
            append_reads(cur, reads, seq)
    assert _read_tables(store) == (3, 5, 1)
    with store.transaction() as cur:
        append_reads(cur, taken, 7)
    assert _read_tables(store) == (5, 5, 2)
    got = store.query("SELECT * FROM register_reads ORDER BY boundary, meter_id").to_pylist()
    want = []
    for seq, reads in zip((3, 4, 5, 6, 7), (tick, mixed, sources, huge, taken), strict=True):
        for row in reads.to_pylist():
            if row.pop("take_row", True):
                want.append({**row, "ingest_seq": seq})
    assert got == sorted(want, key=lambda r: (r["boundary"], r["meter_id"]))
    # a boundary range finds the tick's reads through their batch, a meter through its own
    in_range = store.query("SELECT meter_id FROM reads_between(?, ?) ORDER BY 1", [B, B])
    assert in_range.column(0).to_pylist() == [5, 6, 7]
    one = store.query("SELECT boundary FROM hh_reads WHERE meter_id = 7 ORDER BY 1")
    assert one.column(0).to_pylist() == [B, B + 5]
