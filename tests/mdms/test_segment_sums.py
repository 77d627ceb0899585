"""Billing determinants per segment equal the current values summed one by one
(``Mdms.current_values``), whichever layout holds them: clean day rows (values from their
lists), day rows with later versions (edits), day rows with estimates inside, and narrow
values only (A-route ticks, partial days)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
from tests.mdms.wheeling_world import day_reads, ingest_days, make_world

from openami.clock import SLOTS_PER_DAY, day_first_slot
from openami.clock.calendar import holiday_flags
from openami.mdms import Mdms
from openami.mdms.billing import segment_determinants

FIRST, LAST = date(2026, 9, 18), date(2026, 9, 27)  # holidays 19-23 and 26-27
DAY_BAND = (14, 45)  # 07:00-23:00


def expected(mdms: Mdms, key: int, first_slot: int, last_slot: int) -> dict[str, int]:
    """The determinants from the current values of one point, in NumPy."""
    t = mdms.current_values(key, first_slot, last_slot)
    slot = t.column("slot").to_numpy()
    imp = t.column("import_wh").to_numpy(zero_copy_only=False).astype(float)
    quality = np.array(t.column("quality").to_pylist())
    has = ~np.isnan(imp)
    imp0 = np.nan_to_num(imp).astype(np.int64)
    day_index = (slot - day_first_slot(FIRST)) // SLOTS_PER_DAY
    holiday = holiday_flags(FIRST, LAST)[day_index]
    of_day = (slot - day_first_slot(FIRST)) % SLOTS_PER_DAY
    band = (of_day >= DAY_BAND[0]) & (of_day <= DAY_BAND[1])
    return {
        "import_wh": int(imp0.sum()),
        "day_import_wh": int(imp0[band & ~holiday].sum()),
        "night_import_wh": int(imp0[~band].sum()),
        "holiday_import_wh": int(imp0[band & holiday].sum()),
        "max_demand_w": int(imp0.max(initial=0)) * 2,
        "missing_slots": int(last_slot - first_slot + 1 - has.sum()),
        "estimated_slots": int((has & (quality != "measured")).sum()),
    }


def test_every_layout_sums_like_the_current_values() -> None:
    mdms = make_world([("03", 1, 30)] * 4)
    rng = np.random.default_rng(11)
    days = (LAST - FIRST).days + 1
    # 1: clean day rows; 2: day rows, then edits (later versions, narrow)
    for meter in (101, 102):
        ingest_days(mdms, meter, FIRST, rng.integers(0, 800, days * 48))
    b = day_first_slot(FIRST)
    mdms.edit(2, [b + 20, b + 5 * 48 + 30], [5000, 1], [0, 0], "fay", "test edits")
    # 3: a day file with a gap inside (estimated values in the day rows)
    gappy = day_reads(103, FIRST, rng.integers(0, 800, days * 48))
    keep = np.ones(gappy.num_rows, bool)
    keep[100:104] = False
    mdms.ingest(gappy.slice(0, 1))
    mdms.ingest(gappy.filter(pa.array(keep)).slice(1))
    # 4: ticks, one boundary per batch, for the first two days only (narrow values)
    ticks = day_reads(104, FIRST, rng.integers(0, 800, 2 * 48))
    for i in range(ticks.num_rows):
        mdms.ingest(ticks.slice(i, 1))
    first_slot = day_first_slot(FIRST)
    last_slot = day_first_slot(LAST) + SLOTS_PER_DAY - 1
    mdms.estimate(first_slot, last_slot, user="test")  # the gap of point 3: later versions
    segments = pa.table(
        {
            "segment_id": pa.array([0, 1, 2, 3, 4], pa.int64()),
            "supply_point_key": pa.array([1, 2, 3, 4, 1], pa.int64()),
            "first_slot": pa.array([first_slot] * 4 + [first_slot + 3 * 48], pa.int64()),
            "last_slot": pa.array([last_slot] * 4 + [first_slot + 6 * 48 - 1], pa.int64()),
        }
    )
    layouts = mdms.store.query(
        "SELECT supply_point_key AS k, count(*) AS n, count(qcode) AS with_qcode, "
        "count(max_import_wh) AS with_max FROM day_rows GROUP BY ALL ORDER BY k"
    ).to_pylist()
    assert all(r["with_max"] == r["n"] for r in layouts)  # the day's maximum, stored
    assert [(r["k"], r["n"]) for r in layouts] == [(1, days), (2, days), (3, days)]
    assert layouts[2]["with_qcode"] > 0  # the gap's day rows keep their qualities
    got = segment_determinants(mdms.store, segments, FIRST, LAST).to_pylist()
    assert [row["segment_id"] for row in got] == [0, 1, 2, 3, 4]
    for row, seg in zip(got, segments.to_pylist(), strict=True):
        want = expected(mdms, seg["supply_point_key"], seg["first_slot"], seg["last_slot"])
        assert {k: row[k] for k in want} == want, seg
    assert got[1]["max_demand_w"] == 10_000  # the 5,000 Wh edit
    # day rows written before their maximum was stored: computed from their lists
    with mdms.store.transaction() as cur:
        cur.execute("UPDATE day_rows SET max_import_wh = NULL")
    assert segment_determinants(mdms.store, segments, FIRST, LAST).to_pylist() == got
    assert got[2]["estimated_slots"] > 0  # the estimated gap, versions over a day row
    assert got[3]["estimated_slots"] + got[3]["missing_slots"] >= 8 * 48  # no ticks there
