"""Imbalance per slot, balancing group and area from the settlement runs of a small fleet,
checked against hand-computed values: loss adjustment by the area's low-voltage rate,
plans, groups without a plan or without points, PV export kept apart, and versions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pytest

from openami.bus.messages import READ_SCHEMA
from openami.clock import ManualClock, day_first_slot
from openami.mdms import Mdms
from openami.mdms.demand_plans import DemandPlans
from openami.mdms.imbalance import ImbalanceError, group_voltage_classes, imbalance_of_day
from openami.mdms.loss_factors import LossFactorError, LossFactors, check
from openami.registry import BalancingGroup, Meter, Registry, Retailer, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_database
from openami.storage.repositories.balancing import DemandPlanStore
from openami.storage.repositories.loss_factors import LossFactor, LossFactorStore

DAY = date(2026, 11, 2)
B = day_first_slot(DAY)
TOKYO_LOW, KYUSHU_LOW = 0.069, 0.086  # the shipped example's low-voltage rates
# (area, retailer, import Wh per slot, export Wh per slot)
POINTS = [("03", "R1", 100, 0), ("03", "R2", 40, 30), ("09", "R3", 300, 0), ("03", "R3", 200, 0)]


class World:
    def __init__(self) -> None:
        self.database = open_database(":memory:")
        registry = Registry(self.database)
        registry.add_balancing_groups([BalancingGroup("BG1", "one"), BalancingGroup("BG2", "two")])
        registry.add_retailers(
            [Retailer("R1", "r1", "BG1"), Retailer("R2", "r2", "BG1"), Retailer("R3", "r3", "BG2")]
        )
        ids = [make_supply_point_id(a, i + 1) for i, (a, _, _, _) in enumerate(POINTS)]
        keys = registry.add_supply_points(ids)
        registry.add_meters(
            [Meter(10 + i, "M", f"S{i}", 30, "mesh", None, date(2030, 1, 1)) for i in range(4)]
        )
        registry.install_meters([(k, 10 + i) for i, k in enumerate(keys)], 0.0)
        registry.add_supply_contracts(
            [(k, p[1], date(2026, 1, 1), None) for k, p in zip(keys, POINTS, strict=True)]
        )
        clock = ManualClock(datetime(2026, 11, 5, tzinfo=UTC))
        self.mdms = Mdms(DuckIntervalStore(), registry, clock)
        self.plans = DemandPlanStore(self.database)
        self.loss = LossFactors(LossFactorStore(self.database))

    def read_day(self, scale: int = 1) -> None:
        rows = [
            (10 + i, b, 1000 + b * imp * scale, 500 + b * exp)
            for i, (_, _, imp, exp) in enumerate(POINTS)
            for b in range(49)
        ]
        self.mdms.ingest(
            pa.table(
                {
                    "meter_id": [r[0] for r in rows],
                    "boundary": [B + r[1] for r in rows],
                    "import_register_wh": [r[2] for r in rows],
                    "export_register_wh": [r[3] for r in rows],
                    "received_at": [0.0] * len(rows),
                    "source": [0] * len(rows),
                },
                schema=READ_SCHEMA,
            )
        )

    def plan(self, bg: str, areas: dict[str, float]) -> None:
        doc = {"unit": "kWh", "areas": {a: [kwh] * 48 for a, kwh in areas.items()}}
        before = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
        DemandPlans(self.plans).submit(
            bg, DAY, json.dumps(doc).encode(), "application/json", f"c-{bg}", before
        )

    def imbalance(
        self, kind: str | None = None, bg: str | None = None
    ) -> dict[tuple[int, str, str], dict]:  # type: ignore[type-arg]
        run = imbalance_of_day(self.mdms, self.plans, self.loss, DAY, kind, bg)
        return {
            (r["slot"] - B, r["area_code"], r["balancing_group_id"]): r
            for r in run.rows.to_pylist()
        }


@pytest.fixture
def world() -> World:
    w = World()
    w.read_day()
    w.plan("BG1", {"03": 0.15, "01": 0.01})
    w.plan("BG2", {"09": 0.3})
    return w


def test_sums_equal_hand_computed_values(world: World) -> None:
    world.mdms.settle(DAY)
    rows = world.imbalance()
    assert len(rows) == 48 * 4  # BG1/03, BG1/01 (planned, no points), BG2/03, BG2/09
    bg1 = rows[(5, "03", "BG1")]
    assert (bg1["metered_import_wh"], bg1["points"], bg1["voltage_class"]) == (140, 2, "low")
    assert bg1["loss_rate"] == pytest.approx(TOKYO_LOW)
    assert bg1["actual_wh"] == pytest.approx(140 / (1 - TOKYO_LOW))  # 150.376…
    assert (bg1["plan_wh"], bg1["plan_version"]) == (150, 1)
    assert bg1["imbalance_wh"] == pytest.approx(140 / 0.931 - 150)  # shortfall 0.376 Wh
    assert bg1["generation_export_wh"] == 30  # PV export: its own balance, not netted
    kyushu = rows[(5, "09", "BG2")]
    assert kyushu["imbalance_wh"] == pytest.approx(300 / (1 - KYUSHU_LOW) - 300)
    unplanned = rows[(5, "03", "BG2")]
    assert (unplanned["plan_wh"], unplanned["plan_version"]) == (0, None)
    assert unplanned["imbalance_wh"] == pytest.approx(200 / (1 - TOKYO_LOW))
    nobody = rows[(5, "01", "BG1")]
    assert (nobody["points"], nobody["actual_wh"], nobody["quality"]) == (0, 0.0, "no_points")
    assert nobody["imbalance_wh"] == -10.0  # surplus: planned, nothing consumed


def test_one_group_only(world: World) -> None:
    world.mdms.settle(DAY)
    rows = world.imbalance(bg="BG2")
    assert {k[2] for k in rows} == {"BG2"} and len(rows) == 96


def test_versions_follow_the_settlement_runs(world: World) -> None:
    first = world.mdms.settle(DAY, estimate=False)
    world.read_day(scale=2)  # corrected reads: twice the energy
    world.mdms.settle(DAY, kind="correction", estimate=False)
    newest = imbalance_of_day(world.mdms, world.plans, world.loss, DAY)
    assert newest.kind == "correction" and newest.settlement_run_id == first.run_id + 1
    r = {
        (x["slot"] - B, x["area_code"], x["balancing_group_id"]): x for x in newest.rows.to_pylist()
    }
    assert r[(0, "03", "BG1")]["metered_import_wh"] == 280
    old = world.imbalance(kind="preliminary")
    assert old[(0, "03", "BG1")]["metered_import_wh"] == 140
    with pytest.raises(ImbalanceError) as caught:
        world.imbalance(kind="final")
    assert caught.value.code == "E_NO_SETTLEMENT_RUN"


def test_no_settlement_run_no_imbalance(world: World) -> None:
    with pytest.raises(ImbalanceError, match="settle"):
        world.imbalance()


def test_a_missing_loss_factor_is_a_clear_error(world: World) -> None:
    world.loss.store.load([LossFactor("03", "low", date(2030, 1, 1), 0.05, "later")], 0.0)
    world.mdms.settle(DAY)  # the store is not empty: the shipped file is not loaded
    with pytest.raises(ImbalanceError) as caught:
        world.imbalance()
    assert caught.value.code == "E_NO_LOSS_FACTOR" and "area 03" in caught.value.message


def test_mixed_voltage_classes_cannot_be_adjusted_from_the_sums() -> None:
    members = pa.table(
        {
            "supply_point_key": [1, 2],
            "area_code": ["03", "03"],
            "balancing_group_id": ["BG1", "BG1"],
            "retailer_id": ["R1", "R1"],
        }
    )
    classes = group_voltage_classes(members)  # every point is low voltage today
    assert classes.to_pylist() == [
        {"area_code": "03", "balancing_group_id": "BG1", "voltage_class": "low"}
    ]

    def one_high(keys: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
        return np.where(keys == 2, "high", "low").astype(object)

    with pytest.raises(ImbalanceError) as caught:
        group_voltage_classes(members, one_high)
    assert caught.value.code == "E_MIXED_VOLTAGE_CLASSES"


def test_loss_factor_rules() -> None:
    good = LossFactor("03", "low", date(2016, 4, 1), 0.069, "s")
    assert check([good]) == [good]
    for bad in (
        LossFactor("99", "low", date(2016, 4, 1), 0.069, "s"),
        LossFactor("03", "medium", date(2016, 4, 1), 0.069, "s"),
        LossFactor("03", "low", date(2016, 4, 1), 1.2, "s"),
        LossFactor("03", "low", date(2016, 4, 1), 0.069, ""),
    ):
        with pytest.raises(LossFactorError):
            check([bad])


def test_a_day_nobody_was_supplied_or_planned_has_no_rows(world: World) -> None:
    quiet = date(2025, 12, 31)  # before every supply contract
    world.mdms.settle(quiet, estimate=False)
    run = imbalance_of_day(world.mdms, world.plans, world.loss, quiet)
    assert run.rows.num_rows == 0 and "imbalance_wh" in run.rows.column_names


def test_a_runs_voltage_classes_are_read_once_with_a_cache(world: World) -> None:
    run = world.mdms.settle(DAY)
    cache: dict[tuple[date, int], pa.Table] = {}
    first = imbalance_of_day(world.mdms, world.plans, world.loss, DAY, classes_cache=cache)
    assert list(cache) == [(DAY, run.run_id)]
    cache[(DAY, run.run_id)] = cache[(DAY, run.run_id)].filter(pa.array([False, True, True]))
    with pytest.raises(ImbalanceError):  # the cached classes are used: one pair lost its class
        imbalance_of_day(world.mdms, world.plans, world.loss, DAY, classes_cache=cache)
    again = imbalance_of_day(world.mdms, world.plans, world.loss, DAY)
    assert again.rows.equals(first.rows)


def test_a_high_voltage_point_gets_the_high_voltage_rate(world: World) -> None:
    """The registry's voltage class (``supply_point_classes``) picks the loss rate."""
    kyushu_id = make_supply_point_id("09", 3)
    kyushu_point = world.mdms.registry.supply_point_key_of([kyushu_id])[kyushu_id]
    world.mdms.registry.kinds.set_point_classes([(kyushu_point, "high", "industrial")])
    world.mdms.settle(DAY)
    row = world.imbalance()[(5, "09", "BG2")]
    assert row["voltage_class"] == "high"
    assert row["loss_rate"] == pytest.approx(0.032)  # the shipped example's 09/high
    assert row["imbalance_wh"] == pytest.approx(300 / (1 - 0.032) - 300)
