"""Demand plan submissions and loss factors in the transactional store, on SQLite and
PostgreSQL: versions, optimistic concurrency, the current plans of a day, effective dates."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from openami.storage.repositories import Database
from openami.storage.repositories.balancing import PLAN_SCHEMA, DemandPlanStore, PlanSubmission
from openami.storage.repositories.loss_factors import (
    LossFactor,
    LossFactorFileError,
    LossFactorStore,
    read_loss_factor_file,
    read_loss_factor_text,
)
from openami.storage.sql import Conflict, InvalidValue

DAY = date(2026, 11, 2)


def plan(area: str, wh: int) -> pa.Table:
    return pa.table(
        {"area_code": [area] * 48, "slot_of_day": list(range(48)), "energy_wh": [wh] * 48},
        schema=PLAN_SCHEMA,
    )


def submission(bg: str, version: int, total: int = 0) -> PlanSubmission:
    return PlanSubmission(bg, DAY, version, 100.0 + version, f"c-{bg}", "text/csv", total)


@pytest.fixture
def store(database: Database) -> DemandPlanStore:
    database.registry.add_balancing_groups([("BG1", "one"), ("BG2", "two")])
    return DemandPlanStore(database)


def test_versions_history_and_current(store: DemandPlanStore) -> None:
    assert store.current("BG1", DAY)[0] == 0
    store.submit(submission("BG1", 1), 0, plan("03", 1000))
    store.submit(submission("BG1", 2), 1, pa.concat_tables([plan("03", 1200), plan("01", 5)]))
    version, values = store.current("BG1", DAY)
    assert version == 2 and values.num_rows == 96
    assert set(values.column("energy_wh").to_pylist()) == {5, 1200}
    first = store.version("BG1", DAY, 1)
    assert first is not None and first.column("energy_wh").to_pylist() == [1000] * 48
    assert store.version("BG1", DAY, 3) is None
    history = store.history("BG1", DAY)
    assert [(h.version, h.energy_wh, h.submitted_by) for h in history] == [
        (1, 48_000, "c-BG1"),
        (2, 48 * 1205, "c-BG1"),
    ]
    assert store.history("BG2", DAY) == []


def test_a_stale_submission_stores_nothing(store: DemandPlanStore) -> None:
    store.submit(submission("BG1", 1), 0, plan("03", 1000))
    with pytest.raises(Conflict):
        store.submit(submission("BG1", 1), 0, plan("03", 9))
    assert store.current("BG1", DAY)[1].column("energy_wh").to_pylist() == [1000] * 48
    assert len(store.history("BG1", DAY)) == 1


def test_negative_energy_is_refused_by_the_table(store: DemandPlanStore) -> None:
    with pytest.raises(InvalidValue):
        store.submit(submission("BG1", 1), 0, plan("03", -1))
    assert store.current("BG1", DAY)[0] == 0


def test_plans_on_a_day_are_each_groups_newest(store: DemandPlanStore) -> None:
    store.submit(submission("BG1", 1), 0, plan("03", 1000))
    store.submit(submission("BG1", 2), 1, plan("03", 1100))
    store.submit(submission("BG2", 1), 0, plan("09", 7))
    day = store.plans_on(DAY)
    assert day.num_rows == 96
    got = {(r["balancing_group_id"], r["version"], r["energy_wh"]) for r in day.to_pylist()}
    assert got == {("BG1", 2, 1100), ("BG2", 1, 7)}
    assert store.plans_on(date(2026, 11, 3)).num_rows == 0
    assert store.group_exists("BG1") and not store.group_exists("BG9")


def test_loss_factors_are_effective_dated_and_replaced_by_key(database: Database) -> None:
    store = LossFactorStore(database)
    old = LossFactor("03", "low", date(2016, 4, 1), 0.069, "s1")
    new = LossFactor("03", "low", date(2026, 4, 1), 0.05, "s2")
    store.load([old, new, LossFactor("03", "high", date(2016, 4, 1), 0.037, "s1")], 1.0)
    assert {r.loss_rate for r in store.in_force(date(2026, 3, 31))} == {0.069, 0.037}
    assert {r.loss_rate for r in store.in_force(date(2026, 4, 1))} == {0.05, 0.037}
    assert store.in_force(date(2016, 3, 31)) == []
    store.load([LossFactor("03", "low", date(2026, 4, 1), 0.051, "s3")], 2.0)
    assert store.count() == 3
    assert [r.source for r in store.all() if r.valid_from.year == 2026] == ["s3"]
    with pytest.raises(InvalidValue):
        store.load([LossFactor("03", "low", date(2027, 1, 1), 1.0, "s")], 3.0)
    assert store.count() == 3


def test_the_shipped_file_has_every_area_and_class_with_a_source() -> None:
    rows = read_loss_factor_file()
    assert len(rows) == 30 and all(r.source for r in rows)
    tokyo_low = next(r for r in rows if (r.area_code, r.voltage_class) == ("03", "low"))
    assert tokyo_low.loss_rate == pytest.approx(0.069)


def test_a_bad_file_names_the_line() -> None:
    text = "area_code,voltage_class,valid_from,loss_rate_pct,source\n03,low,2016-04-01,x,s\n"
    with pytest.raises(LossFactorFileError, match="line 2"):
        read_loss_factor_text(text)
    with pytest.raises(LossFactorFileError, match="header"):
        read_loss_factor_text("area,rate\n03,1\n")
