"""Wide day partitions: compaction matches the store, re-compaction replaces the file."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from tests.mdms.vee_world import B0, DAY, cumulative, make_mdms, reads

from openami.storage.parquet_days import compact_day, day_path, read_values


def test_compacted_day_reads_back_like_the_store(tmp_path: Path) -> None:
    mdms = make_mdms()
    values = [10 * i for i in range(48)]
    regs = cumulative(50_000, values)
    del regs[20]  # no read at 10:00: slots 9:30 and 10:00 have no value yet
    mdms.ingest(reads(regs))
    mdms.mark_missing(B0, B0 + 47)
    assert compact_day(mdms.store, DAY, tmp_path) == 1
    wide = pq.read_table(day_path(tmp_path, DAY))
    assert wide.schema.field("import_wh").type.list_size == 48
    back = read_values(tmp_path, 1, DAY, DAY).to_pylist()
    assert [r["slot"] - B0 for r in back] == list(range(48))
    expected = [None if i in (19, 20) else v for i, v in enumerate(values)]
    assert [r["import_wh"] for r in back] == expected
    assert [r["quality"] for r in back][18:22] == [0, 3, 3, 0]  # measured, missing ×2

    mdms.estimate(B0, B0 + 47)  # fill the gap, compact again: the file is replaced
    compact_day(mdms.store, DAY, tmp_path)
    back = read_values(tmp_path, 1, DAY, DAY).to_pylist()
    assert [r["quality"] for r in back][19:21] == [1, 1]
    assert sum(r["import_wh"] for r in back) == sum(values)
    assert read_values(tmp_path, 2, DAY, DAY).num_rows == 0
    assert not list(tmp_path.rglob("*.tmp"))
