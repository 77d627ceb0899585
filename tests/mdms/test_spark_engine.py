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
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner
from tests.mdms.spark_month import (
    COMPACTED_DAYS,
    EXCHANGE_DAY_INDEX,
    FINAL_DAYS,
    SWITCH_DAY,
    Month,
    build_month,
)
from tests.mdms.vee_world import make_data_dir, reads_csv

from openami.cli.main import cli
from openami.clock import day_first_slot
from openami.mdms.spark_engine import SparkEngine
from openami.storage.spark_sums import SparkSums
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


#: the first test builds the month, starts the JVM and warms it: minutes on a loaded machine
pytestmark = pytest.mark.timeout(900)
POINTS = 1_000
DAYS = 30


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Month:
    return build_month(POINTS, DAYS, tmp_path_factory.mktemp("shared") / "values")


@pytest.fixture(scope="module")
def session() -> Iterator[None]:
    """One Spark session (a JVM) for the module; later sessions of the process reuse it."""
    running = spark_session("local[2]", app_name="openami-test")
    yield
    running.stop()


@pytest.fixture(scope="module")
def spark(month: Month, session: None) -> SparkEngine:
    return SparkEngine(month.shared.uri, "local[2]")


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
    """The comparisons are only worth something if the month holds what it claims."""
    first = month.mdms.settle(month.days[0], estimate=False).rows
    assert pc.sum(first.column("edited")).as_py() > 0
    assert pc.sum(first.column("estimated")).as_py() > 0
    last = month.mdms.settle(month.days[-1], estimate=False)
    assert pc.sum(last.rows.column("missing")).as_py() > 0  # holes left unestimated
    assert last.not_billable_values > 0  # certification expired mid-month
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
    inst = month.mdms.installations.to_pylist()
    assert sum(r["supply_point_key"] == month.keys[20] for r in inst) == 2  # the exchange
    assert len(snapshot_files(month.shared.uri).day_files) >= COMPACTED_DAYS


def test_billing_determinants_are_identical(month: Month, spark: SparkEngine) -> None:
    periods = {
        "month": (month.days[0], month.days[-1]),
        "final days": (month.days[0], month.days[FINAL_DAYS - 1]),
    }
    found = {}
    for name, (first, last) in periods.items():
        duck = month.mdms.bill(first, last)
        sparked = month.mdms.bill(first, last, spark=spark)
        assert sparked.schema == duck.schema
        assert _rows(sparked) == _rows(duck), name
        found[name] = _rows(duck)
    assert len(found["month"]) == POINTS
    assert any(r["not_billable_values"] for r in found["month"])
    assert not any(r["billing_ready"] for r in found["month"])  # holes, not final
    ready = [r["billing_ready"] for r in found["final days"]]
    assert any(ready) and not all(ready)  # point 35: certification expired on day 3
    v05 = [r["v05_ok"] for r in found["month"]]
    assert None in v05 and True in v05  # None: the exchanged meter


def test_a_job_reads_the_snapshot_it_started_with(month: Month, spark: SparkEngine) -> None:
    """Files committed after a job took its snapshot are not read; the next job reads them."""
    slot = day_first_slot(month.days[-1]) + 40
    members = month.mdms.registry.members_on(month.days[-1])
    sums = spark.ready(month.mdms.store)
    before = snapshot_files(month.shared.uri)
    assert before.version == month.shared.table().version()
    key = int(members.column("supply_point_key")[0].as_py())
    now = month.mdms.current_values(key, slot, slot).column("import_wh").to_pylist()
    was = (now[0] if now else None) or 0
    month.mdms.edit(key, [slot], [was + 12_345], [0], "fay", "after the snapshot")
    sums = spark.ready(month.mdms.store)  # publishes the edit
    assert month.shared.table().version() > before.version

    def area_import(rows: pa.Table) -> int:
        area = [r for r in rows.to_pylist() if r["level"] == "area"]
        return sum(r["import_wh"] for r in area)

    old = SparkSums(sums.spark, lambda: before).settlement_sums(members, slot, slot)
    new = sums.settlement_sums(members, slot, slot)
    assert area_import(new) - area_import(old) == 12_345


def test_the_cli_settles_and_bills_on_spark_as_on_duckdb(tmp_path: Path, session: None) -> None:
    """`openami mdms settle|bill --engine spark` on a data directory: it publishes the
    directory's values to the shared store first and writes the same rows as DuckDB."""
    data = tmp_path / "data"
    ids = make_data_dir(data, 3)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, ["mdms", *args, "--data-dir", str(data)])
        assert result.exit_code == 0, result.output
        return result.output

    run("ingest", str(reads_csv(tmp_path / "reads.csv", ids, 40)))
    spark_args = ["--engine", "spark", "--master", "local[2]", "--shared-uri", str(tmp_path / "sv")]
    day = ["--date", "2026-11-01"]
    run("settle", *day, "--output", str(tmp_path / "duck.csv"))
    out = run("settle", *day, "--output", str(tmp_path / "spark.csv"), *spark_args)
    assert "settlement run 2 (preliminary)" in out
    duck, sparked = ((tmp_path / n).read_text() for n in ("duck.csv", "spark.csv"))
    assert duck == sparked and duck.count("\n") == 1 + 48 * 3  # retailer, BG, area rows
    period = ["--from", "2026-11-01", "--to", "2026-11-01"]
    run("bill", *period, "--output", str(tmp_path / "bill_duck.csv"))
    run("bill", *period, "--output", str(tmp_path / "bill_spark.csv"), *spark_args)
    assert (tmp_path / "bill_duck.csv").read_text() == (tmp_path / "bill_spark.csv").read_text()


def test_spark_without_a_shared_store_says_so(tmp_path: Path) -> None:
    args = ["mdms", "settle", "--date", "2026-11-01", "--engine", "spark"]
    result = CliRunner().invoke(
        cli, [*args, "--data-dir", str(tmp_path)], env={"OPENAMI_SHARED_VALUES_URI": ""}
    )
    assert result.exit_code == 2 and "--shared-uri" in result.output
