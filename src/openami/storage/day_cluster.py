"""Clustering closed day rows point-major in windows of a few days.

Day rows arrive day by day (a day file, a packed A-route day), each day's rows in supply
point order. That serves one slot's settlement — a day's rows sit together, zone maps find
them — but one supply point's 45 days then sit in 45 places: a cold read of its month loads
a block per day and column (26-46 ms at 10⁹ values, ``shared/reference/storage-security.md``
§A1 explains the pull between the two questions). Re-writing each closed window of
``WINDOW_DAYS`` days in (supply point, day) order puts a point's days of one window next to
each other, at the price of a slot query reading its window's rows instead of its day's
(measured on 1.08 × 10⁹ values: point 28 → 6-9 ms, slot sums 28-40 → 150 ms).

Windows are aligned (JST day number // ``WINDOW_DAYS``), so that each is clustered once,
when its last day is closed. Clustering changes no row, only where rows lie: one transaction
copies the window's rows in the new order, deletes the old ones and appends the copy; after
a crash either all is done or nothing, and the views give the same rows before and after.
"""

from __future__ import annotations

from dataclasses import dataclass

from openami.clock import SLOTS_PER_DAY, day_first_slot_of, jst_day_number
from openami.storage.duckdb_interval import DuckIntervalStore

WINDOW_DAYS = 5


@dataclass(frozen=True)
class ClusterResult:
    windows: int
    rows: int


def window_of(day_first_slot: int, window_days: int = WINDOW_DAYS) -> tuple[int, int]:
    """First and last day_first_slot of the aligned window holding the day."""
    first = day_first_slot_of(day_first_slot)
    first -= jst_day_number(day_first_slot) % window_days * SLOTS_PER_DAY
    return first, first + SLOTS_PER_DAY * (window_days - 1)


def complete_windows(
    first_day_slot: int, last_day_slot: int, window_days: int = WINDOW_DAYS
) -> list[tuple[int, int]]:
    """The aligned windows that overlap the days and end on or before ``last_day_slot``."""
    out: list[tuple[int, int]] = []
    lo, hi = window_of(first_day_slot, window_days)
    while lo <= last_day_slot:
        if hi <= last_day_slot:
            out.append((lo, hi))
        lo, hi = lo + SLOTS_PER_DAY * window_days, hi + SLOTS_PER_DAY * window_days
    return out


def cluster_days(
    store: DuckIntervalStore,
    first_day_slot: int,
    last_day_slot: int,
    window_days: int = WINDOW_DAYS,
) -> ClusterResult:
    """Re-write the day rows of every complete window overlapping the days point-major."""
    windows = rows = 0
    for lo, hi in complete_windows(first_day_slot, last_day_slot, window_days):
        with store.transaction() as cur:
            found = cur.execute(
                "SELECT count(*) FROM day_rows WHERE day_first_slot BETWEEN ? AND ?", [lo, hi]
            ).fetchall()[0][0]
            if not found:
                continue
            cur.execute(
                "CREATE OR REPLACE TEMP TABLE cluster_rows AS SELECT * FROM day_rows "
                "WHERE day_first_slot BETWEEN ? AND ? ORDER BY supply_point_key, day_first_slot",
                [lo, hi],
            )
            cur.execute("DELETE FROM day_rows WHERE day_first_slot BETWEEN ? AND ?", [lo, hi])
            cur.execute(
                "INSERT INTO day_rows SELECT * FROM cluster_rows "
                "ORDER BY supply_point_key, day_first_slot"
            )
            cur.execute("DROP TABLE cluster_rows")
        windows += 1
        rows += int(found)
    if windows:
        store.checkpoint()  # drop the emptied row groups now if nobody else holds the file
    return ClusterResult(windows, rows)
