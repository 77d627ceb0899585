"""Crash safety: `openami mdms ingest` killed with SIGKILL mid-import loses nothing it
acknowledged, and running it again ends in exactly the state of an uninterrupted import."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
from tests.mdms.vee_world import make_data_dir, reads_csv

EXE = str(Path(sys.executable).parent / "openami")
N = 60
SLOTS = 96
CHUNK = 240  # 97 × 60 = 5820 rows → 25 chunks of one transaction each
# in meter order a chunk is two meters' day files (opening read + 2 days): day rows
CHUNKS = {"arrival": CHUNK, "meter": 2 * (SLOTS + 1)}


def ingest(data_dir: Path, csv_path: Path, chunk: int = CHUNK) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            EXE,
            "mdms",
            "ingest",
            str(csv_path),
            "--data-dir",
            str(data_dir),
            "--chunk-rows",
            str(chunk),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def snapshot(data_dir: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    con = duckdb.connect(str(data_dir / "interval.duckdb"), read_only=True)
    try:
        reads = con.sql(
            "SELECT meter_id, boundary, import_register_wh, export_register_wh, count(*) "
            "FROM register_reads GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        values = con.sql(
            "SELECT supply_point_key, slot, import_wh, export_wh, quality, version "
            "FROM half_hour_values ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()
    return reads, values


@pytest.mark.parametrize("order", ["arrival", "meter"])
def test_sigkill_mid_ingest_loses_nothing_acknowledged_and_duplicates_nothing(
    tmp_path: Path, order: str
) -> None:
    ids = make_data_dir(tmp_path / "crash", N)
    make_data_dir(tmp_path / "clean", N)
    csv_path = reads_csv(tmp_path / "reads.csv", ids, SLOTS, order=order)
    chunk = CHUNKS[order]

    proc = ingest(tmp_path / "crash", csv_path, chunk)
    assert proc.stderr is not None
    acked = 0
    for line in proc.stderr:
        if line.startswith("committed chunk"):
            acked += 1
            if acked == 3:
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=60)
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, "the import finished before it could be killed"

    # nothing acknowledged is lost: the first 3 chunks (rows in file order) are all stored
    reads, _ = snapshot(tmp_path / "crash")
    stored = {(m, b) for m, b, *_ in reads}
    assert len(stored) >= 3 * chunk
    assert all(n == 1 for *_, n in reads)
    first_rows = csv_path.read_text().splitlines()[1 : 3 * chunk + 1]
    first_keys = {
        (1000 + ids.index(sp), int(datetime.fromisoformat(ts).timestamp()) // 1800)
        for sp, ts, *_ in (r.split(",") for r in first_rows)
    }
    assert len(first_keys) == 3 * chunk and first_keys <= stored
    assert len(stored) < N * (SLOTS + 1)  # and the kill really came mid-import

    # restart: the same command again completes the import
    again = ingest(tmp_path / "crash", csv_path, chunk)
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    clean = ingest(tmp_path / "clean", csv_path, chunk)
    _, err = clean.communicate(timeout=120)
    assert clean.returncode == 0, err

    crash_reads, crash_values = snapshot(tmp_path / "crash")
    clean_reads, clean_values = snapshot(tmp_path / "clean")
    assert len(crash_reads) == N * (SLOTS + 1) and all(n == 1 for *_, n in crash_reads)
    assert crash_reads == clean_reads
    assert len(crash_values) == N * SLOTS  # one version per value: nothing doubled
    assert {v[4] for v in crash_values} == {"measured"}
    assert crash_values == clean_values
    con = duckdb.connect(str(tmp_path / "crash" / "interval.duckdb"), read_only=True)
    try:
        day_rows = con.sql("SELECT count(*) FROM day_rows").fetchall()[0][0]
    finally:
        con.close()
    # arrival order is tick-like (narrow rows); day files become day rows
    assert day_rows == (2 * N if order == "meter" else 0)
