""" "A meter is installed during the slot" is one rule: ``clock.slots_within`` (NumPy, with
``mdms.indexes.installed_slots`` / ``installed_during`` on installation tables) and
``slot_sql.installed`` (SQL) give the same answer for every (installation, slot)."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from openami.clock import SLOT_SECONDS, slot_end_s, slot_start_s, slots_within
from openami.mdms.indexes import InstallIndex, installed_during, installed_slots
from openami.storage.slot_sql import installed

S0 = 1_000_000  # a slot index (2027)
SLOTS = np.arange(S0 - 4, S0 + 12, dtype=np.int64)


def _installations(seed: int) -> pa.Table:
    """Periods starting and ending on boundaries, inside slots, a second either side of a
    boundary, within one slot, and open-ended ones."""
    rng = np.random.default_rng(seed)
    n = 400
    base = (S0 + rng.integers(-3, 9, n)) * float(SLOT_SECONDS)
    jitter = rng.choice([0.0, 0.5, 1.0, -1.0, 900.0, 1799.0], n)
    valid_from = base + jitter
    length = rng.choice([1.0, 600.0, 1800.0, 1801.0, 3599.0, 3600.0, 5400.0, 9000.0], n)
    valid_to = np.where(rng.random(n) < 0.2, np.nan, valid_from + length)
    return pa.table(
        {
            "meter_id": np.arange(1, n + 1, dtype=np.int64),
            "supply_point_key": np.arange(1, n + 1, dtype=np.int64) % 37,
            "valid_from": valid_from,
            "valid_to": pa.array(valid_to, pa.float64(), from_pandas=True),  # NaN → NULL
        }
    )


def _sql_installed(inst: pa.Table, last_offset: int = 0) -> np.ndarray:
    """``slot_sql.installed`` per (installation, slot), as a matrix."""
    con = duckdb.connect()
    con.register("inst", inst)
    con.register("slots", pa.table({"slot": SLOTS}))
    rows = con.sql(
        f"""
        SELECT i.meter_id, s.slot, {installed("i", "s.slot", f"s.slot + {last_offset}")} AS hit
        FROM inst i, slots s ORDER BY i.meter_id, s.slot
        """
    ).fetchall()
    return np.array([r[2] for r in rows], dtype=bool).reshape(inst.num_rows, len(SLOTS))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_numpy_and_sql_agree_for_every_installation_and_slot(seed: int) -> None:
    inst = _installations(seed)
    first, stop = installed_slots(inst)
    numpy_side = (first[:, None] <= SLOTS[None, :]) & (SLOTS[None, :] < stop[:, None])
    sql_side = _sql_installed(inst)
    assert np.array_equal(numpy_side, sql_side)
    assert 0 < numpy_side.sum() < numpy_side.size  # the cases are mixed
    # the definition: the slot lies wholly inside [valid_from, valid_to)
    vf = inst.column("valid_from").to_numpy()
    vt = np.nan_to_num(inst.column("valid_to").to_numpy(zero_copy_only=False), nan=np.inf)
    wholly = (slot_start_s(SLOTS)[None, :] >= vf[:, None]) & (
        slot_end_s(SLOTS)[None, :] <= vt[:, None]
    )
    assert np.array_equal(numpy_side, wholly)


def test_a_range_of_slots_in_sql_is_every_slot_and_in_numpy_any_slot() -> None:
    inst = _installations(4)
    every_of_two = _sql_installed(inst, last_offset=1)
    single = _sql_installed(inst)
    assert np.array_equal(every_of_two[:, :-1], single[:, :-1] & single[:, 1:])
    for j, slot in enumerate(SLOTS[:-1]):
        any_of_two = installed_during(inst, int(slot), int(slot) + 1)
        assert np.array_equal(any_of_two, single[:, j] | single[:, j + 1])


def test_the_install_index_uses_the_rule() -> None:
    inst = _installations(5).filter(pa.array(np.arange(400) % 7 == 0))  # one period per meter
    index = InstallIndex(inst)
    meters = inst.column("meter_id").to_numpy()
    keys = inst.column("supply_point_key").to_numpy()
    single = _sql_installed(inst)
    for j, slot in enumerate(SLOTS):
        got = index.lookup(meters, np.full(len(meters), slot, dtype=np.int64))
        assert np.array_equal(got, np.where(single[:, j], keys, -1))


def test_open_and_empty_periods() -> None:
    first, stop = slots_within([0.0, 900.0, 1800.0], [np.inf, 1799.0, np.nan])
    assert first.tolist() == [0, 1, 1]
    assert stop[1] <= first[1]  # inside one slot: no slot
    assert stop[0] > 2**40 and stop[2] > 2**40  # open-ended
