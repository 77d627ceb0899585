"""Meter types, supply point classes and manual reads of conventional meters: the rules
(unknown meter, smart meter, duplicate, reads going backwards, bad values: a clear error
and nothing stored), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from openami.registry import Meter, Registry
from openami.registry.kinds import (
    E_BACKWARDS,
    E_BAD_VALUE,
    E_DUPLICATE,
    E_NOT_CONVENTIONAL,
    E_UNKNOWN_METER,
    KindError,
    ManualReadError,
)
from openami.storage.sql import Database

TODAY = date(2026, 12, 1)


@pytest.fixture
def registry(database: Database) -> Registry:
    registry = Registry(database)
    keys = registry.add_supply_points(["0300000000000000000001", "0300000000000000000002"])
    registry.add_meters(
        [Meter(m, "M", f"S{m}", 30, "mesh", None, date(2030, 1, 1)) for m in (1, 2)]
    )
    registry.install_meters([(keys[0], 1), (keys[1], 2)], 0.0)
    registry.kinds.set_meter_kinds([(1, "conventional", 1)])  # meter 2 stays smart
    return registry


def reads(*rows: tuple[object, object, object, object]) -> pa.Table:
    names = ("meter_id", "read_on", "import_register_wh", "reader")
    return pa.table(
        {n: [None if r[i] is None else str(r[i]) for r in rows] for i, n in enumerate(names)}
    )


def test_defaults_and_kinds(registry: Registry) -> None:
    kinds = registry.kinds.meter_kinds([2, 1])
    assert kinds.to_pylist() == [
        {"meter_id": 2, "meter_type": "smart", "multiplier": 1},
        {"meter_id": 1, "meter_type": "conventional", "multiplier": 1},
    ]
    registry.kinds.set_point_classes([(2, "high", "industrial")])
    classes = registry.kinds.point_classes([1, 2]).to_pylist()
    assert [(c["voltage_class"], c["load_shape"]) for c in classes] == [
        ("low", "residential"),
        ("high", "industrial"),
    ]
    with pytest.raises(KindError, match="unknown meter type"):
        registry.kinds.set_meter_kinds([(1, "analogue", 1)])
    with pytest.raises(KindError, match="at least 1"):
        registry.kinds.set_meter_kinds([(1, "smart", 0)])
    with pytest.raises(KindError, match="voltage class"):
        registry.kinds.set_point_classes([(1, "medium", "flat")])
    with pytest.raises(KindError, match="load shape"):
        registry.kinds.set_point_classes([(1, "low", "bakery")])


def test_reads_are_stored_and_a_repeat_adds_nothing(registry: Registry) -> None:
    batch = reads((1, "2026-10-01", 100_000, "R7"), (1, "2026-11-01", 350_000, "R7"))
    report = registry.kinds.add_manual_reads(batch, TODAY)
    assert (report.rows, report.stored, report.repeated, report.meters) == (2, 2, 0, [1])
    again = registry.kinds.add_manual_reads(batch, TODAY)
    assert (again.stored, again.repeated, again.meters) == (0, 2, [])
    assert registry.kinds.manual_reads().num_rows == 2


@pytest.mark.parametrize(
    ("rows", "code", "line"),
    [
        ([(9, "2026-11-01", 1, "R7")], E_UNKNOWN_METER, 1),
        ([(1, "2026-11-01", 1, "R7"), (2, "2026-11-01", 1, "R7")], E_NOT_CONVENTIONAL, 2),
        ([(1, "2026-11-01", 1, "R7"), (1, "2026-11-01", 2, "R7")], E_DUPLICATE, 2),
        ([(1, "2026-10-01", 900, "R7"), (1, "2026-11-01", 800, "R7")], E_BACKWARDS, 2),
        ([(1, "2026-11-01", -5, "R7")], E_BAD_VALUE, 1),
        ([(1, "2026-11-31", 5, "R7")], E_BAD_VALUE, 1),
        ([(1, "2026-11-01", "5.5", "R7")], E_BAD_VALUE, 1),
        ([(1, "2027-01-01", 5, "R7")], E_BAD_VALUE, 1),  # in the future
        ([(1, "2026-11-01", 5, " ")], E_BAD_VALUE, 1),
        ([(None, "2026-11-01", 5, "R7")], E_BAD_VALUE, 1),
    ],
)
def test_bad_reads_are_refused_and_nothing_is_stored(
    registry: Registry, rows: list[tuple[object, object, object, object]], code: str, line: int
) -> None:
    with pytest.raises(ManualReadError) as refused:
        registry.kinds.add_manual_reads(reads((1, "2026-09-01", 0, "R1"), *rows), TODAY)
    problem = refused.value.problems[0]
    assert (problem.code, problem.line) == (code, line + 1)
    assert registry.kinds.manual_reads().num_rows == 0


def test_backwards_against_stored_reads_either_side(registry: Registry) -> None:
    registry.kinds.add_manual_reads(
        reads((1, "2026-09-01", 1000, "R7"), (1, "2026-11-01", 3000, "R7")), TODAY
    )
    # between two stored reads, above the later one: the later one goes backwards
    with pytest.raises(ManualReadError) as refused:
        registry.kinds.add_manual_reads(reads((1, "2026-10-01", 3500, "R7")), TODAY)
    assert refused.value.problems[0].code == E_BACKWARDS
    assert "3000 Wh on 2026-11-01 is below 3500 Wh" in str(refused.value)
    # a different register for a stored day is a duplicate, not a correction
    with pytest.raises(ManualReadError) as dup:
        registry.kinds.add_manual_reads(reads((1, "2026-11-01", 3100, "R7")), TODAY)
    assert dup.value.problems[0].code == E_DUPLICATE
    assert registry.kinds.manual_reads().num_rows == 2


def test_file_import(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "reads.csv"
    path.write_text("meter_id,read_on,import_register_wh,reader\n1,2026-11-01,42,R7\n")
    assert registry.kinds.import_manual_reads(path, TODAY).stored == 1
    (tmp_path / "bad.csv").write_text("meter_id,read_on,reader\n1,2026-11-01,R7\n")
    with pytest.raises(ValueError, match="missing column"):
        registry.kinds.import_manual_reads(tmp_path / "bad.csv", TODAY)


def test_an_empty_batch_stores_nothing(registry: Registry) -> None:
    report = registry.kinds.add_manual_reads(reads(), TODAY)
    assert (report.rows, report.stored) == (0, 0)


def test_backwards_against_an_older_history(registry: Registry) -> None:
    """Only each meter's latest read before the batch and the reads after it are compared;
    older history cannot hide a read going backwards."""
    registry.kinds.add_manual_reads(
        reads(
            (1, "2026-07-01", 100, "R7"),
            (1, "2026-08-01", 200, "R7"),
            (1, "2026-09-01", 300, "R7"),
        ),
        TODAY,
    )
    with pytest.raises(ManualReadError) as refused:
        registry.kinds.add_manual_reads(reads((1, "2026-10-01", 250, "R7")), TODAY)
    assert refused.value.problems[0].code == E_BACKWARDS
    # a read between stored ones, in order, is fine
    registry.kinds.add_manual_reads(reads((1, "2026-08-15", 250, "R7")), TODAY)
    assert registry.kinds.manual_reads().num_rows == 4
