"""Day partitions of current half-hour values as wide, supply-point-sorted Parquet.

The layout the storage reference (``shared/reference/storage-security.md`` §A1/A2) points to
for national scale: one row per supply point and JST day holding its 48 import and export
values (``int32[48]``, NULL where there is no value), 48 quality codes
(``bus.messages.Quality``: 0 measured … 4 invalid, and ``QCODE_NONE`` where the slot has no
value yet; files compacted before this code was unified used 5 there: compact the day
again), the highest version and whether every value is final; rows sorted by supply point in
``ROOT/day=YYYY-MM-DD/values.parquet`` (zstd, 16k-row groups, so one point's reads touch one
row group per day). The DuckDB interval store stays the hot, versioned truth; compacting a
day again (after late reads, estimates or edits) replaces its file atomically.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from openami.clock import SLOTS_PER_DAY, slots_of_day
from openami.storage.current_values_sql import current_versions_sql, final_slots_sql
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.duckdb_reads import read_query
from openami.storage.quality_sql import quality_code_sql

ROW_GROUP_ROWS = 16_384
#: data files are readable by their owner only, directories enterable by their owner only
FILE_MODE = 0o600
DIRECTORY_MODE = 0o700

#: a version's quality name → its code; no version → QCODE_NONE
_QUALITY_CODE = quality_code_sql("c.quality")

_WIDE = f"""
WITH cur AS ({current_versions_sql("$first", "$last")}),
keys AS (SELECT DISTINCT supply_point_key FROM cur),
finals AS ({final_slots_sql("$first", "$last")}),
grid AS (SELECT k.supply_point_key, f.slot, f.in_final FROM keys k, finals f)
SELECT g.supply_point_key,
       CAST(list(CAST(c.import_wh AS INTEGER) ORDER BY g.slot) AS INTEGER[{SLOTS_PER_DAY}])
           AS import_wh,
       CAST(list(CAST(c.export_wh AS INTEGER) ORDER BY g.slot) AS INTEGER[{SLOTS_PER_DAY}])
           AS export_wh,
       CAST(list({_QUALITY_CODE} ORDER BY g.slot) AS UTINYINT[{SLOTS_PER_DAY}]) AS quality,
       CAST(max(c.version) AS INTEGER) AS max_version,
       bool_and(COALESCE(c.final, false) OR g.in_final) AS final
FROM grid g LEFT JOIN cur c USING (supply_point_key, slot)
GROUP BY g.supply_point_key
ORDER BY g.supply_point_key
"""


def day_path(root: Path, day: date) -> Path:
    return root / f"day={day.isoformat()}" / "values.parquet"


def compact_day(store: DuckIntervalStore, day: date, root: Path) -> int:
    """Write (or replace) the day's partition; returns the number of supply-point rows."""
    slots = slots_of_day(day)
    table = read_query(store, _WIDE, {"first": slots.start, "last": slots.stop - 1})
    path = day_path(root, day)
    for directory in (root, path.parent):
        directory.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with open(descriptor, "wb") as fh:
        pq.write_table(
            table, fh, compression="zstd", row_group_size=ROW_GROUP_ROWS, write_statistics=True
        )
        fh.flush()
        os.fsync(fh.fileno())  # durable before it becomes visible
    os.replace(tmp, path)
    return table.num_rows


def read_values(root: Path, supply_point_key: int, first_day: date, last_day: date) -> pa.Table:
    """One supply point's compacted values as narrow rows: slot, import_wh, export_wh,
    quality code (days without a partition or without the point are left out)."""
    parts: list[pa.Table] = []
    day = first_day
    while day <= last_day:
        path = day_path(root, day)
        if path.exists():
            wide = pq.read_table(path, filters=[("supply_point_key", "=", supply_point_key)])
            if wide.num_rows:
                first = slots_of_day(day).start
                parts.append(
                    pa.table(
                        {
                            "slot": pa.array(range(first, first + SLOTS_PER_DAY), pa.int64()),
                            "import_wh": pc.list_flatten(wide.column("import_wh")),
                            "export_wh": pc.list_flatten(wide.column("export_wh")),
                            "quality": pc.list_flatten(wide.column("quality")),
                        }
                    )
                )
        day += timedelta(days=1)
    if not parts:
        return pa.table(
            {
                "slot": pa.array([], pa.int64()),
                "import_wh": pa.array([], pa.int32()),
                "export_wh": pa.array([], pa.int32()),
                "quality": pa.array([], pa.uint8()),
            }
        )
    return pa.concat_tables(parts)
