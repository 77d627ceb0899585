"""Bulk import, Parquet: mutated Parquet files as import files (see
:mod:`fuzz.harnesses.bulk_common`). Seeds are real Parquet files written by pyarrow: text
columns, a zoned timestamp column, integer registers, an extra nested column."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq

from fuzz.harnesses.bulk_common import ALLOWED, METER_ID, SP_ID, make_one_input
from openami.clock import JST

__all__ = ["ALLOWED", "seeds", "setup"]
MAX_LEN = 8192


def setup() -> Callable[[bytes], None]:
    return make_one_input(".parquet", 0)


def _parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out, compression="none")
    return out.getvalue()


def seeds() -> dict[str, bytes]:
    start = datetime(2026, 11, 1, tzinfo=JST)
    times = [start + timedelta(minutes=30 * i) for i in range(4)]
    text = pa.table(
        {
            "supply_point_id": [SP_ID] * 4,
            "slot_start": [t.isoformat() for t in times],
            "import_register_wh": [str(1000 + 10 * i) for i in range(4)],
            "export_register_wh": ["0", "", None, "3"],
        }
    )
    typed = pa.table(
        {
            "supply_point_id": [SP_ID] * 4,
            "slot_start": pa.array(times, pa.timestamp("s", tz="Asia/Tokyo")),
            "import_register_wh": pa.array([1000, 1010, 1020, 1030], pa.int64()),
            "export_register_wh": pa.array([0, None, 2, 3], pa.int64()),
            "meter_id": pa.array([METER_ID] * 4, pa.int64()),
        }
    )
    naive = typed.set_column(
        1, "slot_start", pa.array(times, pa.timestamp("s")).cast(pa.timestamp("s"))
    )
    nested = typed.append_column("extra", pa.array([[1], [2], [], None], pa.list_(pa.int8())))
    listed = text.set_column(2, "import_register_wh", pa.array([[1], [2], [], None]))
    return {
        "crash-list-register": _parquet(listed),  # was ArrowNotImplementedError, now refused
        "text-columns": _parquet(text),
        "typed-columns": _parquet(typed),
        "naive-timestamps": _parquet(naive),
        "nested-extra": _parquet(nested),
    }
