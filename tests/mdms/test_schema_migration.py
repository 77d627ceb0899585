"""Interval files written by earlier versions open with their data where the code expects it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.mdms_schema import upgrade_mdms_schema


# the value versions' table as two earlier releases named it: one table for all of them
@pytest.mark.parametrize("values_table", ["half_hour_values", "hh_values"])
def test_an_old_file_is_migrated_without_losing_rows(tmp_path: Path, values_table: str) -> None:
    path = tmp_path / "interval.duckdb"
    con = duckdb.connect(str(path))  # the layout of an earlier release
    con.execute(
        f"""
        CREATE TABLE register_reads (meter_id BIGINT NOT NULL, boundary BIGINT NOT NULL,
            import_register_wh BIGINT NOT NULL, export_register_wh BIGINT,
            received_at DOUBLE NOT NULL, source UTINYINT NOT NULL, ingest_seq BIGINT NOT NULL);
        CREATE TABLE {values_table} (supply_point_key BIGINT NOT NULL, slot BIGINT NOT NULL,
            import_wh BIGINT, export_wh BIGINT, quality VARCHAR NOT NULL,
            version INTEGER NOT NULL, recorded_at DOUBLE NOT NULL, reason VARCHAR NOT NULL);
        CREATE TABLE ingest_log (ingest_seq BIGINT PRIMARY KEY, recorded_at DOUBLE NOT NULL,
            rows_in BIGINT NOT NULL, reads_new BIGINT NOT NULL, values_new BIGINT NOT NULL);
        CREATE TABLE vee_history (supply_point_key BIGINT PRIMARY KEY, n BIGINT NOT NULL,
            mean_wh DOUBLE NOT NULL);
        INSERT INTO register_reads VALUES (7, 100, 1000, NULL, 1.5, 0, 1),
            (7, 101, 1250, NULL, 2.5, 0, 1);
        INSERT INTO {values_table} VALUES (3, 100, 250, NULL, 'measured', 1, 2.5,
            'register difference');
        INSERT INTO ingest_log VALUES (1, 2.5, 2, 2, 1);
        INSERT INTO vee_history VALUES (3, 1, 250.0), (4, 2, 10.0);
        """
    )
    con.close()
    store = DuckIntervalStore(path)
    upgrade_mdms_schema(store)
    reads = store.query("SELECT * FROM register_reads ORDER BY boundary").to_pylist()
    assert [(r["boundary"], r["import_register_wh"], r["ingest_seq"]) for r in reads] == [
        (100, 1000, 1),
        (101, 1250, 1),
    ]
    values = store.query("SELECT * FROM half_hour_values").to_pylist()
    assert len(values) == 1 and values[0]["import_wh"] == 250
    assert values[0]["reason"] == "register difference" and values[0]["quality"] == "measured"
    history = store.query("SELECT * FROM vee_history ORDER BY ALL").to_pylist()
    assert history == [
        {"supply_point_key": 3, "n": 1, "mean_wh": 250.0},
        {"supply_point_key": 4, "n": 2, "mean_wh": 10.0},
    ]
    constraints = store.query(
        "SELECT count(*) AS n FROM duckdb_constraints() WHERE table_name = 'vee_history' "
        "AND constraint_type = 'PRIMARY KEY'"
    )
    assert constraints.column("n")[0].as_py() == 0
    tables = set(store.query("SELECT table_name FROM duckdb_tables()").column(0).to_pylist())
    assert {"hh_reads", "hh_value_versions", "hh_tick_values", "day_rows"} <= tables
    assert not {"half_hour_values", "hh_values"} & tables  # views now
    assert store.query("SELECT count(*) FROM hh_values").column(0)[0].as_py() == 1
    assert store.next_ingest_seq() == 2  # ingest sequence numbers go on
    store.close()
    again = DuckIntervalStore(path)  # opening twice changes nothing
    upgrade_mdms_schema(again)
    assert again.query("SELECT count(*) AS n FROM vee_history").column("n")[0].as_py() == 2
    again.close()
