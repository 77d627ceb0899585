"""Each VEE validation rule on a small hand-computed dataset.

Meter 7, contract 30 A → capacity 30 A × 100 V × 0.5 h = 1500 Wh a slot; V07 rejects
above 1.5 × 1500 = 2250 Wh. Reads are at boundaries B0 + b (B0 = 2026-11-01 00:00 JST).
"""

from __future__ import annotations

import pyarrow as pa
from tests.mdms.vee_world import B0, METER, cumulative, current, make_mdms, reads, with_rule

from openami.mdms.vee_config import load_vee_config


def q(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(r["slot"], r["import_wh"], r["quality"], r["flags"]) for r in rows]


def test_v04_negative_delta_is_invalid_and_stored_without_energy() -> None:
    mdms = make_mdms()
    mdms.ingest(reads([(0, 5000, 0), (1, 5100, 0), (2, 5050, 0)]))
    assert q(current(mdms, 0, 1)) == [
        (0, 100, "measured", []),
        (1, None, "invalid", ["V04"]),
    ]


def test_v04_rollover_at_the_meters_effective_digits() -> None:
    mdms = make_mdms()
    # 6 digits of 1 Wh: the register wraps at 1,000,000 Wh
    mdms.set_meter_master(
        pa.table(
            {
                "meter_id": [METER],
                "register_digits": [6],
                "register_unit_wh": [1],
                "multiplier": [1],
            }
        )
    )
    mdms.ingest(reads([(0, 999_900, 0), (1, 100, 0), (2, 50, 0)]))
    # 999,900 → 100 is 200 Wh across the wrap; 100 → 50 is a real step backwards
    assert q(current(mdms, 0, 1)) == [
        (0, 200, "measured", ["V04R"]),
        (1, None, "invalid", ["V04"]),
    ]


def test_v07_high_against_contract_amperage() -> None:
    mdms = make_mdms()
    mdms.ingest(reads(cumulative(10_000, [2250, 2251, 10])))
    assert q(current(mdms, 0, 2)) == [
        (0, 2250, "measured", []),
        (1, None, "invalid", ["V07"]),
        (2, 10, "measured", []),
    ]


def test_v07_low_whole_connected_day_without_import() -> None:
    cfg = with_rule(load_vee_config(), "V08", zero_run_slots=100)
    mdms = make_mdms(cfg)
    mdms.ingest(reads(cumulative(10_000, [0] * 48)))
    rows = current(mdms, 0, 47)
    assert len(rows) == 48
    assert {tuple(r["flags"]) for r in rows} == {("V07L",)}  # type: ignore[arg-type]
    assert {r["quality"] for r in rows} == {"measured"}  # flag only


def test_v06_spike_against_own_history() -> None:
    cfg = with_rule(load_vee_config(), "V06", min_history=4, factor=3.0, min_wh=100)
    mdms = make_mdms(cfg)
    mdms.ingest(reads(cumulative(1000, [100, 100, 100, 100])))  # history: mean 100 over 4
    # next batch: 301 > 3 × 100 is a spike, 300 is not
    mdms.ingest(reads(cumulative(1400, [300, 301], first_b=4)[1:]))
    assert q(current(mdms, 4, 5)) == [
        (4, 300, "measured", []),
        (5, 301, "measured", ["V06"]),
    ]


def test_v08_zero_run_while_connected_but_not_in_an_outage() -> None:
    cfg = with_rule(load_vee_config(), "V08", zero_run_slots=3, flat_run_slots=99)
    mdms = make_mdms(cfg)
    mdms.ingest(reads(cumulative(1000, [50, 0, 0, 0, 60, 0, 0, 70])))
    flags = [r["flags"] for r in current(mdms, 0, 7)]
    assert flags == [[], ["V08"], ["V08"], ["V08"], [], [], [], []]

    # the same zeros during a recorded outage are valid zeros (V10O), not a zero run
    other = make_mdms(cfg)
    other.record_events(
        pa.table(
            {
                "meter_id": [METER],
                "kind": ["outage"],
                "start_s": [(B0 + 1) * 1800.0 + 300],
                "end_s": [(B0 + 4) * 1800.0 - 300],
            }
        )
    )
    other.ingest(reads(cumulative(1000, [50, 0, 0, 0, 60, 0, 0, 70])))
    assert [r["flags"] for r in current(other, 0, 4)] == [[], ["V10O"], ["V10O"], ["V10O"], []]
    assert {r["quality"] for r in current(other, 0, 7)} == {"measured"}


