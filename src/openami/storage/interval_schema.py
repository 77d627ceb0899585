"""The interval store's tables and views (DuckDB), and the steps that bring a file written
by an earlier release to them (:func:`migrate`); used by
:class:`~openami.storage.duckdb_interval.DuckIntervalStore`.

Tables
- ``hh_read_rows`` and ``hh_tick_reads``: register reads; a tick's reads (one boundary, one
  source, registers within 32 bits) go to the narrow ``hh_tick_reads``, whose boundary,
  source and ingest sequence live once per append in ``hh_tick_read_batches``;
  ``hh_reads`` is the view of both.
- ``hh_value_versions`` and ``hh_tick_values``: value versions; a tick's first versions (one
  slot, the usual provenance, energies within 32 bits) go to the narrow one, whose slot and
  time of recording live once per append in ``hh_tick_value_batches``; ``hh_values`` is
  the view of both.
- ``day_rows``: one row per supply point and JST day written whole (48 reads and values).
- ``ingest_log``, ``store_writes``: one row per ingest, one per committed write.

Views: ``register_reads`` and ``half_hour_values`` (every read and value version, narrow
or in day rows), and the table macros ``hh_slots``, ``hh_point`` and ``reads_between``
that let DuckDB skip row groups by slot, supply point or boundary.
"""

from __future__ import annotations

import duckdb

from openami.bus.messages import QCODE_NONE
from openami.storage.quality_sql import HH_QUALITY, quality_name_sql

