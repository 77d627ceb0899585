"""Interval files written by earlier versions open with their data where the code expects it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.mdms_schema import upgrade_mdms_schema


# the tables of reads and of value versions as earlier releases named them: one table of
# reads for all of them, and one of values until ticks had a narrow one
@pytest.mark.parametrize(
    ("reads_table", "values_table"),
    [
        ("register_reads", "half_hour_values"),
        ("hh_reads", "hh_values"),
        ("hh_reads", "hh_value_versions"),
    ],
)
def test_an_old_file_is_migrated_without_losing_rows(
    tmp_path: Path, reads_table: str, values_table: str
) -> None:
    path = tmp_path / "interval.duckdb"
    con = duckdb.connect(str(path))  # the layout of an earlier release
    con.execute(
        f"""
        CREATE TABLE {reads_table} (meter_id BIGINT NOT NULL, boundary BIGINT NOT NULL,
            import_register_wh BIGINT NOT NULL, export_register_wh BIGINT,
            received_at DOUBLE NOT NULL, source UTINYINT NOT NULL, ingest_seq BIGINT NOT NULL);
        CREATE TABLE {values_table} (supply_point_key BIGINT NOT NULL, slot BIGINT NOT NULL,
            import_wh BIGINT, export_wh BIGINT, quality VARCHAR NOT NULL,
            version INTEGER NOT NULL, recorded_at DOUBLE NOT NULL, reason VARCHAR NOT NULL);
        CREATE TABLE ingest_log (ingest_seq BIGINT PRIMARY KEY, recorded_at DOUBLE NOT NULL,
            rows_in BIGINT NOT NULL, reads_new BIGINT NOT NULL, values_new BIGINT NOT NULL);
        CREATE TABLE vee_history (supply_point_key BIGINT PRIMARY KEY, n BIGINT NOT NULL,
            mean_wh DOUBLE NOT NULL);
        INSERT INTO {reads_table} VALUES (7, 100, 1000, NULL, 1.5, 0, 1),
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
    assert {"hh_read_rows", "hh_tick_reads", "hh_value_versions", "hh_tick_values"} <= tables
    assert not {"register_reads", "hh_reads", "half_hour_values", "hh_values"} & tables  # views
    assert store.query("SELECT count(*) FROM hh_reads").column(0)[0].as_py() == 2
    assert store.query("SELECT count(*) FROM hh_values").column(0)[0].as_py() == 1
    assert store.next_ingest_seq() == 2  # ingest sequence numbers go on
    store.close()
    again = DuckIntervalStore(path)  # opening twice changes nothing
    upgrade_mdms_schema(again)
    assert again.query("SELECT count(*) AS n FROM vee_history").column("n")[0].as_py() == 2
    again.close()


@pytest.mark.parametrize("tracked", [False, True])
def test_tick_values_of_the_previous_layout_move_to_the_versions(
    tmp_path: Path, tracked: bool
) -> None:
    path = tmp_path / "interval.duckdb"
    store = DuckIntervalStore(path)
    if tracked:
        store.track_writes()
    store.close()
    con = duckdb.connect(str(path))  # the previous release's tick values: slot in each row
    seq = ", write_seq BIGINT DEFAULT nextval('hh_write_seq')" if tracked else ""
    con.execute(
        f"""
        DROP VIEW hh_values; DROP TABLE hh_tick_values;
        CREATE TABLE hh_tick_values (supply_point_key BIGINT NOT NULL, slot BIGINT NOT NULL,
            import_wh INTEGER, export_wh INTEGER, qcode UTINYINT, recorded_at DOUBLE NOT NULL,
            vee_flags INTEGER DEFAULT 0{seq});
        INSERT INTO hh_tick_values (supply_point_key, slot, import_wh, export_wh, qcode,
            recorded_at, vee_flags) VALUES (3, 100, 250, NULL, 0, 2.5, 0),
            (4, 100, 12, 7, 1, 2.5, 64);
        """
    )
    con.close()
    store = DuckIntervalStore(path)
    cols = "supply_point_key, slot, import_wh, export_wh, quality, version, recorded_at, "
    cols += "reason, vee_flags, final"
    got = store.query(f"SELECT {cols} FROM half_hour_values ORDER BY ALL").to_pylist()
    assert [tuple(r.values()) for r in got] == [
        (3, 100, 250, None, "measured", 1, 2.5, "register difference", 0, False),
        (4, 100, 12, 7, "estimated", 1, 2.5, "register difference", 64, False),
    ]
    layout = store.query(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = 'hh_tick_values'"
    )
    assert "slot" not in layout.column(0).to_pylist()
    assert store.query("SELECT count(*) FROM hh_tick_values").column(0)[0].as_py() == 0
    if tracked:  # the moved rows keep their write numbers; new ones go on after them
        seqs = store.query("SELECT write_seq FROM hh_values ORDER BY 1").column(0).to_pylist()
        assert seqs == [1, 2]
        assert "write_seq" in layout.column(0).to_pylist()
    store.close()
