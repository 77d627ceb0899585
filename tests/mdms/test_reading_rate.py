"""The automatic reading rate by the seed's definition over the rollout (smart meters in an
open area ÷ installed meters, per area and month end) and next to the day's figure."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from openami.bus.messages import READ_SCHEMA
from openami.clock import ManualClock, day_first_slot, jst_day_start_s
from openami.mdms import Mdms
from openami.mdms.reading_rate import day_and_rollout, month_range, rollout_reading_rate
from openami.registry import Meter, Registry, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore


@pytest.fixture
def registry() -> Registry:
    registry = Registry.open(":memory:")
    # Hokkaido (full A-route opening 2017-10): points 1-2; Tokyo (2015-07): points 3-5
    ids = [make_supply_point_id("01", i) for i in (1, 2)]
    ids += [make_supply_point_id("03", i) for i in (3, 4, 5)]
    keys = registry.add_supply_points(ids)
    registry.add_meters(
        [Meter(m, "M", f"S{m}", 30, "mesh", None, date(2035, 1, 1)) for m in range(1, 7)]
    )
    registry.kinds.set_meter_kinds([(2, "conventional", 1), (5, "conventional", 1)])
    registry.install_meters(
        [(keys[i], i + 1) for i in range(5)], jst_day_start_s(date(2016, 1, 10))
    )
    # point 5's conventional meter is exchanged for smart meter 6 in 2018-03
    registry.exchange_meter(keys[4], 5, 6, jst_day_start_s(date(2018, 3, 15)))
    return registry


def test_rollout_per_area_and_month(registry: Registry) -> None:
    months = [date(2015, 12, 1), date(2016, 1, 1), date(2017, 10, 1), date(2018, 3, 1)]
    rows = {
        (r["month"], r["area_code"]): r for r in rollout_reading_rate(registry, months).to_pylist()
    }
    assert rows[(date(2015, 12, 1), "all")]["installed_meters"] == 0
    assert rows[(date(2015, 12, 1), "all")]["automatic_reading_rate"] is None
    jan = rows[(date(2016, 1, 1), "03")]  # Tokyo open: meters 3, 4 smart of 3 installed
    assert (jan["installed_meters"], jan["automatic_meters"]) == (3, 2)
    assert jan["automatic_reading_rate"] == pytest.approx(2 / 3)
    assert jan["target"] == pytest.approx(0.99)
    hokkaido = rows[(date(2016, 1, 1), "01")]  # installed, but the area is not open yet
    assert (hokkaido["installed_meters"], hokkaido["automatic_meters"]) == (2, 0)
    assert rows[(date(2017, 10, 1), "01")]["automatic_meters"] == 1  # opened 2017-10-01
    after = rows[(date(2018, 3, 1), "all")]
    assert (after["installed_meters"], after["automatic_meters"]) == (5, 4)
    assert after["target"] == pytest.approx((2 * 0.90 + 3 * 0.99) / 5)


def test_month_range() -> None:
    assert month_range(date(2015, 11, 1), date(2016, 2, 1)) == [
        date(2015, 11, 1),
        date(2015, 12, 1),
        date(2016, 1, 1),
        date(2016, 2, 1),
    ]
    with pytest.raises(ValueError, match="before the first"):
        month_range(date(2016, 2, 1), date(2015, 2, 1))


def test_the_day_next_to_the_rollout(registry: Registry) -> None:
    day = date(2026, 11, 2)
    mdms = Mdms(DuckIntervalStore(), registry, ManualClock(datetime(2026, 11, 5, tzinfo=UTC)))
    b = day_first_slot(day)
    # meter 3 (Tokyo) delivers the whole day; meter 4 only half of it
    rows = [(3, i, 1000 + 10 * i) for i in range(49)] + [(4, i, 500 + i) for i in range(25)]
    reads = pa.table(
        {
            "meter_id": [m for m, _, _ in rows],
            "boundary": [b + i for _, i, _ in rows],
            "import_register_wh": [r for _, _, r in rows],
            "export_register_wh": [0] * len(rows),
            "received_at": [0.0] * len(rows),
            "source": [0] * len(rows),
        },
        schema=READ_SCHEMA,
    )
    mdms.ingest(reads)
    by_area = {r["area_code"]: r for r in day_and_rollout(mdms, day).to_pylist()}
    tokyo = by_area["03"]
    assert tokyo["installed_meters"] == 3
    assert tokyo["automatic_reading_rate_day"] == pytest.approx(1 / 3)  # meter 3 only
    assert tokyo["automatic_reading_rate_rollout"] == pytest.approx(1.0)  # 3, 4 and 6
    assert by_area["all"]["automatic_reading_rate_rollout"] == pytest.approx(4 / 5)
