"""Meter exchange at 10:00 JST: the old meter's closing read and the new meter's opening read
share the boundary, so the day has 48 correct slots, no gap and no double count."""

from __future__ import annotations

import numpy as np
from tests.mdms.vee_world import B0, METER, current, make_mdms, reads

EXCHANGE_B = 20  # 10:00 JST
NEW = 8


def day_registers() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(9)
    old = 50_000 + np.concatenate([[0], np.cumsum(rng.integers(50, 900, EXCHANGE_B))])
    new = 3 + np.concatenate([[0], np.cumsum(rng.integers(50, 900, 48 - EXCHANGE_B))])
    return old, new  # old at boundaries 0…20, new at 20…48


def expected(old: np.ndarray, new: np.ndarray) -> list[int]:
    return np.concatenate([np.diff(old), np.diff(new)]).tolist()


def test_exchange_mid_day_yields_48_correct_slots() -> None:
    old, new = day_registers()
    mdms = make_mdms()
    mdms.ingest(reads([(b, int(old[b]), 0) for b in range(EXCHANGE_B)]))  # 00:00 … 09:30
    mdms.exchange_meter(1, METER, (int(old[EXCHANGE_B]), 0), NEW, (int(new[0]), 0), B0 + EXCHANGE_B)
    mdms.ingest(reads([(EXCHANGE_B + i, int(new[i]), 0) for i in range(1, 29)], meter=NEW))
    rows = current(mdms, 0, 47)
    assert len(rows) == 48 and {r["quality"] for r in rows} == {"measured"}
    got = [r["import_wh"] for r in rows]
    assert got == expected(old, new)
    # no double count: the day's energy is the old meter's share plus the new meter's
    assert sum(got) == (old[-1] - old[0]) + (new[-1] - new[0])


def test_exchange_recorded_after_the_new_meters_reads_arrived() -> None:
    old, new = day_registers()
    mdms = make_mdms()
    mdms.ingest(reads([(b, int(old[b]), 0) for b in range(EXCHANGE_B + 1)]))
    # the new meter already reports, but the registry does not know it yet: no values
    mdms.ingest(reads([(EXCHANGE_B + i, int(new[i]), 0) for i in range(29)], meter=NEW))
    assert len(current(mdms, 0, 47)) == EXCHANGE_B
    mdms.exchange_meter(1, METER, (int(old[EXCHANGE_B]), 0), NEW, (int(new[0]), 0), B0 + EXCHANGE_B)
    rows = current(mdms, 0, 47)
    assert [r["import_wh"] for r in rows] == expected(old, new)
    assert {r["version"] for r in rows} == {1}


def test_exchange_needs_the_old_meter_installed() -> None:
    mdms = make_mdms()
    try:
        mdms.exchange_meter(1, NEW, (0, 0), METER, (0, 0), B0 + EXCHANGE_B)
    except ValueError as exc:
        assert "no open installation" in str(exc)
    else:
        raise AssertionError("exchanging a meter that is not installed was accepted")
