"""The current register read of a meter at a boundary: the one stored last, from day rows
and narrow reads alike."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from openami.bus.messages import READ_SCHEMA, ReadSource
from openami.clock import ManualClock, day_first_slot
from openami.mdms import Mdms
from openami.registry import Meter, Registry, make_supply_point_id
from openami.storage.dashboard_queries import meter_register_reads
from openami.storage.duckdb_data_api import register_reads_page
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.meter_reads import CURRENT_READS_SCHEMA, current_reads

D0 = day_first_slot(date(2026, 11, 2))
METER = 41

_SQL_RULE = """
SELECT meter_id, boundary, import_register_wh, export_register_wh, source, received_at,
       ingest_seq
FROM register_reads WHERE meter_id = ? AND boundary BETWEEN ? AND ?
QUALIFY row_number() OVER (PARTITION BY boundary ORDER BY ingest_seq DESC) = 1
ORDER BY boundary
"""


def _reads(boundaries: list[int], registers: list[int], at: float, source: int) -> pa.Table:
    n = len(boundaries)
    return pa.table(
        {
            "meter_id": [METER] * n,
            "boundary": boundaries,
            "import_register_wh": registers,
            "export_register_wh": [None if r % 2 else r // 10 for r in registers],
            "received_at": [at] * n,
            "source": [source] * n,
        },
        schema=READ_SCHEMA,
    )


@pytest.fixture(scope="module")
def mdms() -> Mdms:
    registry = Registry.open(":memory:")
    keys = registry.add_supply_points([make_supply_point_id("04", 41)])
    registry.add_meters([Meter(METER, "M", "S41", 30, "mesh", None, date(2031, 1, 1))])
    registry.install_meters([(keys[0], METER)], 0.0)
    mdms = Mdms(DuckIntervalStore(), registry, ManualClock(datetime(2026, 11, 5, tzinfo=UTC)))
    registers = (10_000 + np.cumsum(np.arange(97) * 3)).tolist()
    mdms.ingest(_reads([D0], registers[:1], 1.0, ReadSource.SCHEDULED))
    day0 = list(range(D0 + 1, D0 + 49))
    mdms.ingest(_reads(day0, registers[1:49], 2.0, ReadSource.SCHEDULED))  # a day row
    for b in range(49, 97):  # ticks: narrow reads
        mdms.ingest(_reads([D0 + b], registers[b : b + 1], 3.0 + b, ReadSource.SCHEDULED))
    # corrections: a later read of the same boundary with other registers wins
    mdms.ingest(_reads([D0 + 20, D0 + 60], [registers[20] + 1, registers[60] + 7], 9.0, 2))
    return mdms


def test_one_read_per_boundary_the_last_stored(mdms: Mdms) -> None:
    layout = "SELECT (SELECT count(*) FROM day_rows) AS days, (SELECT count(*) FROM hh_reads) AS n"
    assert mdms.store.query(layout).to_pylist() == [{"days": 1, "n": 1 + 48 + 2}]
    got = current_reads(mdms.store, METER, D0 - 3, D0 + 100)
    assert got.schema == CURRENT_READS_SCHEMA
    assert got.column("boundary").to_pylist() == list(range(D0, D0 + 97))
    corrected = got.filter(pc.equal(got.column("received_at"), 9.0))
    assert corrected.column("boundary").to_pylist() == [D0 + 20, D0 + 60]
    assert corrected.column("source").to_pylist() == [2, 2]
    seq = got.column("ingest_seq").to_pylist()
    assert seq[20] > seq[21] and seq[60] > seq[61]  # the corrections were stored last


@pytest.mark.parametrize(
    ("first", "last"), [(D0, D0 + 96), (D0 + 40, D0 + 55), (D0 + 48, D0 + 48), (D0 + 200, D0 + 300)]
)
def test_equals_the_sql_rule(mdms: Mdms, first: int, last: int) -> None:
    got = current_reads(mdms.store, METER, first, last)
    want = mdms.store.query(_SQL_RULE, [METER, first, last]).cast(CURRENT_READS_SCHEMA)
    assert got == want
    assert got == mdms.current_reads(METER, first, last)


def test_no_upper_bound(mdms: Mdms) -> None:
    assert mdms.current_reads(METER, D0 + 90, None).column("boundary").to_pylist() == list(
        range(D0 + 90, D0 + 97)
    )
    assert mdms.current_reads(METER + 1, D0, None).num_rows == 0


def test_every_reader_of_many_meters_shows_the_same_current_read(mdms: Mdms) -> None:
    """The dashboard's meter view and the C-route page of register reads build "the current
    read" from the one fragment (``current_reads_sql``): they show what ``current_reads``
    shows, also where the read stored last has no export register (an ``arg_max`` that
    skips NULLs would show the export of the read before it)."""
    want = current_reads(mdms.store, METER, D0, D0 + 96).to_pylist()
    corrected = {r["boundary"]: r for r in want if r["received_at"] == 9.0}
    assert any(r["export_register_wh"] is None for r in corrected.values())
    shown = meter_register_reads(mdms.store, METER, D0, D0 + 96)
    assert [(r["boundary"], r["import_register_wh"], r["export_register_wh"]) for r in shown] == [
        (r["boundary"], r["import_register_wh"], r["export_register_wh"]) for r in want
    ]
    assert [r["reads"] for r in shown if r["boundary"] in corrected] == [2, 2]
    ranges = pa.table({"meter_id": [METER], "first_boundary": [D0], "last_boundary": [D0 + 96]})
    page, total = register_reads_page(mdms.store, ranges, None, 500, 0)
    assert total == len(want)
    cols = ["boundary", "import_register_wh", "export_register_wh", "source"]
    assert page.select(cols).to_pylist() == [{c: r[c] for c in cols} for r in want]
