"""The interval store's side of the VEE ingest: its write transactions, their count in the
store's write counter, and the fresh-ground check."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pytest

from openami.bus.messages import READ_SCHEMA
from openami.storage import duckdb_mdms
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.duckdb_mdms import VALUE_SCHEMA
from openami.storage.interval_ingest import (
    FreshGround,
    IngestAppend,
    IngestLogRow,
    IntervalIngest,
)

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
    duckdb_mdms.ensure_schema(store)
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
    duckdb_mdms.ensure_schema(store)
    ingest = IntervalIngest(store)
    with pytest.raises(RuntimeError), ingest.open_part() as tx:
        tx.append(_part(1, B), _log(ingest), 96)
        raise RuntimeError("a later check failed")
    assert _counts(store) == (0, 0, 0)


def test_fresh_ground_sees_reads_values_and_day_rows_in_range_only() -> None:
    store = DuckIntervalStore()
    duckdb_mdms.ensure_schema(store)
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
