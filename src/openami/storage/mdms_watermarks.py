"""How far the MDMS's recurring jobs have got, kept in the store (``mdms_watermarks``).

A watermark is a slot index under a name, e.g. the last slot the missing-value deadline has
closed: a restarted MDMS reads it and goes on from there instead of starting over.
"""

from __future__ import annotations

from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.duckdb_reads import read_query


def watermark(store: DuckIntervalStore, name: str) -> int | None:
    """The slot stored under ``name``, or ``None`` when there is none yet."""
    got = read_query(store, "SELECT slot FROM mdms_watermarks WHERE name = $name", {"name": name})
    return int(got.column("slot")[0].as_py()) if got.num_rows else None


def set_watermark(store: DuckIntervalStore, name: str, slot: int, updated_at: float) -> None:
    """Store ``slot`` under ``name`` (replacing what was there), durably. A watermark is
    nothing the VEE reads: state kept beside the store stays in step."""
    with store.transaction(counted=False) as cur:
        cur.execute(
            "INSERT OR REPLACE INTO mdms_watermarks VALUES (?, ?, ?)", [name, slot, updated_at]
        )
