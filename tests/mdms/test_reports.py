"""The MDMS read side (``MdmsReports``): many points' current values are the point read's,
and the meters of a point are found for the visible slots."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tests.mdms.test_day_rows_readers import (
    D0,
    EDIT_POINT,
    GAP_METER,
    METERS,
    _build,
    _registers,
    _registry,
)

from openami.mdms import Mdms
from openami.mdms.reports import MdmsReports


def _split(table: pa.Table, key: int) -> pa.Table:
    mine = table.filter(pc.equal(table.column("supply_point_key"), key))
    return mine.drop(["supply_point_key"])


def test_current_values_of_points_equal_the_point_read_on_both_layouts() -> None:
    registry, keys, _ = _registry()
    imp, exp = _registers()
    lo, hi = D0 + 20, D0 + 2 * 48 + 10  # across both day edges
    for dense in (True, False):
        mdms, _, _ = _build(dense, registry, imp, exp)
        mdms.finalize(D0 + 40, D0 + 60, "bob")  # declared final: part of day 0 and day 1
        many = MdmsReports(mdms).current_values_of_points(keys, lo, hi)
        assert many.column_names == [
            "supply_point_key",
            *mdms.current_values(keys[0], lo, hi).column_names,
        ]
        assert many.num_rows == len(keys) * (hi - lo + 1)
        for key in keys:
            assert _split(many, key) == mdms.current_values(key, lo, hi), (dense, key)
        qualities = set(many.column("quality").to_pylist())
        assert {"measured", "estimated", "edited"} <= qualities  # the gap and the edit
        finals = many.filter(pc.field("final")).column("slot").to_numpy()
        assert set(np.unique(finals)) == set(range(D0 + 40, D0 + 61))
        some = MdmsReports(mdms).current_values_of_points([keys[EDIT_POINT]], lo, hi)
        assert set(some.column("supply_point_key").to_pylist()) == {keys[EDIT_POINT]}


def test_meter_ranges_follow_the_installation_and_the_visible_slots() -> None:
    registry, keys, _ = _registry()
    imp, exp = _registers()
    mdms, _, _ = _build(False, registry, imp, exp)
    assert isinstance(mdms, Mdms)
    reports = MdmsReports(mdms)
    ranges = pa.table({"first_slot": [D0 + 5, D0 + 60], "last_slot": [D0 + 10, D0 + 70]})
    got = reports.meter_ranges(keys[1], ranges).to_pydict()
    assert got == {
        "meter_id": [int(METERS[1])] * 2,
        "first_boundary": [D0 + 5, D0 + 60],
        "last_boundary": [D0 + 10, D0 + 70],
    }
    page, total = reports.register_reads_page(keys[GAP_METER], ranges, None, 100, 0)
    # the gap meter's reads at D0 + 58..62 never arrived: three of them fall in the range
    assert total == page.num_rows == 6 + 11 - 3
    assert set(page.column("boundary").to_pylist()).isdisjoint({D0 + 60, D0 + 61, D0 + 62})
    assert reports.meter_ranges(999_999, ranges).num_rows == 0
    assert reports.register_reads_page(999_999, ranges, None, 100, 0)[1] == 0
