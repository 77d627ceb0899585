"""The registry look-ups of the VEE ingest (``mdms/indexes.py``): narrow arrays (int32
slots and keys, per-class meter parameters) that answer exactly as per-meter int64 arrays
would."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from openami.mdms.indexes import SLOT_BITS, InstallIndex, MeterIndex, narrowest_int
from openami.mdms.vee_config import load_vee_config

_SLOT_S = 1800.0


def _installs(meter: np.ndarray, key: np.ndarray, first: np.ndarray, stop: np.ndarray) -> pa.Table:
    return pa.table(
        {
            "meter_id": meter,
            "supply_point_key": key,
            "valid_from": first * _SLOT_S,
            "valid_to": pa.array(stop * _SLOT_S, mask=stop < 0),
        }
    )


def _reference_lookup(table: pa.Table, meter_id: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """Row by row: the key of the installation covering (meter, slot), else -1."""
    rows = table.to_pylist()
    out = []
    for m, s in zip(meter_id.tolist(), slot.tolist(), strict=True):
        hit = -1
        for r in rows:
            end = np.inf if r["valid_to"] is None else r["valid_to"]
            if r["meter_id"] == m and r["valid_from"] <= s * _SLOT_S and (s + 1) * _SLOT_S <= end:
                hit = r["supply_point_key"]
        out.append(hit)
    return np.array(out, dtype=np.int64)


def test_dense_index_keeps_no_meter_column_and_narrow_keys() -> None:
    n = 1000
    ids = np.arange(500, 500 + n, dtype=np.int64)
    index = InstallIndex(_installs(ids, ids * 3, np.zeros(n), np.full(n, -1.0)))
    assert index.key.dtype == np.int32 and index.first.dtype == np.int32
    assert len(index.meter) == 0 and len(index) == n
    assert index.nbytes() == 12 * n
    got = index.lookup(np.array([499, 500, 1499, 1500]), np.full(4, 10))
    assert got.dtype == np.int64
    assert got.tolist() == [-1, 1500, 4497, -1]
    run = index.lookup_run(ids[10:20], 10)
    assert run is not None and run.dtype == np.int64
    assert run.tolist() == (ids[10:20] * 3).tolist()


def test_keys_beyond_int32_stay_exact() -> None:
    big = np.array([2**40 + 1, 2**40 + 2, 5], dtype=np.int64)
    assert narrowest_int(big).dtype == np.int64
    assert narrowest_int(np.array([-(2**31), 2**31 - 1])).dtype == np.int32
    index = InstallIndex(_installs(np.array([1, 2, 3]), big, np.zeros(3), np.full(3, -1.0)))
    assert index.key.dtype == np.int64
    assert index.lookup(np.array([1, 2, 3]), np.full(3, 7)).tolist() == big.tolist()
    run = index.lookup_run(np.array([1, 2, 3]), 7)
    assert run is not None and run.tolist() == big.tolist()


def test_lookups_match_a_row_by_row_reference() -> None:
    rng = np.random.default_rng(3)
    # meter exchanges and moves: several installations per meter, gaps between them
    meter = np.repeat(np.arange(0, 40, 2, dtype=np.int64), 3)
    first = np.tile(np.array([0, 100, 250], dtype=np.float64), 20)
    stop = np.tile(np.array([90, 240, -1], dtype=np.float64), 20)
    key = rng.permutation(len(meter)).astype(np.int64) + 7
    table = _installs(meter, key, first, stop)
    index = InstallIndex(table)
    assert len(index.meter) == len(meter)  # not dense: searched
    q_meter = rng.integers(-1, 42, 400)
    q_slot = rng.integers(0, 400, 400)
    want = _reference_lookup(table, q_meter, q_slot)
    assert index.lookup(q_meter, q_slot).tolist() == want.tolist()
    assert index.lookup_run(np.arange(0, 5), 3) is None
    assert int(index.stop.max()) <= 2**SLOT_BITS


def test_meter_parameters_per_class_match_per_meter() -> None:
    cfg = load_vee_config()
    d = cfg.meter_defaults
    rng = np.random.default_rng(5)
    n = 5000
    ids = rng.permutation(n).astype(np.int64) + 100
    digits = pa.array(rng.choice([6, 8, 9], n).astype(np.int64), mask=rng.random(n) < 0.1)
    unit = rng.choice([1, 10], n).astype(np.int64)
    amps = pa.array(rng.choice([30.0, 40.0, 60.0], n), mask=rng.random(n) < 0.1)
    mult = rng.choice([1, 40, 600], n).astype(np.int64)
    table = pa.table(
        {
            "meter_id": ids,
            "register_digits": digits,
            "register_unit_wh": unit,
            "contract_amperage_a": amps,
            "multiplier": mult,
        }
    )
    index = MeterIndex(table, cfg)
    assert index.code.dtype == np.uint8 and len(index) == n
    assert len(index.ids) == 0  # IDs 100 … 5099 without holes
    assert index.nbytes() < 2 * n
    query = np.sort(rng.integers(50, n + 150, 3000))
    got = index.params(query)
    volts = d.get("supply_voltage_v", 100)
    dig = np.asarray(pa.compute.fill_null(digits, d.get("register_digits", 9)).to_numpy())
    amp = np.asarray(pa.compute.fill_null(amps, d.get("contract_amperage_a", 60)).to_numpy())
    pos = {int(m): i for i, m in enumerate(ids)}
    for j, m in enumerate(query.tolist()):
        if m in pos:
            i = pos[m]
            want = (10 ** int(dig[i]) * unit[i], mult[i], amp[i] * volts * 0.5 * mult[i], unit[i])
        else:
            dm = d.get("multiplier", 1)
            want = (
                10 ** d.get("register_digits", 9) * d.get("register_unit_wh", 1),
                dm,
                d.get("contract_amperage_a", 60) * volts * 0.5 * dm,
                d.get("register_unit_wh", 1),
            )
        have = (got.modulus_wh[j], got.multiplier[j], got.capacity_wh[j], got.unit_wh[j])
        assert have == want, (m, have, want)
    run = index.params_run(np.arange(200, 300, dtype=np.int64))
    assert run is not None
    whole = index.params(np.arange(200, 300, dtype=np.int64))
    assert run.modulus_wh.tolist() == whole.modulus_wh.tolist()
    assert run.capacity_wh.tolist() == whole.capacity_wh.tolist()
