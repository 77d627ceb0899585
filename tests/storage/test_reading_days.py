"""Reading-day codes of supply points (both engines): set, replaced, refused when out of
range or for unknown points; points without a code get the seed's assignment."""

from __future__ import annotations

import pytest

from openami.registry import Registry, RegistryError, make_supply_point_id
from openami.storage.repositories import Database


def test_codes_are_stored_replaced_and_defaulted(database: Database) -> None:
    registry = Registry(database)
    keys = registry.add_supply_points([make_supply_point_id("01", i) for i in range(1, 5)])
    registry.set_reading_days([(keys[0], 5), (keys[1], 17)])
    registry.set_reading_days([(keys[0], 9)])  # replaces 5
    table = registry.reading_days_table()
    assert table.column("supply_point_key").to_pylist() == keys
    assert table.column("area_code").to_pylist() == ["01"] * 4
    # keys 3 and 4 have none stored: the seed's assignment (key 3 → 3, key 4 → 4)
    assert table.column("reading_day_code").to_pylist() == [9, 17, 3, 4]


def test_bad_codes_and_unknown_points_are_refused(database: Database) -> None:
    registry = Registry(database)
    (key,) = registry.add_supply_points([make_supply_point_id("03", 1)])
    with pytest.raises(RegistryError, match="reading-day codes are 1 … 17"):
        registry.set_reading_days([(key, 18)])
    with pytest.raises(RegistryError):
        registry.set_reading_days([(key + 100, 3)])
    registry.set_reading_days([(key, 2)])
    with pytest.raises(RegistryError):  # all or nothing: the good row is not kept either
        registry.set_reading_days([(key, 4), (key + 100, 3)])
    assert registry.reading_days_table().column("reading_day_code").to_pylist() == [2]
