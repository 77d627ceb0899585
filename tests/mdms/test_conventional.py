"""Conventional meters in the MDMS: manual reads profiled into half-hour values of quality
``profiled`` that add up to the metered energy (× multiplier), reach settlement, leave
measured and edited values alone, and are not written twice."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from openami.clock import ManualClock, day_first_slot, jst_day_start_s
from openami.mdms import Mdms
from openami.mdms.conventional import profile_manual_reads
from openami.registry import BalancingGroup, Meter, Registry, Retailer, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore

OCT, NOV, DEC = date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)


@pytest.fixture
def mdms() -> Mdms:
    registry = Registry.open(":memory:")
    registry.add_balancing_groups([BalancingGroup("BG1", "one")])
    registry.add_retailers([Retailer("R1", "r1", "BG1")])
    keys = registry.add_supply_points([make_supply_point_id("03", i) for i in range(1, 4)])
    registry.add_meters(
        [Meter(m, "M", f"S{m}", 30, "mesh", None, date(2030, 1, 1)) for m in (10, 11, 12)]
    )
    registry.install_meters([(keys[0], 10), (keys[1], 11)], 0.0)
    # meter 12 is installed mid-October: its first period begins before it was there
    registry.install_meters([(keys[2], 12)], jst_day_start_s(date(2026, 10, 15)))
    registry.add_supply_contracts([(k, "R1", date(2026, 1, 1), None) for k in keys])
    registry.kinds.set_meter_kinds([(10, "conventional", 1), (12, "conventional", 40)])
    registry.kinds.set_point_classes([(keys[2], "high", "industrial")])
    return Mdms(DuckIntervalStore(), registry, ManualClock(datetime(2026, 12, 5, tzinfo=UTC)))


def add_reads(mdms: Mdms, rows: list[tuple[int, date, int]]) -> None:
    table = pa.table(
        {
            "meter_id": [str(m) for m, _, _ in rows],
            "read_on": [d.isoformat() for _, d, _ in rows],
            "import_register_wh": [str(r) for _, _, r in rows],
            "reader": ["R7"] * len(rows),
        }
    )
    mdms.registry.kinds.add_manual_reads(table, date(2026, 12, 5))


def test_profiled_values_add_up_and_reach_settlement(mdms: Mdms) -> None:
    add_reads(mdms, [(10, OCT, 100_000), (10, NOV, 351_234), (10, DEC, 500_001)])
    add_reads(mdms, [(12, OCT, 5_000), (12, NOV, 9_000), (12, DEC, 15_001)])
    result = profile_manual_reads(mdms, mdms.registry.kinds)
    # meter 12's October period began before its installation: not placed
    assert (result.periods, result.unplaced) == (4, 1)
    assert result.energy_wh == 251_234 + 148_767 + 6_001 * 40
    oct_values = mdms.current_values(1, day_first_slot(OCT), day_first_slot(NOV) - 1)
    assert oct_values.num_rows == 31 * 48
    assert pc.sum(oct_values.column("import_wh")).as_py() == 251_234  # exactly
    assert set(oct_values.column("quality").to_pylist()) == {"profiled"}
    assert set(oct_values.column("method").to_pylist()) == {"P"}
    nov_hv = mdms.current_values(3, day_first_slot(NOV), day_first_slot(DEC) - 1)
    assert pc.sum(nov_hv.column("import_wh")).as_py() == 6_001 * 40  # × multiplier
    run = mdms.settle(date(2026, 10, 20))
    area = [r for r in run.rows.to_pylist() if r["level"] == "area"]
    day = mdms.current_values(
        1, day_first_slot(date(2026, 10, 20)), day_first_slot(date(2026, 10, 21)) - 1
    )
    # settlement estimates the points without values; the profiled point adds its own
    profiled_wh = sum(r["import_wh"] - r["estimated_wh"] for r in area)
    assert profiled_wh == pc.sum(day.column("import_wh")).as_py()
    assert all(r["points"] - r["measured"] - r["estimated"] - r["missing"] == 1 for r in area)
    assert profile_manual_reads(mdms, mdms.registry.kinds).values == 0  # nothing twice


def test_measured_and_edited_values_are_kept(mdms: Mdms) -> None:
    first = day_first_slot(OCT)
    mdms.edit(1, [first + 5], [777], [None], "operator", "customer's own reading")
    add_reads(mdms, [(10, OCT, 0), (10, NOV, 14_880)])
    result = profile_manual_reads(mdms, mdms.registry.kinds, [10])
    assert result.values == 31 * 48 - 1
    kept = mdms.current_values(1, first + 5, first + 5).to_pylist()[0]
    assert (kept["quality"], kept["import_wh"]) == ("edited", 777)


def test_billing_counts_profiled_values(mdms: Mdms) -> None:
    add_reads(mdms, [(10, OCT, 100_000), (10, NOV, 351_234)])
    profile_manual_reads(mdms, mdms.registry.kinds)
    bill = {r["supply_point_key"]: r for r in mdms.bill(OCT, date(2026, 10, 31)).to_pylist()}
    row = bill[1]
    assert (row["import_wh"], row["profiled"], row["measured"], row["missing"]) == (
        251_234,
        31 * 48,
        0,
        0,
    )
