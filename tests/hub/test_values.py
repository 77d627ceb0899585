"""The C route's filters and daily sums over current values (columns, no SQL)."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from openami.clock import day_first_slot
from openami.hub.values import daily_sums, in_ranges, recorded_after

DAY = date(2026, 11, 1)
S0 = day_first_slot(DAY)


def _values() -> pa.Table:
    # day 1: slots 0-2 (one missing value); day 2: slots 0-1 with no import at all
    return pa.table(
        {
            "slot": pa.array([S0, S0 + 1, S0 + 2, S0 + 48, S0 + 49], pa.int64()),
            "import_wh": pa.array([100, None, 250, None, None], pa.int64()),
            "export_wh": pa.array([5, None, 0, 7, None], pa.int64()),
            "quality": ["measured", "missing", "estimated", "edited", "missing"],
            "final": [True, True, False, True, True],
            "recorded_at": [10.0, 30.0, 20.0, 40.0, 15.0],
        }
    )


def test_daily_sums_follow_sql_sum_semantics() -> None:
    rows = daily_sums(_values()).to_pylist()
    assert [r["day"] for r in rows] == [DAY, date(2026, 11, 2)]
    first, second = rows
    assert (first["import_wh"], first["export_wh"], first["values_present"]) == (350, 5, 2)
    assert (first["measured"], first["estimated"], first["edited"]) == (1, 1, 0)
    assert (first["final_slots"], first["updated_at"]) == (2, 30.0)
    # no import value at all: the sum is null, not 0; export keeps its one value
    assert (second["import_wh"], second["export_wh"], second["values_present"]) == (None, 7, 0)
    assert (second["edited"], second["final_slots"], second["updated_at"]) == (1, 2, 40.0)
    # updated-since keeps the days recorded later, with their whole sums
    later = daily_sums(_values(), updated_since_s=35.0).to_pylist()
    assert later == [second]
    assert daily_sums(_values().slice(0, 0)).num_rows == 0


def test_ranges_and_recording_filters() -> None:
    values = _values()
    ranges = pa.table({"first_slot": [S0 + 1, S0 + 49], "last_slot": [S0 + 1, S0 + 60]})
    inside = in_ranges(values.column("slot").to_numpy(), ranges)
    assert inside.tolist() == [False, True, False, False, True]
    assert recorded_after(values, 20.0).column("slot").to_pylist() == [S0 + 1, S0 + 48]
    assert recorded_after(values, None) is values
