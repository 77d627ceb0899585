"""The shared interval store (Delta Lake): a reader process follows a writer, publication
survives kill -9 without duplicates or loss, compaction never changes a reader's answers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from openami.clock.slots import day_first_slot
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.duckdb_mdms import append_day_rows
from openami.storage.interval_appends import append_values
from openami.storage.interval_ingest import IngestLogRow, log_ingest
from openami.storage.shared_read import SharedValuesReader
from openami.storage.shared_values import SharedValueStore

DAY = date(2026, 12, 1)
FIRST = day_first_slot(DAY)
POINTS = np.arange(1, 401, dtype=np.int64)
RNG = np.random.default_rng(13)

# a reader in a process of its own: JSON commands on stdin, JSON answers on stdout
READER = textwrap.dedent(
    """
    import json, sys, time
    from openami.storage.shared_read import SharedValuesReader
    reader = SharedValuesReader(sys.argv[1], refresh_s=0.2)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "wait":  # until the table holds version >= v
            while reader.refresh(force=False) < cmd["version"]:
                time.sleep(0.05)
            answer = {"seen_at": time.time(), "version": reader.version}
        elif cmd["op"] == "points":
            answer = {str(k): reader.current_values(k, cmd["lo"], cmd["hi"]).select(
                ["slot", "import_wh", "export_wh", "qcode", "version"]).to_pylist()
                for k in cmd["keys"]}
        print(json.dumps(answer), flush=True)
    """
)


def _tick(store: DuckIntervalStore, slot: int, keys: np.ndarray, version: int = 1) -> None:
    n = len(keys)
    values = pa.table(
        {
            "supply_point_key": pa.array(keys, pa.int64()),
            "slot": pa.array(np.full(n, slot), pa.int64()),
            "import_wh": pa.array(RNG.integers(0, 900, n), pa.int64()),
            "export_wh": pa.array(RNG.integers(0, 50, n), pa.int64()),
            "qcode": pa.array(np.zeros(n, dtype=np.uint8)),
            "version": pa.array(np.full(n, version, dtype=np.int32)),
            "vee_flags": pa.array(np.zeros(n, dtype=np.int32)),
        }
    )
    reason = "register difference" if version == 1 else "estimate"
    with store.transaction() as cur:
        append_values(cur, values, time.time(), reason)


def _expected(store: DuckIntervalStore, key: int, lo: int, hi: int) -> list[dict[str, object]]:
    """The working store's current values (``half_hour_values``, highest version)."""
    rows = store.query(
        """
        SELECT slot, import_wh, export_wh, version FROM half_hour_values
        WHERE supply_point_key = ? AND slot BETWEEN ? AND ?
        QUALIFY row_number() OVER (PARTITION BY slot ORDER BY version DESC) = 1
        ORDER BY slot
        """,
        [key, lo, hi],
    )
    return rows.to_pylist()


class Reader:
    def __init__(self, uri: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", READER, str(uri)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._lock = threading.Lock()

    def ask(self, **cmd: object) -> dict[str, Any]:
        with self._lock:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
            return dict(json.loads(self.proc.stdout.readline()))

    def points(self, keys: list[int], lo: int, hi: int) -> dict[str, list[dict[str, object]]]:
        answer = self.ask(op="points", keys=keys, lo=lo, hi=hi)
        return {
            k: [{c: r[c] for c in ("slot", "import_wh", "export_wh", "version")} for r in v]
            for k, v in answer.items()
        }

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


World = tuple[DuckIntervalStore, SharedValueStore, Reader]


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DuckIntervalStore, SharedValueStore, Reader]]:
    root = tmp_path_factory.mktemp("shared")
    store = DuckIntervalStore(root / "p07.duckdb")
    shared = SharedValueStore(root / "table")
    for slot in range(FIRST, FIRST + 6):
        _tick(store, slot, POINTS)
    _tick(store, FIRST + 2, POINTS[::7], version=2)  # estimates over some values
    shared.publish_new(store, "p07")
    reader = Reader(root / "table")
    yield store, shared, reader
    reader.close()
    store.close()


