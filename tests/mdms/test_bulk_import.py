"""Bulk import of CSV/Parquet register reads: bad rows with line and reason, good rows kept,
idempotent re-runs, Parquet timestamps, meter exchange rows, CSV export."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tests.mdms.vee_world import B0, SP_ID, current, make_mdms

from openami.registry import make_supply_point_id

OTHER_SP = make_supply_point_id("03", 999)  # valid but not registered


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    lines = ["supply_point_id,slot_start,import_register_wh,export_register_wh"]
    lines += [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def at(hh: int, mm: int, day: int = 1) -> str:
    return f"2026-11-{day:02d}T{hh:02d}:{mm:02d}:00+09:00"


def test_bad_rows_are_reported_with_line_and_reason_good_rows_kept(tmp_path: Path) -> None:
    mdms = make_mdms()
    f = write_csv(
        tmp_path / "reads.csv",
        [
            [SP_ID, at(0, 0), "1000", "0"],  # line 2
            [SP_ID, at(0, 30), "1100", ""],  # line 3: export empty is fine
            ["12345", at(1, 0), "1200", "0"],  # line 4
            [SP_ID, "2026-11-01 01:00:00", "1200", "0"],  # line 5: no offset
            [SP_ID, at(1, 10), "1200", "0"],  # line 6: off the grid
            [SP_ID, at(1, 0), "12.5", "0"],  # line 7
            [SP_ID, at(1, 0), "-3", "0"],  # line 8
            [OTHER_SP, at(1, 0), "1200", "0"],  # line 9
            [SP_ID, at(1, 0), "1200", "0"],  # line 10: good
            [SP_ID, at(1, 0), "1250", "0"],  # line 11: conflicting duplicate of line 10
            [SP_ID, at(1, 0), "1200", "0"],  # line 12: identical repeat, ignored
            [SP_ID, "2026-13-01T00:00:00+09:00", "1", "0"],  # line 13
            [SP_ID, at(1, 30), "1300", "x"],  # line 14
        ],
    )
    report = mdms.import_file(f)
    assert report.rows == 13 and report.good_rows == 3 and report.same_duplicates == 1
    assert report.bad == [
        (4, "supply_point_id: must be 22 digits starting with an area code 01-10"),
        (5, "slot_start: must be ISO 8601 with a UTC offset, e.g. 2026-11-01T10:30:00+09:00"),
        (6, "slot_start: not on the half-hour grid (V01)"),
        (7, "import_register_wh: must be a whole number of Wh"),
        (8, "import_register_wh: must not be negative"),
        (9, "supply_point_id: unknown supply point"),
        (11, "duplicate of line 10 with other registers (V02)"),
        (13, "slot_start: not a valid date and time"),
        (14, "export_register_wh: must be a whole number of Wh or empty"),
    ]
    rows = current(mdms, 0, 1)
    assert [(r["import_wh"], r["export_wh"], r["quality"]) for r in rows] == [
        (100, None, "measured"),
        (100, None, "measured"),
    ]
    again = mdms.import_file(f)
    assert (again.reads_new, again.values_new) == (0, 0)


def test_clock_deviation_within_tolerance_snaps_and_flags(tmp_path: Path) -> None:
    mdms = make_mdms()
    f = write_csv(
        tmp_path / "r.csv",
        [
            [SP_ID, at(0, 0), "1000", "0"],
            [SP_ID, "2026-11-01T00:31:30+09:00", "1100", "0"],  # 90 s late: V09, kept
            [SP_ID, at(1, 0), "1200", "0"],
        ],
    )
    report = mdms.import_file(f)
    assert report.bad == [] and report.flagged == 2
    assert [r["flags"] for r in current(mdms, 0, 1)] == [["V09"], ["V09"]]


def test_gaps_inside_the_file_are_estimated(tmp_path: Path) -> None:
    mdms = make_mdms()
    f = write_csv(
        tmp_path / "r.csv",
        [[SP_ID, at(0, 0), "1000", "0"], [SP_ID, at(1, 30), "1300", "0"]],
    )
    report = mdms.import_file(f)
    assert report.estimation is not None and report.estimation.by_method == {"E1": 3}
    assert [(r["import_wh"], r["method"]) for r in current(mdms, 0, 2)] == [
        (100, "E1"),
        (100, "E1"),
        (100, "E1"),
    ]


def test_parquet_with_typed_columns(tmp_path: Path) -> None:
    mdms = make_mdms()
    ts = pa.array([(B0 + i) * 1_800_000_000 for i in range(3)], pa.timestamp("us", "Asia/Tokyo"))
    pq.write_table(
        pa.table(
            {
                "supply_point_id": [SP_ID] * 3,
                "slot_start": ts,
                "import_register_wh": pa.array([1000, 1100, None], pa.int64()),
                "export_register_wh": pa.array([5, 5, 9], pa.int64()),
            }
        ),
        tmp_path / "r.parquet",
    )
    report = mdms.import_file(tmp_path / "r.parquet")
    assert report.bad == [(3, "import_register_wh: must be a whole number of Wh")]
    assert [(r["import_wh"], r["export_wh"]) for r in current(mdms, 0, 0)] == [(100, 0)]


def test_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    mdms = make_mdms()
    p = tmp_path / "bad.csv"
    p.write_text("supply_point_id,slot_start,import_register_wh\n", encoding="utf-8")
    try:
        mdms.import_file(p)
    except ValueError as exc:
        assert "export_register_wh" in str(exc)
    else:
        raise AssertionError("a file without export_register_wh was accepted")


def test_export_csv_lists_every_slot_with_quality() -> None:
    mdms = make_mdms()
    mdms.distribute_total(1, B0 + 2, B0 + 3, 301, "dan", "site visit")
    text = mdms.export_csv(SP_ID, date(2026, 11, 1), date(2026, 11, 1))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 48
    assert rows[0]["slot_start"] == "2026-11-01T00:00:00+09:00"
    assert rows[0]["quality"] == "not_yet_available"
    assert [
        (r["import_wh"], r["quality"], r["method"], r["final"], r["espi_quality"])
        for r in rows[2:4]
    ] == [
        ("151", "estimated", "E4", "false", "11"),  # 150.5 rounds up, the rest follows
        ("150", "estimated", "E4", "false", "11"),
    ]
    assert rows[0]["espi_quality"] == ""
