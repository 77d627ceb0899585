"""The interval store's checkpoints: DuckDB's threshold raised (configurable), one
checkpoint on a helper thread after a large ingest, waited for on close."""

from __future__ import annotations

from pathlib import Path

import pytest

from openami.storage.duckdb_checkpoints import CHECKPOINT_THRESHOLD_ENV
from openami.storage.duckdb_interval import DuckIntervalStore


def _threshold(store: DuckIntervalStore) -> str:
    got = store.query("SELECT current_setting('checkpoint_threshold') AS t")
    return str(got.column("t")[0].as_py())


def _wal_bytes(path: Path) -> int:
    wal = Path(f"{path}.wal")
    return wal.stat().st_size if wal.exists() else 0


def _write(store: DuckIntervalStore, first_seq: int, n: int) -> None:
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO ingest_log SELECT i, 0.0, 0, 0, 0, NULL FROM range(?, ?) t(i)",
            [first_seq, first_seq + n],
        )


def test_the_threshold_is_raised_and_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _threshold(DuckIntervalStore()).startswith("1.8")  # 2 GB, shown in GiB
    monkeypatch.setenv(CHECKPOINT_THRESHOLD_ENV, "64MiB")
    assert _threshold(DuckIntervalStore()) == "64.0 MiB"
    monkeypatch.setenv(CHECKPOINT_THRESHOLD_ENV, "16MB'; DROP TABLE hh_reads; --")
    with pytest.raises(ValueError, match="expected a size"):
        DuckIntervalStore()


def test_a_background_checkpoint_folds_the_log_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "interval.duckdb"
    store = DuckIntervalStore(path)
    _write(store, 1, 50_000)
    assert _wal_bytes(path) > 0  # committed: in the log, not yet in the file
    assert store.background_checkpoint.wait() is None  # none started yet
    store.background_checkpoint.start()
    took_s = store.background_checkpoint.wait(30)
    assert took_s is not None and took_s >= 0
    assert _wal_bytes(path) == 0
    _write(store, 50_001, 10)  # the store writes on after it
    store.background_checkpoint.start()
    store.close()  # waits for the running checkpoint first
    again = DuckIntervalStore(path)
    assert again.query("SELECT count(*) AS n FROM ingest_log").column("n")[0].as_py() == 50_010
    again.close()


def test_a_checkpoint_that_cannot_run_is_reported_as_none() -> None:
    store = DuckIntervalStore()
    store.close()
    store.background_checkpoint.start()  # the connection is gone: logged, nothing raised
    assert store.background_checkpoint.wait(30) is None


def test_a_checkpoint_is_due_once_the_log_holds_enough(tmp_path: Path) -> None:
    path = tmp_path / "interval.duckdb"
    store = DuckIntervalStore(path)
    _write(store, 1, 1_000)
    logged = _wal_bytes(path)
    assert logged > 0
    assert not store.background_checkpoint.start_if_due(logged + 1)
    assert store.background_checkpoint.wait() is None
    assert store.background_checkpoint.start_if_due(logged)
    assert store.background_checkpoint.wait(30) is not None and _wal_bytes(path) == 0
    assert not DuckIntervalStore().background_checkpoint.start_if_due(1)  # in memory: no log
    store.close()
