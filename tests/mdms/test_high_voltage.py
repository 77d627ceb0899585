"""High-voltage points: 30-minute demand, monthly maximum demand and the contract kW under
実量制 (the largest maximum of the month and the 11 before it)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pytest

from openami.bus.messages import READ_SCHEMA
from openami.clock import ManualClock, day_first_slot
from openami.mdms import Mdms
from openami.mdms.conventional import set_meter_kinds
from openami.mdms.high_voltage import (
    HighVoltage,
    HighVoltageError,
    contract_kw,
    demand_kw,
    month_starts,
)
from openami.registry import Meter, Registry, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore


def test_demand_and_the_contract_rule() -> None:
    np.testing.assert_allclose(demand_kw(np.array([0, 50_000, 75_250])), [0.0, 100.0, 150.5])
    assert contract_kw([120.0]) == 120
    # the month's own maximum is lower: the largest of the last 12 months wins
    assert contract_kw([300.0, *([100.0] * 10), 180.4, 90.0]) == 180  # 300 is 13 months back
    assert contract_kw([100.0] * 11 + [180.5]) == 181  # rounded half up
    with pytest.raises(HighVoltageError):
        contract_kw([])
    with pytest.raises(HighVoltageError):
        contract_kw([10.0, -1.0])
    assert month_starts(date(2026, 2, 1), 3) == [
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]


@pytest.fixture
def world() -> tuple[Mdms, HighVoltage]:
    registry = Registry.open(":memory:")
    keys = registry.add_supply_points([make_supply_point_id("04", i) for i in (1, 2)])
    registry.add_meters(
        [Meter(m, "M", f"S{m}", 30, "mesh", None, date(2030, 1, 1)) for m in (1, 2)]
    )
    registry.install_meters([(keys[0], 1), (keys[1], 2)], 0.0)
    registry.kinds.set_point_classes([(keys[0], "high", "industrial")])
    registry.kinds.set_meter_kinds([(1, "smart", 40)])
    mdms = Mdms(DuckIntervalStore(), registry, ManualClock(datetime(2026, 12, 5, tzinfo=UTC)))
    return mdms, HighVoltage(mdms, registry)


def test_contract_kw_follows_the_last_twelve_maxima(world: tuple[Mdms, HighVoltage]) -> None:
    mdms, hv = world
    # a peak in each month from 2025-12 to 2026-11: 2026-03 has the year's largest
    peaks_wh = {m: 40_000 + 1_000 * i for i, m in enumerate(month_starts(date(2026, 11, 1), 12))}
    peaks_wh[date(2026, 3, 1)] = 110_300  # 220.6 kW
    peaks_wh[date(2024, 12, 1)] = 200_000  # 400 kW, but 23 months back: not counted
    slots = [day_first_slot(m) + 20 for m in peaks_wh]
    mdms.edit(1, slots, list(peaks_wh.values()), [None] * len(slots), "test", "peaks")
    base = day_first_slot(date(2026, 11, 1))
    mdms.edit(1, [base + 30, base + 31], [10_000, 12_000], [None, None], "test", "more")
    result = hv.contract(1, date(2026, 11, 17))
    assert result.month == date(2026, 11, 1)
    assert result.contract_kw == 221
    assert result.max_demand_kw == pytest.approx(2 * 51_000 / 1000)
    assert result.months[0].month == date(2025, 12, 1)
    november = result.months[-1]
    assert (november.energy_wh, november.slots_with_value) == (51_000 + 22_000, 3)
    assert november.slots_in_month == 30 * 48
    assert not result.negotiated
    empty = hv.contract(1, date(2024, 6, 1))  # months without values: 0 kW
    assert empty.contract_kw == 0 and empty.months[0].slots_with_value == 0


def test_only_high_voltage_points_have_a_demand_contract(world: tuple[Mdms, HighVoltage]) -> None:
    _, hv = world
    with pytest.raises(HighVoltageError, match="not high voltage"):
        hv.contract(2, date(2026, 11, 1))


def test_a_route_values_of_a_transformer_operated_meter_are_multiplied(
    world: tuple[Mdms, HighVoltage],
) -> None:
    mdms, _ = world
    set_meter_kinds(mdms, [(1, "smart", 40)])
    assert mdms.registry.kinds.meter_kinds([1]).column("multiplier").to_pylist() == [40]
    b = day_first_slot(date(2026, 11, 2))
    reads = pa.table(
        {
            "meter_id": [1] * 5,
            "boundary": [b + i for i in range(5)],
            "import_register_wh": [10_000 + 1_000 * i for i in range(5)],  # secondary side
            "export_register_wh": [0] * 5,
            "received_at": [0.0] * 5,
            "source": [0] * 5,
        },
        schema=READ_SCHEMA,
    )
    mdms.ingest(reads)
    values = mdms.current_values(1, b, b + 3)
    assert values.column("import_wh").to_pylist() == [40_000] * 4  # 1 kWh × 40
    assert set(values.column("quality").to_pylist()) == {"measured"}