def test_v08_flat_line_run() -> None:
    cfg = with_rule(load_vee_config(), "V08", zero_run_slots=99, flat_run_slots=3)
    mdms = make_mdms(cfg)
    mdms.ingest(reads(cumulative(1000, [120, 120, 120, 90, 80, 80, 81])))
    flags = [r["flags"] for r in current(mdms, 0, 6)]
    assert flags == [["V08F"], ["V08F"], ["V08F"], [], [], [], []]


def test_v09_clock_deviation_flags_both_adjacent_slots() -> None:
    mdms = make_mdms()  # tolerance 60 s
    mdms.ingest(
        reads(
            [(0, 1000, 0), (1, 1100, 0), (2, 1200, 0), (3, 1300, 0)],
            clock_offset_s=[0, 0, 90.0, -59.0],
        )
    )
    assert [r["flags"] for r in current(mdms, 0, 2)] == [[], ["V09"], ["V09"]]


def test_v02_conflicting_duplicates_keep_the_first_arrival_and_flag() -> None:
    mdms = make_mdms()
    batch = reads([(0, 1000, 0), (1, 1100, 0), (1, 1180, 0), (1, 1100, 0), (2, 1200, 0)])
    result = mdms.ingest(batch)
    assert (result.reads_new, result.duplicates) == (3, 2)
    assert q(current(mdms, 0, 1)) == [(0, 100, "measured", ["V02"]), (1, 100, "measured", ["V02"])]


def test_v11_multiplier_differs_from_master_data() -> None:
    mdms = make_mdms()  # master multiplier: default 1
    mdms.ingest(reads([(0, 1000, 0), (1, 1100, 0), (2, 1150, 0)], multiplier=[1, 1, 40]))
    assert q(current(mdms, 0, 1)) == [
        (0, 100, "measured", []),
        (1, None, "invalid", ["V11"]),
    ]


def test_multiplier_from_master_data_scales_register_differences() -> None:
    mdms = make_mdms(amps=60)
    mdms.set_meter_master(
        pa.table(
            {
                "meter_id": [METER],
                "register_digits": [8],
                "register_unit_wh": [1],
                "multiplier": [20],
            }
        )
    )
    mdms.ingest(reads([(0, 1000, 0), (1, 1005, 0)]))
    assert current(mdms, 0, 0)[0]["import_wh"] == 100


def test_v10_tamper_event_flags_the_slots_it_touches() -> None:
    mdms = make_mdms()
    mdms.record_events(
        pa.table(
            {
                "meter_id": [METER],
                "kind": ["tamper"],
                "start_s": [(B0 + 1) * 1800.0 + 10],
                "end_s": [(B0 + 1) * 1800.0 + 20],
            }
        )
    )
    mdms.ingest(reads(cumulative(1000, [10, 20, 30])))
    assert [r["flags"] for r in current(mdms, 0, 2)] == [[], ["V10"], []]


def test_action_reject_turns_a_flag_into_invalid() -> None:
    cfg = with_rule(load_vee_config(), "V06", min_history=1, factor=2.0, min_wh=0)
    cfg.rules["V06"] = type(cfg.rules["V06"])("V06", "reject", cfg.rules["V06"].params)
    mdms = make_mdms(cfg)
    mdms.ingest(reads(cumulative(1000, [100])))
    mdms.ingest(reads(cumulative(1100, [250], first_b=1)[1:]))
    assert q(current(mdms, 1, 1)) == [(1, None, "invalid", ["V06"])]


