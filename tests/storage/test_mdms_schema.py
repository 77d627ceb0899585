"""The MDMS tables come from versioned steps: applied once each, in order, all or nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from openami.storage import mdms_schema
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.mdms_schema import STEPS, mdms_schema_version, upgrade_mdms_schema

MDMS_TABLES = {
    "meter_master",
    "meter_events",
    "vee_history",
    "final_periods",
    "settlement_runs",
    "settlement_values",
    "mdms_watermarks",
}


def _tables(store: DuckIntervalStore) -> set[str]:
    got = store.query("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'")
    return set(got.column(0).to_pylist())


def test_a_new_file_gets_every_step_once() -> None:
    store = DuckIntervalStore()
    assert mdms_schema_version(store) == 0
    assert upgrade_mdms_schema(store) == len(STEPS) >= 1
    assert _tables(store) >= MDMS_TABLES
    rows = store.query("SELECT version FROM mdms_schema_version ORDER BY version")
    assert rows.column(0).to_pylist() == [number for number, _, _ in STEPS]
    assert upgrade_mdms_schema(store) == len(STEPS)  # again: nothing to do
    assert store.query("SELECT count(*) FROM mdms_schema_version").column(0)[0].as_py() == len(
        STEPS
    )


def test_a_file_from_before_the_steps_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "interval.duckdb"
    con = duckdb.connect(str(path))  # MDMS tables as the previous release created them
    con.execute(
        """
        CREATE TABLE final_periods (first_slot BIGINT NOT NULL, last_slot BIGINT NOT NULL,
            finalized_at DOUBLE NOT NULL, user_name VARCHAR NOT NULL);
        CREATE TABLE settlement_runs (run_id BIGINT PRIMARY KEY, day DATE NOT NULL,
            kind VARCHAR NOT NULL, created_at DOUBLE NOT NULL, user_name VARCHAR NOT NULL);
        INSERT INTO final_periods VALUES (10, 57, 1.0, 'carol');
        INSERT INTO settlement_runs VALUES (1, DATE '2026-11-02', 'final', 2.0, 'ops');
        """
    )
    con.close()
    store = DuckIntervalStore(path)
    assert upgrade_mdms_schema(store) == len(STEPS)
    assert _tables(store) >= MDMS_TABLES
    assert store.query("SELECT * FROM final_periods").to_pylist() == [
        {"first_slot": 10, "last_slot": 57, "finalized_at": 1.0, "user_name": "carol"}
    ]
    assert store.query("SELECT run_id, kind FROM settlement_runs").to_pylist() == [
        {"run_id": 1, "kind": "final"}
    ]


def test_a_failing_step_leaves_the_file_at_the_version_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = DuckIntervalStore()
    upgrade_mdms_schema(store)
    version = len(STEPS)

    def half_done(cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute("CREATE TABLE half_done (x INTEGER)")
        raise RuntimeError("disk full")

    monkeypatch.setattr(mdms_schema, "STEPS", (*STEPS, (version + 1, "breaks", half_done)))
    with pytest.raises(RuntimeError, match="disk full"):
        upgrade_mdms_schema(store)
    assert mdms_schema_version(store) == version
    assert "half_done" not in _tables(store)
