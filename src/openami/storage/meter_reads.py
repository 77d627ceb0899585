"""The current register read of one meter at each boundary of a range.

A meter may deliver a boundary's registers more than once with different numbers (a
correction, a meter exchange's closing read); the current read of (meter, boundary) is the
one stored last (highest ``ingest_seq``). One meter's reads (``Mdms.current_reads``) come
from here, with the rule's one SQL fragment (``current_values_sql.current_reads_sql``);
reads are found in the narrow table and in day rows alike (``reads_between``).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from openami.storage.current_values_sql import current_reads_sql
from openami.storage.duckdb_interval import DuckIntervalStore

#: a boundary later than any a meter can report (slot indexes are about 10⁶ today)
NO_UPPER_BOUNDARY = 2**62

_CURRENT_READS = f"""
{current_reads_sql("$first", "$last", "WHERE meter_id = $meter")}
ORDER BY boundary
"""

#: the columns of the current reads, in order (the contract of ``Mdms.current_reads``)
CURRENT_READS_SCHEMA = pa.schema(
    [
        ("meter_id", pa.int64()),
        ("boundary", pa.int64()),
        ("import_register_wh", pa.int64()),
        ("export_register_wh", pa.int64()),
        ("source", pa.uint8()),
        ("received_at", pa.float64()),
        ("ingest_seq", pa.int64()),
    ]
)


def current_reads(
    store: DuckIntervalStore, meter_id: int, first_boundary: int, last_boundary: int | None
) -> pa.Table:
    """Columns of :data:`CURRENT_READS_SCHEMA`, one row per boundary in
    ``[first_boundary, last_boundary]`` (``None``: no upper bound) with a read, by boundary."""
    with store.locked():
        cur = store.cursor()
        try:
            return current_reads_in(cur, meter_id, first_boundary, last_boundary)
        finally:
            cur.close()


def current_reads_in(
    cur: duckdb.DuckDBPyConnection, meter_id: int, first_boundary: int, last_boundary: int | None
) -> pa.Table:
    """:func:`current_reads` on a cursor (e.g. inside a job's write transaction)."""
    last = NO_UPPER_BOUNDARY if last_boundary is None else last_boundary
    params = {"meter": meter_id, "first": first_boundary, "last": last}
    return cur.sql(_CURRENT_READS, params=params).to_arrow_table().cast(CURRENT_READS_SCHEMA)
