"""The MDMS's own deadline: slots still without a value one hour after their end are marked
missing by ``Mdms.close_due_slots``, each once, and a restarted MDMS goes on where it stopped."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from openami.bus.messages import READ_SCHEMA
from openami.clock import SLOT_SECONDS, ManualClock, day_first_slot, slot_end_s
from openami.mdms import Mdms
from openami.mdms.vee_config import VeeConfig, load_vee_config
from openami.registry import Meter, Registry, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore

D0 = day_first_slot(date(2026, 11, 2))
POINTS = 3
HOUR_S = 3600.0


def _registry(path: Path | str) -> Registry:
    registry = Registry.open(path)
    if not registry.supply_points_table().num_rows:
        keys = registry.add_supply_points([make_supply_point_id("05", i) for i in range(POINTS)])
        registry.add_meters(
            [Meter(60 + i, "M", f"S{i}", 30, "mesh", None, date(2031, 1, 1)) for i in keys]
        )
        registry.install_meters([(k, 60 + k) for k in keys], 0.0)
    return registry


def _mdms(tmp_path: Path, clock: ManualClock, cfg: VeeConfig | None = None) -> Mdms:
    store = DuckIntervalStore(tmp_path / "interval.duckdb")
    return Mdms(store, _registry(tmp_path / "registry.sqlite"), clock, cfg)


def _versions(mdms: Mdms) -> list[dict[str, object]]:
    return mdms.store.query(
        "SELECT supply_point_key, slot, quality, version, recorded_at FROM half_hour_values "
        "ORDER BY supply_point_key, slot, version"
    ).to_pylist()


def _clock_at(slot: int, after_end_s: float) -> ManualClock:
    return ManualClock(datetime.fromtimestamp(slot_end_s(slot) + after_end_s, UTC))


def test_a_slot_is_closed_one_hour_after_its_end(tmp_path: Path) -> None:
    clock = _clock_at(D0 - 1, 0.0)
    mdms = _mdms(tmp_path, clock)
    mdms.start_closing_at(D0)
    assert mdms.close_due_slots(slot_end_s(D0) + HOUR_S - 1) == 0  # a second too early
    clock.set_timestamp(slot_end_s(D0) + HOUR_S)
    assert mdms.close_due_slots(clock.timestamp()) == POINTS
    rows = _versions(mdms)
    assert {(r["slot"], r["quality"], r["version"]) for r in rows} == {(D0, "missing", 1)}
    assert mdms.close_due_slots(clock.timestamp()) == 0  # nothing new is due


def test_only_slots_without_a_value_are_marked(tmp_path: Path) -> None:
    clock = _clock_at(D0 + 3, HOUR_S)
    mdms = _mdms(tmp_path, clock)
    mdms.start_closing_at(D0)
    reads = pa.table(
        {
            "meter_id": [61, 61, 61],
            "boundary": [D0, D0 + 1, D0 + 2],
            "import_register_wh": [100, 150, 180],
            "export_register_wh": [0, 0, 0],
            "received_at": [0.0, 0.0, 0.0],
            "source": [0, 0, 0],
        },
        schema=READ_SCHEMA,
    )
    mdms.ingest(reads)  # point 1 has values in slots D0 and D0 + 1
    assert mdms.close_due_slots(clock.timestamp()) == 4 * POINTS - 2
    current = mdms.current_values(1, D0, D0 + 3).to_pylist()
    assert [(r["quality"], r["import_wh"]) for r in current] == [
        ("measured", 50),
        ("measured", 30),
        ("missing", None),
        ("missing", None),
    ]


def test_a_new_mdms_closes_only_what_falls_due_after_it_starts(tmp_path: Path) -> None:
    clock = _clock_at(D0 + 10, HOUR_S)
    mdms = _mdms(tmp_path, clock)
    assert mdms.close_due_slots(clock.timestamp()) == 0  # slots due before it ran: not its
    clock.set_timestamp(clock.timestamp() + 2 * SLOT_SECONDS)
    assert mdms.close_due_slots(clock.timestamp()) == 2 * POINTS
    assert {r["slot"] for r in _versions(mdms)} == {D0 + 11, D0 + 12}


def test_a_restarted_mdms_goes_on_where_it_stopped(tmp_path: Path) -> None:
    clock = _clock_at(D0 + 5, HOUR_S)
    first = _mdms(tmp_path, clock)
    first.start_closing_at(D0)
    first_run_at = clock.timestamp()
    assert first.close_due_slots(first_run_at) == 6 * POINTS
    first.store.close()
    first.registry.close()

    clock.set_timestamp(first_run_at + 3 * SLOT_SECONDS)
    again = _mdms(tmp_path, clock)
    again.start_closing_at(D0 - 48)  # a restart does not move where closing stands
    assert again.close_due_slots(clock.timestamp()) == 3 * POINTS
    rows = _versions(again)
    assert len(rows) == 9 * POINTS  # slots D0 … D0 + 8, each marked once
    assert {r["version"] for r in rows} == {1}
    first_marks = {r["slot"] for r in rows if r["recorded_at"] == first_run_at}
    assert first_marks == set(range(D0, D0 + 6))
    assert {r["slot"] for r in rows if r["recorded_at"] == clock.timestamp()} == {
        D0 + 6,
        D0 + 7,
        D0 + 8,
    }


def test_a_crash_after_marking_before_the_watermark_moved_marks_nothing_twice(
    tmp_path: Path,
) -> None:
    clock = _clock_at(D0 + 5, HOUR_S)
    mdms = _mdms(tmp_path, clock)
    mdms.start_closing_at(D0)
    mdms.mark_missing(D0, D0 + 5)  # the marks of a run whose watermark never got stored
    assert mdms.close_due_slots(clock.timestamp()) == 0
    assert len(_versions(mdms)) == 6 * POINTS


def test_the_deadline_is_mdms_configuration(tmp_path: Path) -> None:
    cfg = dataclasses.replace(load_vee_config(), missing_deadline_s=2 * HOUR_S)
    clock = _clock_at(D0, HOUR_S)
    mdms = _mdms(tmp_path, clock, cfg)
    mdms.start_closing_at(D0)
    assert mdms.close_due_slots(clock.timestamp()) == 0
    clock.set_timestamp(slot_end_s(D0) + 2 * HOUR_S)
    assert mdms.close_due_slots(clock.timestamp()) == POINTS
    assert load_vee_config().missing_deadline_s == HOUR_S  # vee.toml [deadline]


def test_a_deadline_that_is_not_positive_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "vee.toml"
    path.write_text("[deadline]\nmissing_after_s = 0\n", encoding="utf-8")
    with pytest.raises(ValueError, match="missing_after_s"):
        load_vee_config(path)