def test_reader_process_sees_published_values_within_seconds(world: World) -> None:
    store, shared, reader = world
    reader.ask(op="wait", version=shared.table().version())
    stop, wrote = threading.Event(), threading.Event()

    def keep_writing() -> None:  # the writer goes on with later slots meanwhile
        slot = FIRST + 10
        while not stop.is_set():
            _tick(store, slot, POINTS)
            shared.publish_new(store, "p07")
            wrote.set()
            slot += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        _tick(store, FIRST + 6, POINTS[:50])
        assert wrote.wait(60)
        stop.set()
        writer.join()
        published_at = time.time()
        shared.publish_new(store, "p07")
        seen = reader.ask(op="wait", version=shared.table().version())
        assert float(seen["seen_at"]) - published_at <= 60.0
        keys = [int(k) for k in RNG.choice(POINTS, 12, replace=False)] + [1, 8]
        answers = reader.points(keys, FIRST, FIRST + 8)
        for key in keys:
            expected = _expected(store, key, FIRST, FIRST + 8)
            assert answers[str(key)] == expected
            assert len(expected) >= 6
        assert answers["8"][2]["version"] == 2  # the estimate is the current value
    finally:
        stop.set()
        writer.join()


def test_compaction_while_reading_keeps_answers(world: World) -> None:
    store, shared, reader = world
    shared.publish_new(store, "p07")
    reader.ask(op="wait", version=shared.table().version())
    keys = [int(k) for k in RNG.choice(POINTS, 10, replace=False)]
    before = reader.points(keys, FIRST, FIRST + 47)
    answers: list[dict[str, list[dict[str, object]]]] = []
    done = threading.Event()

    def read_meanwhile() -> None:
        while not done.is_set():
            answers.append(reader.points(keys, FIRST, FIRST + 47))

    thread = threading.Thread(target=read_meanwhile)
    thread.start()
    try:
        compacted = shared.compact_day(DAY)
    finally:
        done.set()
        thread.join()
    assert compacted == len(POINTS)
    assert shared.status().files == {"day": 1}
    reader.ask(op="wait", version=shared.table().version())
    answers.append(reader.points(keys, FIRST, FIRST + 47))
    assert answers and all(a == before for a in answers)
    assert before == {str(k): _expected(store, k, FIRST, FIRST + 47) for k in keys}
    shared.vacuum(retention_hours=0)
    assert reader.points(keys, FIRST, FIRST + 47) == before


CRASHING_PUBLISHER = textwrap.dedent(
    """
    import os, signal, sys
    from openami.storage import shared_values
    from openami.storage.duckdb_interval import DuckIntervalStore
    shared_values.CHUNK_ROWS = int(sys.argv[3])
    store = DuckIntervalStore(sys.argv[1])
    kill = lambda rows: os.kill(os.getpid(), signal.SIGKILL)  # after the first commit
    shared_values.SharedValueStore(sys.argv[2], after_commit=kill).publish_new(store, "p03")
    """
)


def test_kill_after_commit_neither_duplicates_nor_loses(tmp_path: Path) -> None:
    store = DuckIntervalStore(tmp_path / "p03.duckdb")
    for slot in range(FIRST, FIRST + 4):
        _tick(store, slot, POINTS)
    store.close()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            CRASHING_PUBLISHER,
            str(tmp_path / "p03.duckdb"),
            str(tmp_path / "table"),
            "500",
        ],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr.decode()
    shared = SharedValueStore(tmp_path / "table")
    assert shared.table().to_pyarrow_table().num_rows == 500  # the first chunk, committed
    assert shared.watermarks("p03")[0] > 0

    store = DuckIntervalStore(tmp_path / "p03.duckdb")
    try:
        assert shared.publish_new(store, "p03") == 4 * len(POINTS) - 500
        assert shared.publish_new(store, "p03") == 0
        _tick(store, FIRST + 1, POINTS[:30], version=2)
        assert shared.publish_new(store, "p03") == 30
        table = shared.table().to_pyarrow_table(columns=["supply_point_key", "slot", "version"])
        stored = store.query("SELECT supply_point_key, slot, version FROM hh_values")
        assert table.num_rows == stored.num_rows == 4 * len(POINTS) + 30

        def triples(t: pa.Table) -> set[tuple[int, int, int]]:
            return set(zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True))

        assert triples(table) == triples(stored)  # same versions, none twice
    finally:
        store.close()


