"""Settlement sums per slot and (area, balancing group, retailer) with point-in-time
membership, quality counts and versioned runs — on a hand-computed day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from openami.bus.messages import READ_SCHEMA
from openami.clock import ManualClock, day_first_slot
from openami.mdms import Mdms
from openami.registry import BalancingGroup, Meter, Registry, Retailer, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore

DAY = date(2026, 11, 2)
B = day_first_slot(DAY)


@pytest.fixture
def mdms() -> Mdms:
    registry = Registry.open(":memory:")
    registry.add_balancing_groups([BalancingGroup("BG1", "one"), BalancingGroup("BG2", "two")])
    registry.add_retailers(
        [Retailer("R1", "r1", "BG1"), Retailer("R2", "r2", "BG1"), Retailer("R3", "r3", "BG2")]
    )
    keys = registry.add_supply_points([make_supply_point_id("03", i) for i in range(1, 5)])
    registry.add_meters(
        [Meter(10 + i, "M", f"S{i}", 30, "mesh", None, date(2030, 1, 1)) for i in range(4)]
    )
    registry.install_meters([(k, 10 + i) for i, k in enumerate(keys)], 0.0)
    registry.add_supply_contracts(
        [
            (keys[0], "R1", date(2026, 1, 1), None),
            (keys[1], "R1", date(2026, 1, 1), None),
            (keys[2], "R2", date(2026, 1, 1), DAY),  # switches to R3 on DAY
            (keys[2], "R3", DAY, None),
            # keys[3] has no retailer: not in any sum
        ]
    )
    return Mdms(DuckIntervalStore(), registry, ManualClock(datetime(2026, 11, 5, tzinfo=UTC)))


def reads(rows: list[tuple[int, int, int]]) -> pa.Table:
    """(meter, boundary offset from DAY 00:00, import register)."""
    return pa.table(
        {
            "meter_id": [m for m, _, _ in rows],
            "boundary": [B + b for _, b, _ in rows],
            "import_register_wh": [r for _, _, r in rows],
            "export_register_wh": [0] * len(rows),
            "received_at": [0.0] * len(rows),
            "source": [0] * len(rows),
        },
        schema=READ_SCHEMA,
    )


def test_sums_counts_quality_and_membership(mdms: Mdms) -> None:
    full = [(m, b, 1000 * (m - 9) + b * 100 * (m - 9)) for m in (10, 12, 13) for b in range(49)]
    # meter 11: reads at 0, 1 and 3 only — slot 0 measured, slots 1-2 a gap, rest missing
    part = [(11, 0, 5000), (11, 1, 5040), (11, 3, 5140)]
    mdms.ingest(reads(full + part))
    run = mdms.settle(DAY)
    rows = {
        (r["slot"] - B, r["level"], r["balancing_group_id"], r["retailer_id"]): r
        for r in run.rows.to_pylist()
    }
    # slot 0: sp1 100, sp2 40 (R1); sp3 300 (R3, BG2); sp4 400 is supplied by no one
    r1 = rows[(0, "retailer", "BG1", "R1")]
    assert (r1["import_wh"], r1["points"], r1["measured"], r1["quality"]) == (140, 2, 2, "measured")
    assert (0, "retailer", "BG1", "R2") not in rows  # R2's contract ended the day before
    r3 = rows[(0, "retailer", "BG2", "R3")]
    assert (r3["import_wh"], r3["points"]) == (300, 1)
    assert rows[(0, "balancing_group", "BG1", None)]["import_wh"] == 140
    area = rows[(0, "area", None, None)]
    assert (area["import_wh"], area["points"], area["area_code"]) == (440, 3, "03")
    # slots 1-2: sp2's gap (100 Wh between its reads) estimated E1 as 50 + 50
    s1 = rows[(1, "retailer", "BG1", "R1")]
    assert (s1["import_wh"], s1["estimated"], s1["estimated_wh"], s1["quality"]) == (
        150,
        1,
        50,
        "estimated",
    )
    # slot 3 onwards: sp2 has only one end read → E3 class profile estimate, still complete
    assert rows[(3, "retailer", "BG1", "R1")]["missing"] == 0
    assert len({k[0] for k in rows}) == 48


def test_without_estimation_holes_show_as_partially_missing(mdms: Mdms) -> None:
    full = [(10, b, 1000 + b * 100) for b in range(49)]  # sp3 (R3) has no reads at all
    mdms.ingest(reads([*full, (11, 0, 5000), (11, 1, 5040)]))
    run = mdms.settle(DAY, estimate=False)
    rows = {
        (r["slot"] - B, r["level"], r["retailer_id"]): r
        for r in run.rows.to_pylist()
        if r["level"] == "retailer"
    }
    assert rows[(0, "retailer", "R1")]["quality"] == "measured"
    r = rows[(5, "retailer", "R1")]
    assert (r["import_wh"], r["missing"], r["quality"]) == (100, 1, "partially_missing")
    r = rows[(5, "retailer", "R3")]
    assert (r["import_wh"], r["missing"], r["quality"]) == (0, 1, "missing")


def test_runs_are_versioned(mdms: Mdms) -> None:
    mdms.ingest(reads([(10, b, 1000 + 10 * b) for b in range(49)]))
    first = mdms.settle(DAY, estimate=False)
    final = mdms.settle(DAY, kind="final")
    assert (first.run_id, final.run_id) == (1, 2)
    kinds = mdms.store.query("SELECT kind FROM settlement_runs ORDER BY run_id")
    assert kinds.column("kind").to_pylist() == ["preliminary", "final"]
    with pytest.raises(ValueError, match="kind"):
        mdms.settle(DAY, kind="draft")


def test_a_value_that_became_invalid_adds_no_energy(mdms: Mdms) -> None:
    """Its current version has no import: the sum must not fall back to the version before
    (measured 130 Wh) but count the slot as missing, as the point's current values say."""
    mdms.ingest(reads([(10, 0, 1000), (10, 1, 1130), (11, 0, 500), (11, 1, 540)]))
    mdms.ingest(reads([(10, 1, 900)]))  # a corrected read: the register went backwards
    current = mdms.current_values(1, B, B).to_pylist()
    assert [(v["quality"], v["import_wh"], v["version"]) for v in current] == [("invalid", None, 2)]
    rows = mdms.settle(DAY, estimate=False).rows.to_pylist()
    r1 = next(r for r in rows if r["slot"] == B and r["retailer_id"] == "R1")
    assert (r1["import_wh"], r1["points"], r1["measured"], r1["missing"]) == (40, 2, 1, 1)
