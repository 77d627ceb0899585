"""Values recorded in a time window that carry given VEE flags (e.g. V10 tamper/reset), for
the jobs that act on them (fault tickets). Flags are rare: the answer is small even when
the window holds a national tick."""

from __future__ import annotations

import pyarrow as pa

from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.duckdb_reads import read_query

_FLAGGED = """
SELECT supply_point_key, slot, CAST(vee_flags AS BIGINT) AS vee_flags
FROM hh_values
WHERE recorded_at > $since AND recorded_at <= $until AND (vee_flags & $mask) <> 0
UNION ALL
SELECT d.supply_point_key, d.day_first_slot + r.i - 1 AS slot,
       CAST(d.vee_flags[r.i] AS BIGINT) AS vee_flags
FROM day_rows d JOIN ingest_log l USING (ingest_seq) CROSS JOIN range(1, 49) r(i)
WHERE l.recorded_at > $since AND l.recorded_at <= $until AND d.vee_flags IS NOT NULL
  AND (d.vee_flags[r.i] & $mask) <> 0
ORDER BY supply_point_key, slot
"""


def values_flagged_between(
    store: DuckIntervalStore, mask: int, since_s: float, until_s: float
) -> pa.Table:
    """(supply_point_key, slot, vee_flags) of the values recorded in ``(since_s, until_s]``
    with any flag of ``mask``."""
    return read_query(store, _FLAGGED, {"since": since_s, "until": until_s, "mask": mask})
