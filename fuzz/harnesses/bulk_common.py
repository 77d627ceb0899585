"""Shared by the bulk import harnesses: one known supply point with one meter installed, and
the check every import file goes through (``read_import_file`` in storage/bulk_import.py,
then ``check_rows``: the rows as text, judged by the set-based SQL of ``check_import_rows``).

Allowed: ValueError (what the import documents and the CLI reports: a missing column, an
unreadable file; pyarrow's ArrowInvalid is one) and OSError. Checks: every row of a file
that reads is accounted for, good or bad or a repeat, and every bad row has a line number
and a reason.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from fuzz.engine import Finding
from openami.mdms.bulk import check_rows
from openami.mdms.vee_config import load_vee_config
from openami.storage.bulk_import import read_import_file

ALLOWED = (ValueError, OSError)
SP_ID = "0300000000000000000110"
METER_ID = 1001
INSTALLED_S = 1_785_000_000.0  # 2026-07-25, before every seed row


def _tables() -> tuple[pa.Table, pa.Table]:
    keys = pa.table({"supply_point_id": [SP_ID], "supply_point_key": pa.array([1], pa.int64())})
    installations = pa.table(
        {
            "meter_id": pa.array([METER_ID], pa.int64()),
            "supply_point_key": pa.array([1], pa.int64()),
            "valid_from": pa.array([INSTALLED_S], pa.float64()),
            "valid_to": pa.array([None], pa.float64()),
        }
    )
    return keys, installations


def make_one_input(suffix: str, header_lines: int) -> Callable[[bytes], None]:
    keys, installations = _tables()
    cfg = load_vee_config()
    folder = Path(tempfile.mkdtemp(prefix="openami-fuzz-"))
    os.chmod(folder, 0o700)
    path = folder / f"import{suffix}"

    def one_input(data: bytes) -> None:
        path.write_bytes(data)
        table = read_import_file(path)
        check = check_rows(table, keys, installations, cfg, 1_800_000_000.0, header_lines)
        accounted = check.reads.num_rows + len(check.bad) + check.same_duplicates
        if check.rows != table.num_rows or accounted != check.rows:
            raise Finding(f"{check.rows} rows, {accounted} accounted for")
        last = check.rows + header_lines
        if not all(header_lines < line <= last and reason for line, reason in check.bad):
            raise Finding(f"a bad row without its line or reason: {check.bad}")

    return one_input
