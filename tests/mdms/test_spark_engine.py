"""Settlement and billing on Spark (local[2]) give exactly what the DuckDB engine gives, on
one generated month (tests/mdms/spark_month.py): 1,000 supply points with later versions,
estimates and holes, a meter exchange, a retailer switch, expiring certifications, final
days, and values partly compacted into day files of the shared interval store."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from tests.mdms.spark_month import (
    COMPACTED_DAYS,
    EXCHANGE_DAY_INDEX,
    FINAL_DAYS,
    SWITCH_DAY,
    Month,
    build_month,
)

from openami.mdms.spark_engine import SparkEngine
from openami.storage.spark_values import snapshot_files, spark_session

if importlib.util.find_spec("pyspark") is None:
    pytest.skip(
        "pyspark is not installed (pip install 'openami[spark]'; `make test` installs it)",
        allow_module_level=True,
    )
if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
    pytest.skip(
        "no Java runtime for Spark (`make test` installs openjdk-17-jre-headless as root)",
        allow_module_level=True,
    )


POINTS = 1_000
DAYS = 30


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Month:
    return build_month(POINTS, DAYS, tmp_path_factory.mktemp("shared") / "values")


@pytest.fixture(scope="module")
def spark(month: Month) -> Iterator[SparkEngine]:
    session = spark_session("local[2]", app_name="openami-test")
    yield SparkEngine(month.shared.uri, "local[2]")
    session.stop()


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


@pytest.mark.parametrize(
    "day_index",
    [0, EXCHANGE_DAY_INDEX, (SWITCH_DAY - SWITCH_DAY.replace(day=1)).days, DAYS - 1],
    ids=["compacted-final", "meter-exchange", "retailer-switch", "holes-left"],
)
def test_settlement_runs_are_identical(month: Month, spark: SparkEngine, day_index: int) -> None:
    day = month.days[day_index]
    duck = month.mdms.settle(day, "preliminary", estimate=False)
    sparked = month.mdms.settle(day, "correction", estimate=False, spark=spark)
    assert sparked.run_id == duck.run_id + 1  # stored as a run like any other
    assert sparked.rows.schema == duck.rows.schema
    assert _rows(sparked.rows) == _rows(duck.rows)
    assert sparked.not_billable_values == duck.not_billable_values
    rows = _rows(duck.rows)
    assert len({r["slot"] for r in rows}) == 48
    assert {r["level"] for r in rows} == {"area", "balancing_group", "retailer"}


def test_the_month_exercises_every_rule(month: Month) -> None:
    """The comparison above is only worth something if the month has what it claims."""
    last = month.mdms.settle(month.days[-1], estimate=False).rows
    qualities = set(last.column("quality").to_pylist())
    assert {"partially_missing", "estimated"} & qualities and "measured" in qualities
    switch = month.mdms.settle(SWITCH_DAY, estimate=False).rows.to_pylist()
    before = month.mdms.settle(SWITCH_DAY - timedelta(days=1), estimate=False).rows.to_pylist()

    def r3_points(rows: list[dict[str, Any]]) -> int:
        return sum(
            r["points"]
            for r in rows
            if r["level"] == "retailer"
            and r["retailer_id"] == "R3"
            and r["slot"] == rows[0]["slot"]
        )

    assert r3_points(switch) == r3_points(before) + 10
    expired = month.mdms.settle(month.days[-1], estimate=False).not_billable_values
    assert expired > 0
    assert len(snapshot_files(month.shared.uri).day_files) >= COMPACTED_DAYS


def test_billing_determinants_are_identical(month: Month, spark: SparkEngine) -> None:
    for first, last in (
        (month.days[0], month.days[-1]),
        (month.days[0], month.days[FINAL_DAYS - 1]),
    ):
        duck = month.mdms.bill(first, last)
        sparked = month.mdms.bill(first, last, spark=spark)
        assert sparked.schema == duck.schema
        assert _rows(sparked) == _rows(duck)
    rows = _rows(duck)
    assert len(rows) == POINTS
    assert any(r["billing_ready"] for r in rows) and not all(r["billing_ready"] for r in rows)
    assert any(r["not_billable_values"] for r in rows)
    assert any(r["v05_ok"] is None for r in rows) and any(r["v05_ok"] for r in rows)


def test_a_job_reads_the_snapshot_it_started_with(month: Month, spark: SparkEngine) -> None:
    snapshot = snapshot_files(month.shared.uri)
    assert snapshot.version == month.shared.table().version()
    paths = [p for _, p in snapshot.tick_files + snapshot.day_files]
    assert paths and all(p.startswith("file://") or p.startswith("/") for p in paths)
    assert all(Path(p.removeprefix("file://")).exists() for p in paths)


def test_spark_without_a_shared_store_says_so(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from openami.cli.main import main

    result = CliRunner().invoke(
        main,
        [
            "mdms",
            "settle",
            "--date",
            "2026-11-01",
            "--engine",
            "spark",
            "--data-dir",
            str(tmp_path),
        ],
        env={"OPENAMI_SHARED_VALUES_URI": ""},
    )
    assert result.exit_code == 2 and "--shared-uri" in result.output
