"""Each estimation method on a hand-computed gap; sum and register identities afterwards."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pyarrow as pa
from tests.mdms.vee_world import B0, METER, cumulative, current, make_mdms, reads

from openami.mdms.estimate import distribute
from openami.mdms.vee_config import load_vee_config

WEEK = 336


def est(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(r["slot"], r["import_wh"], r["quality"], r["method"]) for r in rows]


def test_distribute_adds_up_exactly_and_follows_weights() -> None:
    gap = np.array([0, 0, 0, 1, 1], dtype=np.int64)
    out = distribute(np.array([400.0, 7.0]), np.array([1.0, 1.0, 1.0, 0.0, 0.0]), gap)
    # 400 in thirds by cumulative rounding: 133.3 → 133, 266.7 → 267, 400; zero weights: flat
    assert out.tolist() == [133, 134, 133, 4, 3]  # 7 flat in halves: 3.5 rounds up to 4


def test_e1_linear_interpolation_of_registers() -> None:
    mdms = make_mdms()
    mdms.ingest(reads([(0, 1000, 0), (1, 1100, 0), (4, 1500, 0), (5, 1550, 0)]))
    assert [r["slot"] for r in current(mdms, 0, 4)] == [0, 4]  # slots 1-3 have no value
    result = mdms.estimate(B0, B0 + 4)
    assert result.by_method == {"E1": 3} and result.gaps == 1
    rows = current(mdms, 0, 4)
    assert est(rows) == [
        (0, 100, "measured", None),
        (1, 133, "estimated", "E1"),
        (2, 134, "estimated", "E1"),
        (3, 133, "estimated", "E1"),
        (4, 50, "measured", None),
    ]
    assert rows[1]["flags"] == ["V03"] and rows[1]["final"] is False


def test_e2_like_day_profile_scaled_to_the_register_difference() -> None:
    mdms = make_mdms()
    # a week earlier the same slots held 100, 200, 300, 400, 0 Wh (measured)
    week_ago = cumulative(50_000, [100, 200, 300, 400, 0], first_b=-WEEK)
    mdms.ingest(reads(week_ago))
    # now a 5-slot gap (longer than E1's 4) whose register difference is 2000 Wh
    mdms.ingest(reads([(0, 60_000, 0), (5, 62_000, 0)]))
    result = mdms.estimate(B0, B0 + 4)
    assert result.by_method == {"E2": 5}
    assert est(current(mdms, 0, 4)) == [
        (0, 200, "estimated", "E2"),
        (1, 400, "estimated", "E2"),
        (2, 600, "estimated", "E2"),
        (3, 800, "estimated", "E2"),
        (4, 0, "estimated", "E2"),
    ]


def test_e3_class_profile_scaled_to_the_register_difference() -> None:
    profile = [2.0, 2.0] + [1.0] * 46  # 00:00 and 00:30 JST weigh double
    cfg = dataclasses.replace(load_vee_config(), class_profile=np.array(profile) / sum(profile))
    mdms = make_mdms(cfg)
    mdms.ingest(reads([(0, 10_000, 0), (6, 10_800, 0)]))  # 6 slots, no history
    assert mdms.estimate(B0, B0 + 5).by_method == {"E3": 6}
    # weights 2, 2, 1, 1, 1, 1 of 8 → 800 Wh as 200, 200, 100, 100, 100, 100
    assert [r["import_wh"] for r in current(mdms, 0, 5)] == [200, 200, 100, 100, 100, 100]


def test_e3_without_a_closing_read_uses_contract_amperage() -> None:
    cfg = dataclasses.replace(
        load_vee_config(), class_profile=np.full(48, 1 / 48), class_daily_wh_per_a=320.0
    )
    mdms = make_mdms(cfg)  # 30 A × 320 Wh/A = 9600 Wh a day = 200 Wh a slot
    mdms.ingest(reads([(0, 10_000, 0), (1, 10_150, 0)]))
    mdms.estimate(B0, B0 + 3)
    assert est(current(mdms, 0, 3)) == [
        (0, 150, "measured", None),
        (1, 200, "estimated", "E3"),
        (2, 200, "estimated", "E3"),
        (3, 200, "estimated", "E3"),
    ]


def test_e4_flat_distribution_of_a_known_total() -> None:
    mdms = make_mdms()
    result = mdms.distribute_total(1, B0 + 10, B0 + 12, 1000, "carol", "customer read 1 kWh")
    assert result.versions == 3
    rows = current(mdms, 10, 12)
    assert est(rows) == [
        (10, 333, "estimated", "E4"),
        (11, 334, "estimated", "E4"),
        (12, 333, "estimated", "E4"),
    ]
    assert rows[0]["edited_by"] == "carol"


def test_outage_slots_are_valid_zeros_not_estimation_candidates() -> None:
    mdms = make_mdms()
    mdms.record_events(
        pa.table(
            {
                "meter_id": [METER],
                "kind": ["outage"],
                "start_s": [(B0 + 3) * 1800.0],
                "end_s": [(B0 + 5) * 1800.0],
            }
        )
    )
    mdms.ingest(reads([(0, 1000, 0), (1, 1100, 0), (5, 1400, 0)]))
    mdms.estimate(B0, B0 + 4)
    # 300 Wh over slots 1-4, but 3 and 4 lie in the outage: 150, 150, 0, 0
    assert est(current(mdms, 1, 4)) == [
        (1, 150, "estimated", "E1"),
        (2, 150, "estimated", "E1"),
        (3, 0, "estimated", "E0"),
        (4, 0, "estimated", "E0"),
    ]


def test_invalid_values_are_estimated_and_measured_backfill_wins() -> None:
    mdms = make_mdms()
    mdms.ingest(reads([(0, 1000, 0), (1, 5000, 0), (2, 1200, 0)]))  # 4000 Wh: V07, then V04
    assert [r["quality"] for r in current(mdms, 0, 1)] == ["invalid", "invalid"]
    mdms.estimate(B0, B0 + 1)
    rows = current(mdms, 0, 1)
    assert est(rows) == [(0, 100, "estimated", "E1"), (1, 100, "estimated", "E1")]
    assert rows[0]["flags"] == ["V07"] and rows[1]["flags"] == ["V04"]
    mdms.ingest(reads([(1, 1130, 0)]))  # the corrected read of boundary 1
    assert est(current(mdms, 0, 1)) == [(0, 130, "measured", None), (1, 70, "measured", None)]


def test_finalize_makes_values_final_and_reestimates_preliminary_ones() -> None:
    mdms = make_mdms()
    mdms.ingest(reads([(0, 1000, 0), (1, 1100, 0)]))
    mdms.estimate(B0, B0 + 3)  # slots 1-3: only one end known → E3, preliminary
    assert {r["final"] for r in current(mdms, 1, 3)} == {False}
    mdms.ingest(reads([(4, 1400, 0)]))  # the closing read arrives
    result = mdms.finalize(B0, B0 + 3, "settlement")
    assert result.by_method == {"E1": 3}
    rows = current(mdms, 0, 3)
    assert [(r["import_wh"], r["final"]) for r in rows] == [
        (100, True),
        (100, True),
        (100, True),
        (100, True),
    ]


def test_register_identity_holds_after_estimation_on_random_gaps() -> None:
    rng = np.random.default_rng(5)
    mdms = make_mdms(amps=60)
    values = rng.integers(0, 900, 96)
    regs = 20_000 + np.concatenate([[0], np.cumsum(values)])
    keep = rng.random(97) > 0.4
    keep[[0, 96]] = True
    mdms.ingest(reads([(int(b), int(regs[b]), 0) for b in np.flatnonzero(keep)]))
    result = mdms.estimate(B0, B0 + 95)
    assert result.candidates > 10
    rows = current(mdms, 0, 95)
    assert len(rows) == 96 and {r["quality"] for r in rows} <= {"measured", "estimated"}
    got = np.array([r["import_wh"] for r in rows])
    assert got.sum() == regs[96] - regs[0]  # the day adds up to the register difference
    # and so does every span between two stored reads
    kept = np.flatnonzero(keep)
    for a, b in itertools.pairwise(kept):
        assert got[a:b].sum() == regs[b] - regs[a]
    assert (got >= 0).all()
