"""The MDMS's own tables in the interval store's DuckDB file, created by versioned steps.

Tables (next to the interval store's reads and values):

- ``meter_master``: register digits, register unit and multiplier per meter (VEE V04/V11);
- ``meter_events``: outage, disconnected, tamper, reset, test periods per meter (V08/V10);
- ``vee_history``: running mean import per supply point (V06 spike reference);
- ``final_periods``: slot ranges declared final (values there are no longer preliminary);
- ``settlement_runs`` / ``settlement_values``: versioned settlement runs and their sums;
- ``mdms_watermarks``: how far a recurring MDMS job has got, by name (e.g. the last slot
  the missing-value deadline has closed), so that a restarted MDMS goes on from there.

The file records each step applied in ``mdms_schema_version``. :func:`upgrade_mdms_schema`
applies the missing steps in order, each in one transaction together with its version row, so
a file is always at one known version. A file made before the steps existed (tables created
on first use) is brought to step 1 without losing a row: step 1 creates only what is missing
and rebuilds an old ``vee_history`` without the primary key whose index cost more than the
rest of a national tick's history fold.

To change the schema, append a step to :data:`STEPS`; never edit a step once released.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from openami.storage.duckdb_interval import DuckIntervalStore

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS mdms_schema_version (
    version INTEGER PRIMARY KEY,
    description VARCHAR NOT NULL
)
"""

_TABLES_V1 = """
CREATE TABLE IF NOT EXISTS meter_master (
    meter_id BIGINT PRIMARY KEY,
    register_digits INTEGER NOT NULL,
    register_unit_wh BIGINT NOT NULL,
    multiplier BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS meter_events (
    meter_id BIGINT NOT NULL,
    kind VARCHAR NOT NULL,
    start_s DOUBLE NOT NULL,
    end_s DOUBLE NOT NULL,
    recorded_at DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS vee_history (
    supply_point_key BIGINT NOT NULL,
    n BIGINT NOT NULL,
    mean_wh DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS final_periods (
    first_slot BIGINT NOT NULL,
    last_slot BIGINT NOT NULL,
    finalized_at DOUBLE NOT NULL,
    user_name VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS settlement_runs (
    run_id BIGINT PRIMARY KEY,
    day DATE NOT NULL,
    kind VARCHAR NOT NULL,
    created_at DOUBLE NOT NULL,
    user_name VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS settlement_values (
    run_id BIGINT NOT NULL,
    slot BIGINT NOT NULL,
    level VARCHAR NOT NULL,
    area_code VARCHAR NOT NULL,
    balancing_group_id VARCHAR,
    retailer_id VARCHAR,
    import_wh BIGINT NOT NULL,
    export_wh BIGINT NOT NULL,
    points BIGINT NOT NULL,
    measured BIGINT NOT NULL,
    estimated BIGINT NOT NULL,
    edited BIGINT NOT NULL,
    missing BIGINT NOT NULL,
    estimated_wh BIGINT NOT NULL,
    quality VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS mdms_watermarks (
    name VARCHAR PRIMARY KEY,
    slot BIGINT NOT NULL,
    updated_at DOUBLE NOT NULL
);
"""


def _step_1_mdms_tables(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(_TABLES_V1)
    has_primary_key = cur.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'vee_history' "
        "AND constraint_type = 'PRIMARY KEY'"
    ).fetchall()[0][0]
    if has_primary_key:
        cur.execute("ALTER TABLE vee_history RENAME TO vee_history_with_pk")
        cur.execute(
            "CREATE TABLE vee_history (supply_point_key BIGINT NOT NULL, "
            "n BIGINT NOT NULL, mean_wh DOUBLE NOT NULL)"
        )
        cur.execute(
            "INSERT INTO vee_history SELECT supply_point_key, n, mean_wh "
            "FROM vee_history_with_pk ORDER BY supply_point_key"
        )
        cur.execute("DROP TABLE vee_history_with_pk")


#: (version, description, step) in order; a file at version v has had steps 1..v applied
STEPS: tuple[tuple[int, str, Callable[[duckdb.DuckDBPyConnection], None]], ...] = (
    (
        1,
        "MDMS tables: meter master, events, VEE history, final periods, settlement, watermarks",
        _step_1_mdms_tables,
    ),
)


def mdms_schema_version(store: DuckIntervalStore) -> int:
    """The highest step applied to the store's file (0: none)."""
    with store.transaction(counted=False) as cur:
        return _applied(cur)


def _applied(cur: duckdb.DuckDBPyConnection) -> int:
    cur.execute(_VERSION_TABLE)
    rows = cur.execute("SELECT COALESCE(max(version), 0) FROM mdms_schema_version").fetchall()
    return int(rows[0][0])


def upgrade_mdms_schema(store: DuckIntervalStore) -> int:
    """Apply the steps the file lacks, each in one transaction; returns the version now.
    A store opened read-only is not changed: it must be up to date already."""
    if store.read_only:
        with store.transaction(counted=False) as cur:
            rows = cur.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_name = 'mdms_schema_version'"
            ).fetchall()
            if rows[0][0]:
                rows = cur.execute("SELECT max(version) FROM mdms_schema_version").fetchall()
        version = int(rows[0][0] or 0)  # no table: count 0
        if version < STEPS[-1][0]:
            raise RuntimeError(
                f"the interval store {store.path} lacks MDMS schema steps after {version}: "
                "open it once for writing first"
            )
        return version
    version = mdms_schema_version(store)
    for number, description, step in STEPS:
        if number <= version:
            continue
        with store.transaction() as cur:
            if _applied(cur) >= number:  # another handle of the same file got there first
                continue
            step(cur)
            cur.execute("INSERT INTO mdms_schema_version VALUES (?, ?)", [number, description])
        version = number
    return version
