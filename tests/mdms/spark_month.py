"""A generated month for comparing the settlement and billing engines (DuckDB, Spark).

``build_month(points, days, shared_uri)``: an MDMS (in-memory registry, DuckDB store) with
``points`` supply points in two areas, three retailers in two balancing groups, a month of
half-hour register reads and, on purpose, every rule the sums must get right:

- gaps (missing reads), estimated for the first part of the month only, so later days
  keep missing values;
- later versions: manual edits (edited), a corrected read that makes a value invalid;
- a meter exchange mid-month (old meter's closing and new meter's opening reads);
- a switch of retailer mid-month (point-in-time membership);
- meters whose certification expires mid-month (not billable, V12), one within the final
  days;
- the first days declared final;
- the values published to the shared interval store, the first days compacted into day
  files (and edited afterwards, so a day has day rows and newer tick rows).

Used by tests/mdms/test_spark_engine.py and benchmarks/bench_spark_settlement.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from openami.bus.messages import READ_SCHEMA
from openami.clock import ManualClock, day_first_slot
from openami.clock.slots import SLOT_SECONDS
from openami.mdms import Mdms
from openami.registry import BalancingGroup, Meter, Registry, Retailer, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.shared_values import SINGLE_SOURCE, SharedValueStore

FIRST_DAY = date(2026, 11, 1)
SWITCH_DAY = date(2026, 11, 12)  # points 0…9 move from R1 to R3
EXCHANGE_DAY_INDEX = 9  # point 20's meter is exchanged at 10:00 JST of day 10
EXPIRY = date(2026, 11, 20)  # meters of points 30…34: certification expires
EARLY_EXPIRY = date(2026, 11, 3)  # point 35's meter: within the final days
ESTIMATED_DAYS = 18  # gaps of the first days are estimated, later ones stay missing
FINAL_DAYS = 7
COMPACTED_DAYS = 5
NEW_METER = 900_000


@dataclass
class Month:
    mdms: Mdms
    keys: list[int]
    days: list[date]
    shared: SharedValueStore

    @property
    def last_day(self) -> date:
        return self.days[-1]


def _registry(points: int) -> tuple[Registry, list[int]]:
    registry = Registry.open(":memory:")
    registry.add_balancing_groups([BalancingGroup("BG1", "one"), BalancingGroup("BG2", "two")])
    registry.add_retailers(
        [Retailer("R1", "r1", "BG1"), Retailer("R2", "r2", "BG1"), Retailer("R3", "r3", "BG2")]
    )
    ids = [make_supply_point_id("03" if i % 3 else "04", 1 + i) for i in range(points)]
    keys = registry.add_supply_points(ids)
    expiry = {i: EXPIRY for i in range(30, 35)} | {35: EARLY_EXPIRY}
    registry.add_meters(
        [
            Meter(1 + i, "M", f"S{i}", 30, "mesh", None, expiry.get(i, date(2031, 1, 1)))
            for i in range(points)
        ]
        + [Meter(NEW_METER, "M", "NEW", 30, "mesh", None, date(2036, 1, 1))]
    )
    registry.install_meters([(k, 1 + i) for i, k in enumerate(keys)], 0.0)
    contracts: list[tuple[int, str, date, date | None]] = []
    for i, k in enumerate(keys):
        retailer = ("R1", "R2", "R3")[i % 3] if i >= 10 else "R1"
        if i < 10:  # the switch
            contracts += [(k, "R1", date(2026, 1, 1), SWITCH_DAY), (k, "R3", SWITCH_DAY, None)]
        elif i % 17 != 5:  # a few points have no retailer: in no settlement sum
            contracts.append((k, retailer, date(2026, 1, 1), None))
    registry.add_supply_contracts(contracts)
    return registry, keys


def _reads(meters: np.ndarray, boundaries: np.ndarray, registers: np.ndarray) -> pa.Table:
    """Reads of ``meters`` (rows of ``registers``) at ``boundaries`` (its columns)."""
    m = np.repeat(meters, len(boundaries))
    b = np.tile(boundaries, len(meters))
    return pa.table(
        {
            "meter_id": m,
            "boundary": b,
            "import_register_wh": registers.reshape(-1),
            "export_register_wh": (registers.reshape(-1) // 10),
            "received_at": (b * SLOT_SECONDS + 120).astype(np.float64),
            "source": np.zeros(len(m), dtype=np.int64),
        },
        schema=READ_SCHEMA,
    )


def build_month(points: int, days: int, shared_uri: str | Path, seed: int = 7) -> Month:
    """The world described in the module docstring, published to ``shared_uri``."""
    rng = np.random.default_rng(seed)
    registry, keys = _registry(points)
    month = [FIRST_DAY + timedelta(days=d) for d in range(days)]
    clock = ManualClock(datetime.combine(month[-1] + timedelta(days=5), datetime.min.time(), UTC))
    mdms = Mdms(DuckIntervalStore(), registry, clock)
    first = day_first_slot(FIRST_DAY)
    n_bound = days * 48 + 1
    steps = rng.integers(20, 900, (points, n_bound - 1))
    registers = 10_000 + np.concatenate(
        [np.zeros((points, 1), np.int64), np.cumsum(steps, axis=1)], axis=1
    )
    keep = rng.random((points, n_bound)) > 0.01  # ~1 % of reads never arrive
    keep[:, 0] = True
    exchange_b = EXCHANGE_DAY_INDEX * 48 + 20
    meters = np.arange(1, points + 1, dtype=np.int64)
    for d in range(days):  # one ingest per day: the day's boundaries 1…48 (and 0 first)
        lo = 0 if d == 0 else d * 48 + 1
        hi = (d + 1) * 48
        span = np.arange(lo, hi + 1)
        batch = _reads(meters, first + span, registers[:, lo : hi + 1])
        mask = keep[:, lo : hi + 1].reshape(-1).copy()
        after_exchange = (np.repeat(meters, len(span)) == 21) & (np.tile(span, points) > exchange_b)
        mask &= ~after_exchange  # the old meter of point 20 is gone
        mdms.ingest(batch.filter(pa.array(mask)))
        if d == EXCHANGE_DAY_INDEX:
            _exchange(mdms, keys[20], registers[20], first, exchange_b, days)
    _versions(mdms, keys, first, days, registers)
    est_last = first + min(ESTIMATED_DAYS, days) * 48 - 1
    mdms.estimate(first, est_last, user="month")
    mdms.finalize(first, first + min(FINAL_DAYS, days) * 48 - 1, "month")
    shared = SharedValueStore(shared_uri)
    shared.publish_new(mdms.store, SINGLE_SOURCE)
    for day in month[:COMPACTED_DAYS]:
        shared.compact_day(day)
    shared.build_windows()  # point-major copies of the day rows: the sums must skip them
    # edits after the compaction: day files and newer tick rows on the same day
    mdms.edit(keys[3], [first + 5, first + 6], [111, 222], [0, 0], "fay", "after compaction")
    shared.publish_new(mdms.store, SINGLE_SOURCE)
    return Month(mdms, keys, month, shared)


def _exchange(
    mdms: Mdms, key: int, registers: np.ndarray, first: int, at_b: int, days: int
) -> None:
    """Point 20's meter 21 is replaced by NEW_METER at boundary ``at_b``; the new meter's
    reads follow to the month's end."""
    closing = int(registers[at_b])
    mdms.exchange_meter(key, 21, (closing, closing // 10), NEW_METER, (500, 50), first + at_b)
    span = np.arange(at_b + 1, days * 48 + 1)
    new_regs = 500 + (registers[at_b + 1 :] - closing)
    mdms.ingest(_reads(np.array([NEW_METER]), first + span, new_regs[None, :]))


def _versions(mdms: Mdms, keys: list[int], first: int, days: int, registers: np.ndarray) -> None:
    """Later versions: edits (quality edited) and a corrected read that turns a measured
    value invalid (a register going backwards)."""
    for i in (1, 2, 40):
        slots = [first + 48 * d + 30 for d in range(0, days, 3)]
        mdms.edit(keys[i], slots, [700] * len(slots), [0] * len(slots), "fay", "test edits")
    b = 60
    bad = _reads(np.array([51]), np.array([first + b]), np.array([[int(registers[50, b]) - 5000]]))
    mdms.ingest(bad)
