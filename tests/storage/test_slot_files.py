"""Slot files on disk: the split by retailer, complete-or-absent files under kill -9, a
restart that finishes a pass without writing a completed file twice, safe names."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from openami.storage.slot_files import SlotFileStore
from openami.storage.slot_files_layout import parse_file_id, recipient_dir

SLOT = 985_000
RECIPIENTS = ["R-BIG", "R-MID", "R/../../etc", "R-NONE", "R-SMALL"]


def values(n: int, seed: int = 1) -> pa.Table:
    """Random points in key order, each with a recipient code (R-NONE gets none)."""
    rng = np.random.default_rng(seed)
    codes = rng.choice([0, 0, 0, 1, 1, 2, 4], size=n).astype(np.int32)
    keys = np.arange(1, n + 1, dtype=np.int64) * 7
    ts = pa.timestamp("ms", tz="UTC")
    return pa.table(
        {
            "recipient": codes,
            "supply_point_key": keys,
            "supply_point_id": [f"03{k:020d}" for k in keys],
            "slot_start": pa.array(np.full(n, SLOT * 1_800_000), ts),
            "import_wh": rng.integers(0, 3000, n),
            "export_wh": rng.integers(0, 500, n),
            "quality": pa.array(rng.choice(["measured", "estimated", "missing"], n)),
            "version": rng.integers(1, 3, n).astype(np.int32),
            "recorded_at": pa.array(np.full(n, SLOT * 1_800_000 + 4_000_000), ts),
        }
    )


def test_each_retailer_gets_exactly_its_rows(tmp_path: Path) -> None:
    table = values(5000)
    store = SlotFileStore(tmp_path, None)  # type: ignore[arg-type]  # writing needs no store
    manifest = store.write(SLOT, "deadline", 0, table, RECIPIENTS, 1.0e9)
    codes = table.column("recipient").to_numpy()
    assert "R-NONE" not in manifest.rows  # no rows, no file
    for code, recipient in enumerate(RECIPIENTS):
        expected = table.filter(pa.array(codes == code))
        files = {f.fmt: f for f in store.files_of(recipient, SLOT)}
        if expected.num_rows == 0:
            assert files == {}
            continue
        assert manifest.rows[recipient] == expected.num_rows == files["parquet"].rows
        got = pq.read_table(
            store.layout.file_path(recipient, parse_file_id(files["parquet"].file_id))
        )  # type: ignore[arg-type]
        assert (
            got.column("supply_point_id").to_pylist()
            == expected.column("supply_point_id").to_pylist()
        )
        assert got.column("import_wh").to_pylist() == expected.column("import_wh").to_pylist()
        assert files["csv"].size_bytes is None  # listed, derived on the first download
        derived = store.file(recipient, files["csv"].file_id)
        assert derived is not None and derived.size_bytes is not None
        assert derived.etag == files["csv"].etag  # the ETag does not change on derivation
        csv_bytes = b"".join(store.chunks(recipient, derived))
        assert len(csv_bytes) == derived.size_bytes
        csv = pcsv.read_csv(
            pa.BufferReader(csv_bytes),
            convert_options=pcsv.ConvertOptions(column_types={"supply_point_id": pa.string()}),
        )
        assert (
            csv.column("supply_point_id").to_pylist() == got.column("supply_point_id").to_pylist()
        )
        assert csv.column("quality").to_pylist() == got.column("quality").to_pylist()
        assert str(csv.column("slot_start")[0]).startswith(str(got.column("slot_start")[0])[:19])
    # a hostile retailer ID stays one directory under the root
    assert recipient_dir("R/../../etc").startswith("~")
    for path in tmp_path.rglob("*"):
        assert path.resolve().is_relative_to(tmp_path.resolve())


def test_file_ids_are_parsed_not_joined() -> None:
    assert parse_file_id(f"{SLOT}-deadline-000.parquet") is not None
    for bad in (
        "../x.parquet",
        f".{SLOT}-deadline-000.parquet.tmp-12",
        f"{SLOT}-deadline-000.parquet/../../a",
        f"{SLOT}-final-000.csv",
        f"{SLOT}-deadline-000.exe",
    ):
        assert parse_file_id(bad) is None


_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from openami.storage import slot_files, slot_files_formats
    from tests.storage.test_slot_files import RECIPIENTS, SLOT, values

    calls = []
    csv_table = slot_files_formats.csv_table

    def hang_in_the_second_file(table):  # the first pair completes, the second is cut short
        calls.append(1)
        if len(calls) >= 2:
            print("writing", flush=True)
            time.sleep(600)
        return csv_table(table)

    slot_files_formats.csv_table = hang_in_the_second_file
    store = slot_files.SlotFileStore(Path(sys.argv[1]), None, threads=1, eager_csv=True)
    store.write(SLOT, "deadline", 0, values(5000), RECIPIENTS, 1.0e9)
    """
)


def test_kill_9_mid_write_leaves_no_listed_file_and_a_rerun_completes(tmp_path: Path) -> None:
    root = tmp_path / "files"
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(root)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"writing"  # inside the write, not before
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    temps = [p for p in root.rglob("*") if p.is_file() and ".tmp-" in p.name]
    assert temps and all(p.name.startswith(".") for p in temps)
    store = SlotFileStore(root, None, eager_csv=True)  # type: ignore[arg-type]
    assert all(store.files_of(r, SLOT) == [] for r in RECIPIENTS)  # nothing listed
    assert store.pending() == []  # and no announcement of a pass that never completed
    # the restarted writer completes the pass; a file it had finished is left alone
    finished = sorted(p for p in root.rglob("*.csv") if not p.name.startswith("."))
    assert finished  # the first retailer's pair was complete before the kill
    before = {p: p.stat().st_mtime_ns for p in finished}
    time.sleep(0.01)
    manifest = store.write(SLOT, "deadline", 0, values(5000), RECIPIENTS, 1.0e9)
    assert {p: p.stat().st_mtime_ns for p in finished} == before
    for recipient in manifest.rows:
        listed = store.files_of(recipient, SLOT)
        assert {f.fmt for f in listed} == {"parquet", "csv"}
        parquet = next(f for f in listed if f.fmt == "parquet")
        path = store.layout.file_path(recipient, parse_file_id(parquet.file_id))  # type: ignore[arg-type]
        assert pq.read_table(path).num_rows == manifest.rows[recipient]
    assert not [p for p in root.rglob("*") if ".tmp-" in p.name]  # stale temporaries gone
    assert [m.pass_name for m in store.pending()] == ["deadline-000"]