TABLES = """
CREATE TABLE IF NOT EXISTS hh_read_rows (
    meter_id BIGINT NOT NULL,
    boundary BIGINT NOT NULL,
    import_register_wh BIGINT NOT NULL,
    export_register_wh BIGINT,
    received_at DOUBLE NOT NULL,
    source UTINYINT NOT NULL,
    ingest_seq BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS hh_tick_reads (
    meter_id BIGINT NOT NULL,
    import_register_wh INTEGER NOT NULL,
    export_register_wh INTEGER,
    received_at DOUBLE NOT NULL,
    batch BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS hh_tick_read_batches (
    batch BIGINT NOT NULL,
    boundary BIGINT NOT NULL,
    source UTINYINT NOT NULL,
    ingest_seq BIGINT NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS hh_tick_read_batch;
CREATE TABLE IF NOT EXISTS hh_value_versions (
    supply_point_key BIGINT NOT NULL,
    slot BIGINT NOT NULL,
    import_wh BIGINT,
    export_wh BIGINT,
    quality VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    recorded_at DOUBLE NOT NULL,
    reason VARCHAR NOT NULL
);
ALTER TABLE hh_value_versions ADD COLUMN IF NOT EXISTS method VARCHAR;
ALTER TABLE hh_value_versions ADD COLUMN IF NOT EXISTS vee_flags INTEGER DEFAULT 0;
ALTER TABLE hh_value_versions ADD COLUMN IF NOT EXISTS final BOOLEAN DEFAULT false;
ALTER TABLE hh_value_versions ADD COLUMN IF NOT EXISTS edited_by VARCHAR;
ALTER TABLE hh_value_versions ALTER COLUMN reason DROP NOT NULL;
ALTER TABLE hh_value_versions ADD COLUMN IF NOT EXISTS qcode UTINYINT;
ALTER TABLE hh_value_versions ALTER COLUMN quality DROP NOT NULL;
CREATE TABLE IF NOT EXISTS hh_tick_values (
    supply_point_key BIGINT NOT NULL,
    import_wh INTEGER,
    export_wh INTEGER,
    qcode UTINYINT,
    vee_flags INTEGER DEFAULT 0,
    batch BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS hh_tick_value_batches (
    batch BIGINT NOT NULL,
    slot BIGINT NOT NULL,
    recorded_at DOUBLE NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS hh_tick_value_batch;
CREATE TABLE IF NOT EXISTS day_rows (
    supply_point_key BIGINT NOT NULL,
    day_first_slot BIGINT NOT NULL,
    meter_id BIGINT NOT NULL,
    prev_import_register_wh BIGINT,
    prev_export_register_wh BIGINT,
    import_register_wh BIGINT[48],
    export_register_wh BIGINT[48],
    import_wh INTEGER[],
    export_wh INTEGER[],
    qcode UTINYINT[],
    vee_flags UINTEGER[],
    received_at DOUBLE NOT NULL,
    source UTINYINT NOT NULL,
    ingest_seq BIGINT NOT NULL
);
ALTER TABLE day_rows ADD COLUMN IF NOT EXISTS read_received_at DOUBLE[];
ALTER TABLE day_rows ADD COLUMN IF NOT EXISTS read_source UTINYINT[];
ALTER TABLE day_rows ADD COLUMN IF NOT EXISTS read_seq BIGINT[];
ALTER TABLE day_rows ADD COLUMN IF NOT EXISTS value_recorded_at DOUBLE[];
-- the largest version-1 import of the day [Wh] (billing's maximum demand without a list
-- pass); NULL in rows written before it or packed from narrow rows
ALTER TABLE day_rows ADD COLUMN IF NOT EXISTS max_import_wh BIGINT;
CREATE TABLE IF NOT EXISTS ingest_log (
    ingest_seq BIGINT PRIMARY KEY,
    recorded_at DOUBLE NOT NULL,
    rows_in BIGINT NOT NULL,
    reads_new BIGINT NOT NULL,
    values_new BIGINT NOT NULL
);
ALTER TABLE ingest_log ADD COLUMN IF NOT EXISTS reason VARCHAR;
CREATE TABLE IF NOT EXISTS store_writes (committed_at DOUBLE NOT NULL);
"""
# Day rows, one per (supply point, JST day) written by a dense ingest of fresh ground: the
# reads at the 48 boundaries that end the day's slots and the 48 values, version 1 each.
# Value lists are NULL when every value is the measured register difference (derived here).
_DAY_VALUE_COLS = f"""
    d.supply_point_key, d.day_first_slot + r.i - 1 AS slot,
    CAST(CASE WHEN d.qcode IS NULL THEN d.import_register_wh[r.i] - CASE WHEN r.i = 1
         THEN d.prev_import_register_wh ELSE d.import_register_wh[r.i - 1] END
         ELSE d.import_wh[r.i] END AS BIGINT) AS import_wh,
    CAST(CASE WHEN d.qcode IS NULL THEN d.export_register_wh[r.i] - CASE WHEN r.i = 1
         THEN d.prev_export_register_wh ELSE d.export_register_wh[r.i - 1] END
         ELSE d.export_wh[r.i] END AS BIGINT) AS export_wh,
    {quality_name_sql("COALESCE(d.qcode[r.i], 0)")} AS quality,
    1 AS version, COALESCE(d.value_recorded_at[r.i], l.recorded_at) AS recorded_at,
    COALESCE(l.reason, 'register difference') AS reason,
    CAST(NULL AS VARCHAR) AS method, CAST(COALESCE(d.vee_flags[r.i], 0) AS INTEGER) AS vee_flags,
    false AS final, CAST(NULL AS VARCHAR) AS edited_by"""
_DAY_VALUES_FROM = """
    FROM day_rows d CROSS JOIN range(1, 49) r(i) JOIN ingest_log l USING (ingest_seq)"""
_DAY_VALUE_PRESENT = f"(d.qcode IS NULL OR d.qcode[r.i] <> {QCODE_NONE})"
#: the reason of nearly every narrow value; stored as NULL (a tick appends no text for it)
DEFAULT_REASON = "register difference"

