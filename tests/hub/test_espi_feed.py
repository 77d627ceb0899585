"""The ESPI feed's service-start cut: each point's rows from its half-hour service start on,
the same rows as the plain rule (a mask of slot ≥ start, nothing for a point without a
start), found by one binary search per point."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openami.hub import espi_feed


def _table(rows: list[tuple[int, int]]) -> pa.Table:
    keys = [k for k, _ in rows]
    slots = [s for _, s in rows]
    return pa.table(
        {
            "supply_point_key": pa.array(keys, pa.int64()),
            "slot": pa.array(slots, pa.int64()),
            "import_wh": pa.array(range(len(rows)), pa.int64()),
        }
    )


def _with_starts(monkeypatch: pytest.MonkeyPatch, starts: dict[int, int | None]) -> None:
    rule = SimpleNamespace(start_slot=lambda key: starts.get(key))
    monkeypatch.setattr(espi_feed, "service_starts", lambda context: rule)


def test_each_point_is_cut_at_its_own_start(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_starts(monkeypatch, {1: None, 2: 105, 3: 50})
    table = _table([(1, 100), (1, 101), (2, 100), (2, 104), (2, 105), (2, 106), (3, 100)])
    served = espi_feed._served(SimpleNamespace(), table)  # type: ignore[arg-type]
    assert served.column("supply_point_key").to_pylist() == [2, 2, 3]
    assert served.column("slot").to_pylist() == [105, 106, 100]
    assert served.column("import_wh").to_pylist() == [4, 5, 6]  # the rows themselves


def test_a_table_served_whole_is_returned_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_starts(monkeypatch, {1: 0, 2: 100})
    table = _table([(1, 100), (2, 100), (2, 101)])
    assert espi_feed._served(SimpleNamespace(), table) is table  # type: ignore[arg-type]
    empty = _table([])
    assert espi_feed._served(SimpleNamespace(), empty).num_rows == 0  # type: ignore[arg-type]


points = st.dictionaries(
    st.integers(1, 6),
    st.tuples(
        st.one_of(st.none(), st.integers(0, 60)),
        st.lists(st.integers(0, 50), unique=True, max_size=12).map(sorted),
    ),
    max_size=5,
)


@settings(max_examples=200, deadline=None)
@given(points)
def test_the_cut_keeps_the_rows_of_the_plain_rule(
    point_rows: dict[int, tuple[int | None, list[int]]],
) -> None:
    starts = {k: start for k, (start, _) in point_rows.items()}
    rows = [(k, s) for k in sorted(point_rows) for s in point_rows[k][1]]
    table = _table(rows)
    with pytest.MonkeyPatch.context() as patch:
        _with_starts(patch, starts)
        served = espi_feed._served(SimpleNamespace(), table)  # type: ignore[arg-type]
    kept = np.array([starts[k] is not None and s >= starts[k] for k, s in rows], dtype=bool)
    assert served.to_pylist() == table.filter(pa.array(kept, pa.bool_())).to_pylist()
