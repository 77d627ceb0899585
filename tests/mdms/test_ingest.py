"""MDMS ingest: register differences, versions, missing marks and idempotence."""

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from openami.bus.messages import READ_SCHEMA
from openami.clock import ManualClock, day_first_slot
from openami.mdms import Mdms
from openami.registry import Meter, Registry, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore

B0 = day_first_slot(datetime(2026, 11, 1).date())


@pytest.fixture
def mdms() -> Mdms:
    registry = Registry.open(":memory:")
    keys = registry.add_supply_points([make_supply_point_id("03", 1)])
    registry.add_meters([Meter(7, "Toshiba", "S1", 30, "mesh", None, datetime(2030, 1, 1).date())])
    registry.install_meters([(keys[0], 7)], 0.0)
    clock = ManualClock(datetime(2026, 11, 2, tzinfo=UTC))
    return Mdms(DuckIntervalStore(), registry, clock)


def reads(rows: list[tuple[int, int, int]]) -> pa.Table:
    return pa.table(
        {
            "meter_id": [7] * len(rows),
            "boundary": [B0 + b for b, _, _ in rows],
            "import_register_wh": [i for _, i, _ in rows],
            "export_register_wh": [e for _, _, e in rows],
            "received_at": [float((B0 + b) * 1800 + 60) for b, _, _ in rows],
            "source": [0] * len(rows),
        },
        schema=READ_SCHEMA,
    )


def test_values_are_register_differences(mdms: Mdms) -> None:
    mdms.ingest(reads([(0, 1000, 50), (1, 1130, 50), (2, 1200, 75)]))
    values = mdms.current_values(1, B0, B0 + 5).to_pylist()
    assert [(v["slot"] - B0, v["import_wh"], v["export_wh"], v["quality"]) for v in values] == [
        (0, 130, 0, "measured"),
        (1, 70, 25, "measured"),
    ]


def test_same_batch_twice_changes_nothing(mdms: Mdms) -> None:
    batch = reads([(0, 1000, 0), (1, 1130, 0), (2, 1200, 0)])
    first = mdms.ingest(batch)
    second = mdms.ingest(batch)
    assert (first.reads_new, first.values_new) == (3, 2)
    assert (second.reads_new, second.values_new) == (0, 0)
    count = mdms.store.query("SELECT COUNT(*) AS n FROM register_reads").column("n")[0].as_py()
    assert count == 3


def test_missing_then_filled_keeps_every_version(mdms: Mdms) -> None:
    mdms.ingest(reads([(0, 1000, 0), (1, 1130, 0)]))
    marked = mdms.mark_missing(B0, B0 + 2)
    assert marked == 2  # slots 1 and 2 have no value yet
    mdms.ingest(reads([(3, 1300, 0)]))  # slot 2 still lacks its start read
    mdms.ingest(reads([(2, 1200, 0)]))  # backfill arrives
    current = mdms.current_values(1, B0, B0 + 2).to_pylist()
    assert [(v["import_wh"], v["quality"], v["version"]) for v in current] == [
        (130, "measured", 1),
        (70, "measured", 2),
        (100, "measured", 2),
    ]
    history = (
        mdms.store.query(
            "SELECT quality FROM half_hour_values WHERE slot = ? ORDER BY version", [B0 + 1]
        )
        .column("quality")
        .to_pylist()
    )
    assert history == ["missing", "measured"]


def test_register_going_backwards_is_flagged_not_stored_as_energy(mdms: Mdms) -> None:
    mdms.ingest(reads([(0, 1000, 0), (1, 900, 0)]))
    value = mdms.current_values(1, B0, B0).to_pylist()[0]
    assert value["quality"] == "invalid" and value["import_wh"] is None


def test_failed_ingest_stores_nothing(mdms: Mdms) -> None:
    good = reads([(0, 1000, 0)])
    mdms.ingest(good)
    bad = pa.table({"meter_id": [7], "boundary": [B0 + 1]})  # columns missing
    with pytest.raises(KeyError):
        mdms.ingest(bad)
    again = mdms.ingest(reads([(1, 1100, 0)]))
    assert again.reads_new == 1 and again.values_new == 1
