"""Interval store settings: DuckDB's memory limit and threads, and the write counter the
tick state relies on."""

from __future__ import annotations

import pytest

from openami.storage.duckdb_interval import DuckIntervalStore


def _limit(store: DuckIntervalStore) -> str:
    got = store.query("SELECT current_setting('memory_limit') AS m")
    return str(got.column("m")[0].as_py())


def test_memory_limit_from_argument_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _limit(DuckIntervalStore(memory_limit="1GB")).startswith("953")  # 1 GB in MiB
    monkeypatch.setenv("OPENAMI_DUCKDB_MEMORY_LIMIT", "512MiB")
    assert _limit(DuckIntervalStore()) == "512.0 MiB"


@pytest.mark.parametrize("bad", ["lots", "3GB'; DROP TABLE hh_reads; --", "-1GB"])
def test_a_memory_limit_that_is_not_a_size_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="expected a size"):
        DuckIntervalStore(memory_limit=bad)


def test_threads_from_argument_and_refused_out_of_range() -> None:
    got = DuckIntervalStore(threads=1).query("SELECT current_setting('threads') AS t")
    assert got.column("t")[0].as_py() == 1
    with pytest.raises(ValueError, match="1-1024"):
        DuckIntervalStore(threads=0)


def test_every_committed_write_moves_the_generation() -> None:
    store = DuckIntervalStore()
    g0 = store.generation
    store.query("SELECT 1")  # reads do not count
    assert store.generation == g0
    with store.transaction() as cur:
        cur.execute("INSERT INTO ingest_log VALUES (1, 0.0, 0, 0, 0, NULL)")
    assert store.generation == g0 + 1
    with pytest.raises(RuntimeError), store.transaction():
        raise RuntimeError("rolled back")
    assert store.generation == g0 + 2  # counted too: the state cannot know what happened
