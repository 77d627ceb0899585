"""`openami serve` with ``shared_values_uri``: the MDMS publishes as it ticks (and on
close), and the shared store then holds every value version the working store holds, once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa

from openami.settings import Settings
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.shared_read import SharedValuesReader
from openami.storage.shared_values import SharedValueStore
from openami.wiring import INTERVAL_FILE, open_system


def _triples(table: pa.Table) -> list[tuple[int, int, int]]:
    cols = [table.column(c).to_pylist() for c in ("supply_point_key", "slot", "version")]
    return sorted(zip(*cols, strict=True))


def test_serve_publishes_every_tick(tmp_path: Path) -> None:
    uri = tmp_path / "shared"
    settings = Settings(
        data_dir=tmp_path / "city",
        meters=40,
        days=1,
        start=date(2026, 11, 2),
        shared_values_uri=str(uri),
    )
    open_system(settings).close()  # a new city: a day of ticks; the rest published on close
    store = DuckIntervalStore(settings.data_dir / INTERVAL_FILE)
    try:
        stored = store.query("SELECT supply_point_key, slot, version FROM half_hour_values")
        published = (
            SharedValueStore(uri)
            .table()
            .to_pyarrow_table(columns=["supply_point_key", "slot", "version"])
        )
        assert stored.num_rows > 40 * 40  # about a day of half-hour values
        assert _triples(published) == _triples(stored)  # all of them, none twice
        key, slot = stored.column("supply_point_key")[0].as_py(), stored.column("slot")[0].as_py()
        expected = store.query(
            "SELECT import_wh FROM half_hour_values WHERE supply_point_key = ? AND slot = ? "
            "ORDER BY version DESC LIMIT 1",
            [key, slot],
        )
        got = SharedValuesReader(uri).current_values(key, slot, slot)
        assert got.column("import_wh").to_pylist() == expected.column("import_wh").to_pylist()
    finally:
        store.close()
