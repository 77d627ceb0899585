"""Counter files written without fsync (`openami dlms serve --no-fsync`)."""

from __future__ import annotations

from pathlib import Path

from openami.storage.dlms_counters import MeterCounterFiles


def test_counter_files_without_fsync_still_replace_atomically(tmp_path: Path) -> None:
    files = MeterCounterFiles(tmp_path / "state", sync=False)  # `dlms serve --no-fsync`
    files.save(7, {"client": 5})
    files.save(7, {"client": 9})
    assert files.load(7) == {"client": 9}
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["meter-7.json"]  # no temp left
    assert (tmp_path / "state" / "meter-7.json").stat().st_mode & 0o777 == 0o600