def test_v05_sum_check_on_manual_edits() -> None:
    mdms = make_mdms()
    mdms.ingest(reads(cumulative(1000, [100, 200, 300])))
    # moving energy between slots keeps the register identity …
    ok = mdms.edit(1, [B0, B0 + 1], [150, 150], [0, 0], "alice", "meter test")
    assert ok.sum_check_ok is True
    # … adding energy breaks it: V05 on the edited value, the edit is still stored
    bad = mdms.edit(1, [B0 + 2], [400], [0], "alice", "customer complaint")
    assert bad.sum_check_ok is False
    rows = current(mdms, 0, 2)
    assert [(r["import_wh"], r["quality"], r["edited_by"], r["method"]) for r in rows] == [
        (150, "edited", "alice", "M"),
        (150, "edited", "alice", "M"),
        (400, "edited", "alice", "M"),
    ]
    assert rows[2]["flags"] == ["V05"] and rows[2]["reason"] == "customer complaint"


def test_edits_survive_reingest_and_need_user_and_reason() -> None:
    mdms = make_mdms()
    batch = reads(cumulative(1000, [100, 200]))
    mdms.ingest(batch)
    mdms.edit(1, [B0], [90], [None], "bob", "CT replaced")
    mdms.ingest(reads([(0, 1000, 0), (1, 1111, 0)]))  # a corrected read of boundary 1
    rows = current(mdms, 0, 1)
    assert [(r["import_wh"], r["quality"]) for r in rows] == [(90, "edited"), (189, "measured")]
    try:
        mdms.edit(1, [B0], [1], [None], "bob", "  ")
    except ValueError as exc:
        assert "reason" in str(exc)
    else:
        raise AssertionError("an edit without a reason was accepted")


def test_v11_register_not_in_whole_register_units() -> None:
    mdms = make_mdms()
    # 6 digits of 0.1 kWh: every register must be a multiple of 100 Wh; it wraps at 100 MWh
    mdms.set_meter_master(
        pa.table(
            {
                "meter_id": [METER],
                "register_digits": [6],
                "register_unit_wh": [100],
                "multiplier": [1],
            }
        )
    )
    mdms.ingest(reads([(0, 99_999_900, 0), (1, 200, 0), (2, 350, 0), (3, 500, 0)]))
    assert q(current(mdms, 0, 2)) == [
        (0, 300, "measured", ["V04R"]),
        (1, None, "invalid", ["V11"]),
        (2, None, "invalid", ["V11"]),
    ]


def test_v07_low_band_follows_contract_amperage() -> None:
    cfg = with_rule(load_vee_config(), "V08", zero_run_slots=100)
    # 30 A: 0.0005 × 1500 Wh × 48 = 36 Wh a day; 60 A: 72 Wh
    small, large = make_mdms(cfg, amps=30), make_mdms(cfg, amps=60)
    day = [0] * 47 + [50]  # 50 Wh in the whole day
    small.ingest(reads(cumulative(10_000, day)))
    large.ingest(reads(cumulative(10_000, day)))
    assert "V07L" not in current(small, 0, 0)[0]["flags"]
    assert current(large, 0, 0)[0]["flags"] == ["V07L"]


def test_v08_zero_run_across_one_read_batches_of_the_a_route() -> None:
    cfg = with_rule(load_vee_config(), "V08", zero_run_slots=3, flat_run_slots=99)
    mdms = make_mdms(cfg)
    for read in cumulative(1000, [50, 0, 0, 0, 0, 60]):  # one read per batch, as the HES sends
        mdms.ingest(reads([read]))
    # the run is seen once it is 3 long, with the stored values before the batch
    assert [r["flags"] for r in current(mdms, 0, 5)] == [[], [], [], ["V08"], ["V08"], []]


def test_v07_low_day_completed_by_one_read_batches() -> None:
    cfg = with_rule(load_vee_config(), "V08", zero_run_slots=100)
    mdms = make_mdms(cfg)  # 30 A: a day at or below 36 Wh is low
    for read in cumulative(10_000, [0] * 47 + [30] + [0]):
        mdms.ingest(reads([read]))
    flags = [r["flags"] for r in current(mdms, 0, 48)]
    # the day is judged when its last value arrives; the next day has just begun
    assert flags[47] == ["V07L"] and all(f == [] for f in flags[:47] + flags[48:])
