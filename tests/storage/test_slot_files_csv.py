"""CSV slot files derived from the Parquet files on the first download: the same bytes as
a pass that writes them eagerly, whatever the batching; complete or absent when the
deriving process is killed; listed before they exist."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tests.storage.test_slot_files import RECIPIENTS, SLOT, values

from openami.storage import slot_files, slot_files_formats
from openami.storage.slot_files import SlotFileStore
from openami.storage.slot_files_layout import parse_file_id


def _csv_bytes(store: SlotFileStore, recipient: str) -> bytes:
    listed = next(f for f in store.files_of(recipient, SLOT) if f.fmt == "csv")
    found = store.file(recipient, listed.file_id)
    assert found is not None
    return b"".join(store.chunks(recipient, found))


def test_a_derived_csv_is_byte_identical_to_an_eager_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = values(5000)
    eager = SlotFileStore(tmp_path / "eager", None, eager_csv=True)  # type: ignore[arg-type]
    eager.write(SLOT, "deadline", 0, table, RECIPIENTS, 1.0e9)
    # other parts on both sides: the eager pass in 700-row parts, the derivation in
    # 1,600-row batches of 100-row groups
    monkeypatch.setattr(slot_files, "WRITE_ROWS", 700)
    monkeypatch.setattr(slot_files_formats, "ROW_GROUP_ROWS", 100)
    lazy = SlotFileStore(tmp_path / "lazy", None)  # type: ignore[arg-type]
    manifest = lazy.write(SLOT, "deadline", 0, table, RECIPIENTS, 1.0e9)
    assert not list((tmp_path / "lazy").rglob("*.csv"))  # the pass wrote Parquet only
    for recipient in manifest.rows:
        want = _csv_bytes(eager, recipient)
        assert want.count(b"\n") == manifest.rows[recipient] + 1  # header + rows
        assert _csv_bytes(lazy, recipient) == want
        assert _csv_bytes(lazy, recipient) == want  # the second download: the kept file
    for path in (tmp_path / "lazy").rglob("*.csv"):
        assert path.stat().st_mode & 0o777 == 0o600


def test_an_unknown_or_foreign_csv_is_not_derived(tmp_path: Path) -> None:
    store = SlotFileStore(tmp_path, None)  # type: ignore[arg-type]
    manifest = store.write(SLOT, "deadline", 0, values(500), RECIPIENTS, 1.0e9)
    assert "R-NONE" not in manifest.rows
    assert store.file("R-NONE", f"{SLOT}-deadline-000.csv") is None
    assert store.file("R-BIG", f"{SLOT}-correction-001.csv") is None
    assert not list(tmp_path.rglob("*.csv"))


_KILLED_DERIVATION = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from openami.storage import slot_files, slot_files_formats

    csv_table = slot_files_formats.csv_table
    calls = []

    def hang_after_the_first_batch(table):
        calls.append(1)
        if len(calls) >= 2:
            print("deriving", flush=True)
            time.sleep(600)
        return csv_table(table)

    slot_files_formats.ROW_GROUP_ROWS = 50  # batches of 800 rows
    slot_files_formats.csv_table = hang_after_the_first_batch
    store = slot_files.SlotFileStore(Path(sys.argv[1]), None)
    store.file("R-BIG", sys.argv[2])
    """
)


def test_kill_9_mid_derivation_leaves_no_csv_and_the_next_download_derives_it(
    tmp_path: Path,
) -> None:
    root = tmp_path / "files"
    store = SlotFileStore(root, None)  # type: ignore[arg-type]
    store.write(SLOT, "deadline", 0, values(5000), RECIPIENTS, 1.0e9)
    file_id = f"{SLOT}-deadline-000.csv"
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_DERIVATION, str(root), file_id],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"deriving"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    name = parse_file_id(file_id)
    assert name is not None
    path = store.layout.file_path("R-BIG", name)
    assert not path.exists()  # absent, not half written
    assert [p.name.startswith(".") for p in path.parent.glob("*.tmp-*")] == [True]
    listed = next(f for f in store.files_of("R-BIG", SLOT) if f.fmt == "csv")
    assert listed.size_bytes is None  # still listed, still to be derived
    eager = SlotFileStore(tmp_path / "eager", None, eager_csv=True)  # type: ignore[arg-type]
    eager.write(SLOT, "deadline", 0, values(5000), RECIPIENTS, 1.0e9)
    assert _csv_bytes(store, "R-BIG") == _csv_bytes(eager, "R-BIG")