_HH_SELECT = (
    f"supply_point_key, slot, import_wh, export_wh, {HH_QUALITY} AS quality, version, "
    "recorded_at, "
    f"COALESCE(reason, '{DEFAULT_REASON}') AS reason, method, vee_flags, final, edited_by"
)
_HH_COLS = (
    "supply_point_key, slot, import_wh, export_wh, quality, version, recorded_at, reason, "
    "method, vee_flags, final, edited_by"
)
_DAY_READ_COLS = """
    d.meter_id, d.day_first_slot + r.i AS boundary,
    d.import_register_wh[r.i] AS import_register_wh,
    d.export_register_wh[r.i] AS export_register_wh,
    COALESCE(d.read_received_at[r.i], d.received_at) AS received_at,
    COALESCE(d.read_source[r.i], d.source) AS source,
    COALESCE(d.read_seq[r.i], d.ingest_seq) AS ingest_seq
    FROM day_rows d CROSS JOIN range(1, 49) r(i)"""
_READ_COLS = (
    "meter_id, boundary, import_register_wh, export_register_wh, received_at, source, ingest_seq"
)

#: for queries that pick day rows themselves: the columns of a day row's values (``d``,
#: ``r(i)`` its element, ``l`` its ingest log row), the condition that an element has a
#: version, and the columns of a narrow value (``hh_values``), as the views spell them
DAY_VALUE_COLS, DAY_VALUE_PRESENT, HH_SELECT = _DAY_VALUE_COLS, _DAY_VALUE_PRESENT, _HH_SELECT

#: the reads of both tables: the tick batches' few rows are joined, and DuckDB pushes a
#: filter on boundary through the join to the row groups of ``hh_tick_reads`` (by batch)
_READS_VIEW = f"""
CREATE OR REPLACE VIEW hh_reads AS
SELECT {_READ_COLS} FROM hh_read_rows
UNION ALL
SELECT t.meter_id, b.boundary, CAST(t.import_register_wh AS BIGINT) AS import_register_wh,
       CAST(t.export_register_wh AS BIGINT) AS export_register_wh, t.received_at, b.source,
       b.ingest_seq
FROM hh_tick_reads t JOIN hh_tick_read_batches b ON b.batch = t.batch;
"""

VIEWS = f"""{_READS_VIEW}
CREATE OR REPLACE VIEW half_hour_values AS
SELECT {_HH_SELECT} FROM hh_values
UNION ALL
SELECT {_DAY_VALUE_COLS} {_DAY_VALUES_FROM} WHERE {_DAY_VALUE_PRESENT};
CREATE OR REPLACE VIEW register_reads AS
SELECT {_READ_COLS} FROM hh_reads
UNION ALL
SELECT {_DAY_READ_COLS} WHERE d.import_register_wh[r.i] IS NOT NULL;
CREATE OR REPLACE MACRO hh_slots(lo, hi) AS TABLE
SELECT {_HH_SELECT} FROM hh_values WHERE slot BETWEEN lo AND hi
UNION ALL
SELECT {_DAY_VALUE_COLS} {_DAY_VALUES_FROM}
WHERE d.day_first_slot BETWEEN lo - 47 AND hi AND d.day_first_slot + r.i - 1 BETWEEN lo AND hi
  AND {_DAY_VALUE_PRESENT};
CREATE OR REPLACE MACRO hh_point(key, lo, hi) AS TABLE
SELECT {_HH_SELECT} FROM hh_values WHERE supply_point_key = key AND slot BETWEEN lo AND hi
UNION ALL
SELECT {_DAY_VALUE_COLS} {_DAY_VALUES_FROM}
WHERE d.supply_point_key = key AND d.day_first_slot BETWEEN lo - 47 AND hi
  AND d.day_first_slot + r.i - 1 BETWEEN lo AND hi AND {_DAY_VALUE_PRESENT};
CREATE OR REPLACE MACRO reads_between(lo, hi) AS TABLE
SELECT {_READ_COLS} FROM hh_reads WHERE boundary BETWEEN lo AND hi
UNION ALL
SELECT {_DAY_READ_COLS}
WHERE d.day_first_slot BETWEEN lo - 48 AND hi - 1 AND d.day_first_slot + r.i BETWEEN lo AND hi
  AND d.import_register_wh[r.i] IS NOT NULL;
"""


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Older files keep their tables under today's names: the narrow tables of the files
    written before day rows existed, and the one table of reads and the one of value
    versions of the files written before ticks had narrow tables of their own (``hh_reads``
    and ``hh_values`` are views now)."""
    tables = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'"
        ).fetchall()
    }
    for old, new in (
        ("register_reads", "hh_read_rows"),
        ("hh_reads", "hh_read_rows"),
        ("half_hour_values", "hh_value_versions"),
        ("hh_values", "hh_value_versions"),
    ):
        if old in tables and new not in tables:
            con.execute(f"ALTER TABLE {old} RENAME TO {new}")
            tables.add(new)


#: the columns of ``hh_values``, the view of every value version (``hh_value_versions``'
#: columns, in their order)
_VERSION_COLS = (
    "supply_point_key, slot, import_wh, export_wh, quality, version, recorded_at, reason, "
    "method, vee_flags, final, edited_by, qcode"
)
#: the same columns for a tick value (``t``, its batch ``b``): version 1 with the usual
#: provenance
_TICK_AS_VERSION = (
    "t.supply_point_key, b.slot, CAST(t.import_wh AS BIGINT) AS import_wh, "
    "CAST(t.export_wh AS BIGINT) AS export_wh, CAST(NULL AS VARCHAR) AS quality, 1 AS version, "
    "b.recorded_at, CAST(NULL AS VARCHAR) AS reason, CAST(NULL AS VARCHAR) AS method, "
    "t.vee_flags, false AS final, CAST(NULL AS VARCHAR) AS edited_by, t.qcode"
)


def create_values_view(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create ``hh_values``: the value versions of both tables, with ``write_seq`` where
    the store numbers its writes (:meth:`DuckIntervalStore.track_writes`)."""
    tracked = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'hh_value_versions' "
        "AND column_name = 'write_seq'"
    ).fetchall()[0][0]
    seq = ", write_seq" if tracked else ""
    con.execute(
        f"CREATE OR REPLACE VIEW hh_values AS SELECT {_VERSION_COLS}{seq} FROM hh_value_versions "
        f"UNION ALL SELECT {_TICK_AS_VERSION}{seq and ', t.write_seq'} FROM hh_tick_values t "
        "JOIN hh_tick_value_batches b ON b.batch = t.batch"
    )


