"""`openami mdms shared-store`: status, compact and vacuum on a published table."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
from click.testing import CliRunner

from openami.cli.main import cli
from openami.clock import day_first_slot
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.interval_appends import append_values
from openami.storage.shared_values import SharedValueStore


def test_status_compact_vacuum(tmp_path: Path) -> None:
    store = DuckIntervalStore(":memory:")
    n = 30
    values = pa.table(
        {
            "supply_point_key": pa.array(np.arange(1, n + 1), pa.int64()),
            "slot": pa.array(np.full(n, day_first_slot(date(2026, 12, 1)) + 3), pa.int64()),
            "import_wh": pa.array(np.arange(n) * 10, pa.int64()),
            "export_wh": pa.array(np.zeros(n, dtype=np.int64)),
            "qcode": pa.array(np.zeros(n, dtype=np.uint8)),
            "version": pa.array(np.ones(n, dtype=np.int32)),
            "vee_flags": pa.array(np.zeros(n, dtype=np.int32)),
        }
    )
    with store.transaction() as cur:
        append_values(cur, values, time.time(), "register difference")
    uri = str(tmp_path / "shared")
    assert SharedValueStore(uri).publish_new(store, "p02") == n
    runner = CliRunner()
    shown = runner.invoke(cli, ["mdms", "shared-store", "status", "--uri", uri, "--source", "p02"])
    assert shown.exit_code == 0, shown.output
    assert "days with uncompacted ticks: 1 (2026-12-01)" in shown.output
    assert "source p02: value versions up to #30" in shown.output
    done = runner.invoke(cli, ["mdms", "shared-store", "compact", "--uri", uri])
    assert done.exit_code == 0, done.output
    assert "2026-12-01: 30 supply points in one day file" in done.output
    assert "rebuilt 0 window files" in done.output  # the newest day is still written
    assert SharedValueStore(uri).status().files == {"day": 1}
    through = ["--windows-through", "2026-12-01"]
    again = runner.invoke(cli, ["mdms", "shared-store", "compact", "--uri", uri, *through])
    assert again.exit_code == 0, again.output
    assert "window from 2026-11-27: 30 day rows" in again.output
    assert SharedValueStore(uri).status().files == {"day": 1, "win": 1}
    swept = runner.invoke(
        cli, ["mdms", "shared-store", "vacuum", "--uri", uri, "--retention-hours", "0"]
    )
    assert swept.exit_code == 0 and "deleted 1 files" in swept.output
    bad = runner.invoke(cli, ["mdms", "shared-store", "compact", "--uri", uri, "--from", "x"])
    assert bad.exit_code != 0 and "--to" in bad.output
