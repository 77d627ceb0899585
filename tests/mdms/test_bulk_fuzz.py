"""Bulk import never crashes on garbage and accounts for every row: good, bad or repeated."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.mdms.vee_world import SP_ID, make_mdms

CELL = st.one_of(
    st.sampled_from(["", "0", "-1", "1e3", "12.5", " 7 ", "x", "2026-11-01T00:00:00+09:00"]),
    st.sampled_from([SP_ID, SP_ID[:-1], "0" * 22, "1100000000000000000000"]),
    st.integers(min_value=0, max_value=10**12).map(str),
    st.sampled_from([f"2026-11-01T{h:02d}:{m:02d}:00+09:00" for h in range(3) for m in (0, 30)]),
    st.text(alphabet="0123456789-:T+Z .e", max_size=30),
)
ROW = st.tuples(CELL, CELL, CELL, CELL)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROW, max_size=25))
def test_every_row_is_accounted_for(rows: list[tuple[str, str, str, str]]) -> None:
    mdms = make_mdms()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.csv"
        body = "\n".join(",".join(r) for r in rows)
        path.write_text(
            "supply_point_id,slot_start,import_register_wh,export_register_wh\n" + body + "\n"
        )
        report = mdms.import_file(path)
    assert report.rows == len(rows)
    assert report.good_rows + len(report.bad) + report.same_duplicates == len(rows)
    assert all(2 <= line <= len(rows) + 1 and reason for line, reason in report.bad)
    stored = mdms.store.query("SELECT count(*) AS n FROM register_reads").column("n")[0]
    assert stored.as_py() == report.reads_new <= report.good_rows
