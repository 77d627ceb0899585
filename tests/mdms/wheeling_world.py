"""A small MDMS world for wheeling charges: supply points in Hokkaido (01) and Tokyo (03)
with chosen reading-day codes, contracts and hand-made half-hour values."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa

from openami.bus.messages import READ_SCHEMA
from openami.clock import SLOTS_PER_DAY, ManualClock, day_first_slot
from openami.mdms import Mdms
from openami.registry import BalancingGroup, Meter, Registry, Retailer, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore

#: (area, reading-day code, contract amperage) of supply points 1, 2, 3, …
POINTS = [("01", 1, 30), ("01", 5, 40), ("03", 1, 30), ("03", 17, 60)]


def make_world(points: list[tuple[str, int, int]] = POINTS) -> Mdms:
    """Points with meters 101, 102, … (installed since the epoch), all supplied by R1 from
    2020-01-01, in balancing group BG1; retailer R2 exists too."""
    registry = Registry.open(":memory:")
    ids = [make_supply_point_id(area, i + 1) for i, (area, _, _) in enumerate(points)]
    keys = registry.add_supply_points(ids)
    registry.set_reading_days([(k, code) for k, (_, code, _) in zip(keys, points, strict=True)])
    registry.add_meters(
        [
            Meter(100 + k, "Toshiba", f"S{k}", amps, "mesh", None, date(2035, 1, 1))
            for k, (_, _, amps) in zip(keys, points, strict=True)
        ]
    )
    registry.install_meters([(k, 100 + k) for k in keys], 0.0)
    registry.add_balancing_groups([BalancingGroup("BG1", "group")])
    registry.add_retailers([Retailer("R1", "one", "BG1"), Retailer("R2", "two", "BG1")])
    registry.add_supply_contracts([(k, "R1", date(2020, 1, 1), None) for k in keys])
    clock = ManualClock(datetime(2026, 12, 1, tzinfo=UTC))
    return Mdms(DuckIntervalStore(), registry, clock)


def day_reads(meter_id: int, first_day: date, values_wh: np.ndarray) -> pa.Table:
    """Register reads of ``meter_id`` whose half-hour differences are ``values_wh`` (48 per
    day, from ``first_day`` 00:00 JST), starting from 10 kWh; each day's reads arrive
    together an hour after the day ends (a day file)."""
    b0 = day_first_slot(first_day)
    regs = 10_000 + np.concatenate([[0], np.cumsum(values_wh)]).astype(np.int64)
    n = len(regs)
    boundaries = b0 + np.arange(n, dtype=np.int64)
    return pa.table(
        {
            "meter_id": np.full(n, meter_id, np.int64),
            "boundary": boundaries,
            "import_register_wh": regs,
            "export_register_wh": np.zeros(n, np.int64),
            "received_at": ((boundaries - 1 - b0) // SLOTS_PER_DAY + 1) * 86400.0
            + b0 * 1800.0
            + 3600.0,
            "source": np.zeros(n, np.uint8),
        },
        schema=READ_SCHEMA,
    )


def flat(days: int, wh: int = 100) -> np.ndarray:
    return np.full(days * SLOTS_PER_DAY, wh, dtype=np.int64)


def ingest_days(mdms: Mdms, meter_id: int, first_day: date, values_wh: np.ndarray) -> None:
    """The opening read, then the day files: whole meter-days become day rows."""
    reads = day_reads(meter_id, first_day, values_wh)
    mdms.ingest(reads.slice(0, 1))
    mdms.ingest(reads.slice(1))
