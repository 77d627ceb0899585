from datetime import date

import numpy as np

from openami.clock import day_first_slot
from openami.meter import HouseholdParams, MeterFleet, interval_energy_wh

START = day_first_slot(date(2026, 8, 1))


def test_registers_grow_by_the_load_model_energy() -> None:
    fleet = MeterFleet(np.arange(1, 51), START, seed=7, pv_share=0.5, retention_days=2)
    before_imp = fleet.import_register_wh.copy()
    fleet.advance_to(START + 48)
    imp, exp = fleet.registers_at(np.arange(50)[:, None], np.arange(START, START + 49)[None, :])
    model_imp, model_exp = interval_energy_wh(
        fleet.params, np.arange(50)[:, None], np.arange(START, START + 48)[None, :], 7
    )
    assert (imp[:, 0] == before_imp).all()
    assert (
        np.diff(imp, axis=1) == np.minimum(model_imp, fleet.contract_amperage_a[:, None] * 50)
    ).all()
    assert (np.diff(exp, axis=1) == model_exp).all()


def test_pv_meters_export_at_midday_and_not_at_night() -> None:
    fleet = MeterFleet(np.arange(1, 401), START, seed=3, pv_share=1.0, retention_days=2)
    fleet.advance_to(START + 48)
    _, exp = fleet.registers_at(np.arange(400)[:, None], np.arange(START, START + 49)[None, :])
    per_slot = np.diff(exp, axis=1).sum(axis=0)
    assert per_slot[:10].sum() == 0  # 00:00-05:00 JST
    assert per_slot[22:28].sum() > 0  # 11:00-14:00 JST


def test_model_is_deterministic_and_seed_dependent() -> None:
    ids = np.arange(1, 101)
    p1 = HouseholdParams.draw(ids, seed=5)
    a = interval_energy_wh(p1, np.arange(100), START + 20, 5)[0]
    b = interval_energy_wh(HouseholdParams.draw(ids, seed=5), np.arange(100), START + 20, 5)[0]
    c = interval_energy_wh(HouseholdParams.draw(ids, seed=6), np.arange(100), START + 20, 6)[0]
    assert (a == b).all() and not (a == c).all()


def test_log_retention_and_switch() -> None:
    fleet = MeterFleet(np.arange(1, 11), START, seed=1, retention_days=1)
    fleet.disconnect([0])
    fleet.advance_to(START + 60)
    imp, _ = fleet.registers_at([0, 0], [START + 59, START + 60])
    assert imp[0] == imp[1]  # no consumption while the switch is open
    old, _ = fleet.registers_at([1], [START + 5])
    assert old[0] == -1  # older than the 1-day retention
    assert fleet.logged([START + 12, START + 11]).tolist() == [True, False]


def test_live_registers_of_a_subset_match_the_whole_fleet() -> None:
    fleet = MeterFleet(np.arange(1, 201), START, seed=9, pv_share=0.5, retention_days=1)
    fleet.advance_to(START + 24)
    fleet.disconnect([3])
    moment_s = (START + 24) * 1800 + 1234.0
    all_imp, all_exp = fleet.live_registers_wh(np.arange(200), moment_s)
    some = np.array([3, 17, 150])
    imp, exp = fleet.live_registers_wh(some, moment_s)
    assert (imp == all_imp[some]).all() and (exp == all_exp[some]).all()
    assert imp[0] == fleet.import_register_wh[3]  # open switch: nothing added in the slot
    assert (all_imp >= fleet.import_register_wh).all()