def test_bad_source_is_refused(tmp_path: Path) -> None:
    store = DuckIntervalStore(":memory:")
    with pytest.raises(ValueError, match="source"):
        SharedValueStore(tmp_path / "t").publish_new(store, "a/b")


def test_day_rows_of_a_dense_ingest_are_published_once(tmp_path: Path) -> None:
    """Day rows (one per supply point and day, values derived from the registers) are
    published as their 48 version-1 values, once."""
    store = DuckIntervalStore(":memory:")
    keys = np.arange(1, 6, dtype=np.int64)
    registers = np.cumsum(RNG.integers(0, 500, (len(keys), 48)), axis=1) + 1000
    rows = pa.table(
        {
            "supply_point_key": keys,
            "day_first_slot": np.full(len(keys), FIRST),
            "meter_id": keys + 100,
            "prev_import_register_wh": np.full(len(keys), 1000),
            "prev_export_register_wh": np.zeros(len(keys), dtype=np.int64),
            "import_register_wh": pa.array(list(registers), pa.list_(pa.int64(), 48)),
            "export_register_wh": pa.array(
                list(np.zeros((len(keys), 48), dtype=np.int64)), pa.list_(pa.int64(), 48)
            ),
            "received_at": np.full(len(keys), 1.0e9),
            "source": pa.array(np.zeros(len(keys), dtype=np.uint8)),
        }
    )
    with store.transaction() as cur:
        seq = store.next_ingest_seq()
        append_day_rows(cur, rows, seq)
        log_ingest(cur, IngestLogRow(seq, 1.0e9, 240, 240, 480, "bulk import"))
    shared = SharedValueStore(tmp_path / "table")
    assert shared.publish_new(store, "p01") == 5 * 48
    assert shared.publish_new(store, "p01") == 0
    table = shared.table().to_pyarrow_table(columns=["supply_point_key", "slot", "import_wh"])
    published = sorted(zip(*(c.to_pylist() for c in table.columns), strict=True))
    stored = store.query(
        "SELECT supply_point_key, slot, import_wh FROM half_hour_values ORDER BY 1, 2"
    )
    assert published == list(zip(*(c.to_pylist() for c in stored.columns), strict=True))
    assert published[1][2] == int(registers[0, 1] - registers[0, 0])


def test_slot_values_and_sums_equal_the_working_store(world: World) -> None:
    store, shared, _ = world
    shared.publish_new(store, "p07")
    reader = SharedValuesReader(shared.uri)
    slot = FIRST + 2  # version-2 estimates over some values
    expected = store.query(
        """
        SELECT supply_point_key, import_wh, export_wh, version FROM half_hour_values
        WHERE slot = ? QUALIFY row_number() OVER (PARTITION BY supply_point_key
                                                  ORDER BY version DESC) = 1
        ORDER BY supply_point_key
        """,
        [slot],
    )
    got = reader.slot_values(slot).select(expected.column_names).cast(expected.schema)
    assert got.to_pylist() == expected.to_pylist()
    members = POINTS[::3]
    chosen = expected.filter(pa.array(np.isin(expected.column("supply_point_key"), members)))
    assert reader.slot_sums(slot, members) == (
        sum(chosen.column("import_wh").to_pylist()),
        sum(chosen.column("export_wh").to_pylist()),
    )