def migrate_tick_values(con: duckdb.DuckDBPyConnection) -> None:
    """The previous release kept each tick value's slot and time of recording in
    ``hh_tick_values`` itself: such rows move to ``hh_value_versions`` (as the version 1
    they are, with their write number), and the table takes today's layout. Run after
    :data:`TABLES` (which gives ``hh_value_versions`` its columns)."""
    old = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'hh_tick_values' "
        "AND column_name = 'slot'"
    ).fetchall()[0][0]
    if not old:
        return
    tracked = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'hh_tick_values' "
        "AND column_name = 'write_seq'"
    ).fetchall()[0][0]
    seq = ", write_seq" if tracked else ""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "INSERT INTO hh_value_versions (supply_point_key, slot, import_wh, export_wh, "
            f"version, recorded_at, vee_flags, final, qcode{seq}) SELECT supply_point_key, "
            f"slot, import_wh, export_wh, 1, recorded_at, vee_flags, false, qcode{seq} "
            "FROM hh_tick_values"
        )
        con.execute("DROP VIEW IF EXISTS hh_values")
        con.execute("DROP TABLE hh_tick_values")
        con.execute(TABLES)
        if tracked:
            con.execute(WRITE_SEQ)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


#: numbers every value version appended after it ran (and, once, the ones already there):
#: the publication watermark of the shared interval store (``storage/shared_values.py``);
#: only a store that publishes pays for it (about 30 ns per appended value)
WRITE_SEQ = """
CREATE SEQUENCE IF NOT EXISTS hh_write_seq;
ALTER TABLE hh_value_versions ADD COLUMN IF NOT EXISTS write_seq BIGINT
    DEFAULT nextval('hh_write_seq');
ALTER TABLE hh_tick_values ADD COLUMN IF NOT EXISTS write_seq BIGINT
    DEFAULT nextval('hh_write_seq');
"""
