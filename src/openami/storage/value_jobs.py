"""The MDMS's value jobs in one transaction each: estimation runs, manual edits, finalization.

A job opens a :class:`ValueJob` (``with value_job(store) as job:``), asks it for what it needs
with a few set-based queries, computes in NumPy (``mdms/jobs.py``, ``mdms/estimate.py``) and
appends its new versions through it; all of it commits together or not at all, and every
read sees the store as the transaction does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from openami.bus.messages import Quality
from openami.clock import SLOTS_PER_DAY
from openami.storage import duckdb_mdms, interval_appends
from openami.storage.current_values_sql import current_reads_sql, current_versions_sql
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.meter_reads import current_reads_in
from openami.storage.point_read import current_values_in
from openami.storage.quality_sql import NO_VALUE_SQL, quality_sql
from openami.storage.slot_sql import installed

#: slots in one week (the like-day profile looks back whole weeks)
WEEK_SLOTS = 7 * SLOTS_PER_DAY

_CANDIDATES = f"""
WITH grid AS (
    SELECT i.supply_point_key, i.meter_id, s.slot
    FROM q_inst i, range($first, $last + 1) s(slot)
    WHERE {installed("i", "s.slot")}
      AND ($all_points OR i.supply_point_key IN (SELECT supply_point_key FROM q_only))),
cur AS ({current_versions_sql("$first", "$last")})
SELECT g.supply_point_key, g.meter_id, g.slot, COALESCE(c.version, 0) AS version,
       COALESCE(c.vee_flags, 0) AS vee_flags, c.quality
FROM grid g LEFT JOIN cur c USING (supply_point_key, slot)
WHERE c.quality IS NULL OR c.quality IN {NO_VALUE_SQL}
   OR ($final AND c.quality = {quality_sql(Quality.ESTIMATED)} AND NOT COALESCE(c.final, false))
ORDER BY g.supply_point_key, g.meter_id, g.slot
"""

_STORED_BOUNDARIES = """
SELECT DISTINCT meter_id, boundary FROM reads_between($first, $last)
WHERE meter_id IN (SELECT meter_id FROM q_cmeters) ORDER BY meter_id, boundary
"""

_END_READS = f"""
SELECT q.i, r.import_register_wh, r.export_register_wh
FROM q_ends q JOIN (
    {current_reads_sql("$first", "$last", "WHERE meter_id IN (SELECT meter_id FROM q_ends)")}
) r ON r.meter_id = q.meter_id AND r.boundary = q.boundary
"""

_LIKE_DAY_HISTORY = current_versions_sql(
    "$first", "$last", "WHERE supply_point_key IN (SELECT DISTINCT supply_point_key FROM q_cand)"
)
_LIKE_DAY = f"""
WITH hist AS ({_LIKE_DAY_HISTORY})
SELECT c.i, avg(h.import_wh) AS import_wh, avg(h.export_wh) AS export_wh
FROM q_cand c, range(1, $weeks + 1) w(k)
JOIN hist h ON h.supply_point_key = c.supply_point_key AND h.slot = c.slot - {WEEK_SLOTS} * w.k
WHERE h.quality = {quality_sql(Quality.MEASURED)}
GROUP BY c.i
"""


class ValueJob:
    """Reads and appends of one value job, inside one write transaction."""

    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self.cursor = cur

    def estimation_candidates(
        self,
        installations: pa.Table,
        first_slot: int,
        last_slot: int,
        supply_point_keys: list[int] | None,
        final: bool,
    ) -> pa.Table:
        """Every (supply point, meter, slot) of the range with a meter installed for the whole
        slot whose current value is missing, invalid or absent (or a preliminary estimate
        when ``final``), by (supply point, meter, slot): version and vee_flags of the current
        value (0 when none), its quality (NULL when none)."""
        only = pa.table({"supply_point_key": pa.array(supply_point_keys or [], pa.int64())})
        self.cursor.register("q_inst", installations)
        self.cursor.register("q_only", only)
        params = {
            "first": first_slot,
            "last": last_slot,
            "all_points": supply_point_keys is None,
            "final": final,
        }
        return self.cursor.sql(_CANDIDATES, params=params).to_arrow_table()

    def stored_boundaries(self, meter_ids: pa.Array, first: int, last: int) -> pa.Table:
        """(meter_id, boundary) of every stored read of the meters at boundaries
        ``first..last``, by meter and boundary."""
        self.cursor.register("q_cmeters", pa.table({"meter_id": meter_ids}))
        params = {"first": first, "last": last}
        return self.cursor.sql(_STORED_BOUNDARIES, params=params).to_arrow_table()

    def end_reads(self, ends: pa.Table, first: int, last: int) -> pa.Table:
        """The current registers at (meter_id, boundary) of each row ``i`` of ``ends`` that
        has a read (boundaries within ``first..last``): i, import/export_register_wh."""
        self.cursor.register("q_ends", ends)
        params = {"first": first, "last": last}
        return self.cursor.sql(_END_READS, params=params).to_arrow_table()

    def like_day_means(self, candidates: pa.Table, first: int, last: int, weeks: int) -> pa.Table:
        """Per candidate ``i`` (columns i, supply_point_key, slot): the mean import and export
        of the measured current values 1…``weeks`` weeks before, where there is one; history
        is read from slots ``first..last``."""
        self.cursor.register("q_cand", candidates)
        params = {"first": first, "last": last, "weeks": weeks}
        return self.cursor.sql(_LIKE_DAY, params=params).to_arrow_table()

    def events_between(self, start_s: float, end_s: float) -> pa.Table:
        """Meter events overlapping ``[start_s, end_s)`` (see ``duckdb_mdms.events_between``)."""
        return duckdb_mdms.events_between(self.cursor, start_s, end_s)

    def current_values(self, supply_point_key: int, first_slot: int, last_slot: int) -> pa.Table:
        """``point_read.current_values`` inside the job's transaction."""
        return current_values_in(self.cursor, supply_point_key, first_slot, last_slot)

    def current_versions(self, keys: pa.Table, first_slot: int, last_slot: int) -> pa.Table:
        """``duckdb_mdms.current_versions`` (supply_point_key, slot, version, import_wh,
        export_wh, quality) of the keys (column supply_point_key) inside the transaction."""
        return duckdb_mdms.current_versions(self.cursor, keys, first_slot, last_slot)

    def current_reads(self, meter_id: int, first_boundary: int, last_boundary: int) -> pa.Table:
        """``meter_reads.current_reads`` inside the job's transaction."""
        return current_reads_in(self.cursor, meter_id, first_boundary, last_boundary)

    def append_values(
        self,
        values: pa.Table,
        recorded_at: float,
        reason: str,
        final: bool = False,
        edited_by: str | None = None,
    ) -> int:
        """Append value versions (``duckdb_mdms.VALUE_SCHEMA`` columns and ``method``)."""
        return interval_appends.append_values(
            self.cursor, values, recorded_at, reason, final=final, edited_by=edited_by
        )


@contextmanager
def value_job(store: DuckIntervalStore) -> Iterator[ValueJob]:
    """One value job's transaction: committed when the block ends, rolled back on error."""
    with store.transaction() as cur:
        yield ValueJob(cur)


def declare_final(
    store: DuckIntervalStore, first_slot: int, last_slot: int, at_s: float, user: str
) -> None:
    """Record the slot range as final: its values are no longer preliminary."""
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO final_periods VALUES (?, ?, ?, ?)", [first_slot, last_slot, at_s, user]
        )
