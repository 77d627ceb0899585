"""A-route opening dates per area (部分・全面開通) and the one rule of when a supply point
gets half-hour data: the later of its area's full opening and its smart meter."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from openami.clock import SLOT_SECONDS, jst_day_start_s
from openami.registry import Meter, Registry, make_supply_point_id
from openami.registry.opening import ALWAYS_OPEN, HalfHourService, load_openings, parse_opening


def test_the_seed_spellings() -> None:
    assert parse_opening("2016-04") == date(2016, 4, 1)
    assert parse_opening("2015-H1") == date(2015, 4, 1)  # fiscal first half: from April
    assert parse_opening("2015-H2") == date(2015, 10, 1)
    assert parse_opening("in-operation") == ALWAYS_OPEN
    assert parse_opening(" ") is None
    with pytest.raises(ValueError, match="cannot read opening date"):
        parse_opening("spring 2016")


def test_shipped_openings_match_the_seed() -> None:
    openings = load_openings()
    assert sorted(openings) == [f"{i:02d}" for i in range(1, 11)]
    assert openings["03"].first_area == date(2015, 2, 1)  # Tokyo
    assert openings["03"].full_area == date(2015, 7, 1)
    assert openings["05"].first_area is None  # Hokuriku: no partial opening
    assert openings["06"].full_area == ALWAYS_OPEN  # Kansai
    assert openings["08"].first_area == date(2015, 4, 1)  # Shikoku 2015-H1


def test_bad_opening_files(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_text("area_code,utility_en,aroute_first_area,aroute_full_area\n1,X,2016-04,\n")
    with pytest.raises(ValueError, match="no full-area opening"):
        load_openings(path)
    path.write_text(
        "area_code,utility_en,aroute_first_area,aroute_full_area\n1,X,2017-04,2016-04\n"
    )
    with pytest.raises(ValueError, match="after full opening"):
        load_openings(path)


def test_start_is_the_later_of_opening_and_smart_meter() -> None:
    registry = Registry.open(":memory:")
    # Hokkaido (full opening 2017-10) and Tokyo (2015-07)
    ids = [
        make_supply_point_id("01", 1),
        make_supply_point_id("03", 2),
        make_supply_point_id("03", 3),
    ]
    keys = registry.add_supply_points(ids)
    registry.add_meters(
        [Meter(m, "M", f"S{m}", 30, "mesh", None, date(2030, 1, 1)) for m in (1, 2, 3, 4)]
    )
    registry.kinds.set_meter_kinds([(3, "conventional", 1)])
    early, late = jst_day_start_s(date(2016, 5, 1)), jst_day_start_s(date(2019, 3, 10)) + 600
    registry.install_meters([(keys[0], 1), (keys[1], 2), (keys[2], 3)], early)
    service = HalfHourService(registry)
    # installed in 2016, but Hokkaido opened in full on 2017-10-01
    assert service.start_s(keys[0]) == jst_day_start_s(date(2017, 10, 1))
    assert service.start_s(keys[1]) == early  # Tokyo was open already
    assert service.start_s(keys[2]) is None  # a conventional meter: no half-hour data
    registry.exchange_meter(keys[2], 3, 4, late)  # the smart meter arrives
    assert service.start_s(keys[2]) == late
    assert service.start_slot(keys[2]) == int(late // SLOT_SECONDS) + 1  # the next whole slot
    assert service.start_s(9999) is None
