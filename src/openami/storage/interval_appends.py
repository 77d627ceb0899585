"""The VEE ingest's appends of register reads and value versions to the interval store,
each routed to the narrow table of a tick or to the wide one (``interval_schema.py``).

DuckDB's append costs about the same per column whether the column holds data, a constant
or NULL (16 ms per million cells for a constant, 31 for random 64-bit integers, 19 for
random 32-bit ones, measured), so what a tick writes goes to tables with as few columns as
it needs: what is the same for a whole append (boundary or slot, source, ingest sequence,
time of recording) is stored once, in a batch row.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from openami.storage.interval_schema import DEFAULT_REASON

#: an optional boolean column of ``append_reads``' input: append only the rows where it is set
TAKE_COLUMN = "take_row"


_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def append_reads(cur: duckdb.DuckDBPyConnection, reads: pa.Table, seq: int) -> None:
    """Append register reads (``READ_SCHEMA`` columns, optionally ``TAKE_COLUMN``).

    A tick's reads (one boundary, one source, registers within 32 bits) go to the narrow
    ``hh_tick_reads``: meter, the two registers as 32-bit integers, when received and a
    batch number, with the boundary, source and ingest sequence once per append in
    ``hh_tick_read_batches``. DuckDB's append costs about the same per column whether the
    column holds data or one constant, so a tick's reads cost 5 columns instead of 7.
    Anything else goes to ``hh_read_rows``; the view ``hh_reads`` reads both."""
    cur.register("q_new_reads", reads)
    where = f" WHERE {TAKE_COLUMN}" if TAKE_COLUMN in reads.column_names else ""
    shape = _tick_read_shape(reads)
    if shape is None:
        cur.execute(
            "INSERT INTO hh_read_rows SELECT meter_id, boundary, import_register_wh, "
            f"export_register_wh, received_at, source, ? FROM q_new_reads{where}",
            [seq],
        )
        return
    row = cur.execute("SELECT nextval('hh_tick_read_batch')").fetchone()
    batch = int(row[0]) if row else 0
    cur.execute("INSERT INTO hh_tick_read_batches VALUES (?, ?, ?, ?)", [batch, *shape, seq])
    cur.execute(
        "INSERT INTO hh_tick_reads SELECT meter_id, import_register_wh, export_register_wh, "
        f"received_at, ? FROM q_new_reads{where}",
        [batch],
    )


def _tick_read_shape(reads: pa.Table) -> tuple[int, int] | None:
    """(boundary, source) of reads that fit ``hh_tick_reads``: one boundary, one source,
    registers within 32 bits (``None`` if they do not, or there are none)."""
    if reads.num_rows == 0:
        return None
    shape = []
    for name in ("boundary", "source"):
        span = pc.min_max(reads.column(name))
        low, high = span["min"].as_py(), span["max"].as_py()
        if low is None or low != high:
            return None
        shape.append(int(low))
    if not all(_fits_int32(reads.column(n)) for n in ("import_register_wh", "export_register_wh")):
        return None
    return shape[0], shape[1]


def _fits_int32(column: pa.ChunkedArray) -> bool:
    """Every value of the column (nulls aside) fits a 32-bit integer."""
    span = pc.min_max(column)
    low, high = span["min"].as_py(), span["max"].as_py()
    return low is None or (low >= _INT32_MIN and high <= _INT32_MAX)


def append_values(
    cur: duckdb.DuckDBPyConnection,
    values: pa.Table,
    recorded_at: float,
    reason: str,
    method: str | None = None,
    final: bool = False,
    edited_by: str | None = None,
) -> int:
    """Append value versions (``VALUE_SCHEMA`` columns, import/export null where not known,
    optionally a per-row ``method`` column that overrides ``method``).

    First versions with the usual provenance (the default reason, no method, not final, no
    editor: every value of an A-route tick) whose energies fit 32 bits go to the narrow
    ``hh_tick_values``, anything else to ``hh_value_versions``; the view ``hh_values``
    reads both. DuckDB's append costs about the same per column whether the column holds
    data, a constant or NULL, and a 32-bit column less than a 64-bit one, so a tick's
    values cost 7 columns instead of 13."""
    cur.register("q_values", values)
    slot = _tick_value_slot(values, reason, method, final, edited_by)
    if slot is not None:
        row = cur.execute("SELECT nextval('hh_tick_value_batch')").fetchone()
        batch = int(row[0]) if row else 0
        cur.execute(
            "INSERT INTO hh_tick_value_batches VALUES (?, ?, ?)", [batch, slot, recorded_at]
        )
        cur.execute(
            "INSERT INTO hh_tick_values (supply_point_key, import_wh, export_wh, qcode, "
            "vee_flags, batch) SELECT supply_point_key, import_wh, export_wh, qcode, "
            "vee_flags, ? FROM q_values",
            [batch],
        )
        return values.num_rows
    method_sql = "method" if "method" in values.column_names else "?"
    # the usual reason is stored as NULL and read back through the views (no text per row)
    params: list[object] = [recorded_at, None if reason == DEFAULT_REASON else reason]
    if method_sql == "?":
        params.append(method)
    cur.execute(
        f"""
        INSERT INTO hh_value_versions (supply_point_key, slot, import_wh, export_wh, qcode,
            version, recorded_at, reason, method, vee_flags, final, edited_by)
        SELECT supply_point_key, slot, import_wh, export_wh, qcode, version,
               ?, ?, {method_sql}, vee_flags, ?, ?
        FROM q_values
        """,
        [*params, final, edited_by],
    )
    return values.num_rows


def _tick_value_slot(
    values: pa.Table, reason: str, method: str | None, final: bool, edited_by: str | None
) -> int | None:
    """The one slot of versions that fit ``hh_tick_values`` (all version 1 of one slot, the
    usual provenance, energies within 32 bits); ``None`` if they do not."""
    usual = reason == DEFAULT_REASON and method is None and not final and edited_by is None
    if not usual or "method" in values.column_names or values.num_rows == 0:
        return None
    version = pc.min_max(values.column("version"))
    if version["min"].as_py() != 1 or version["max"].as_py() != 1:
        return None
    slot = pc.min_max(values.column("slot"))
    if slot["min"].as_py() != slot["max"].as_py():
        return None
    if not all(_fits_int32(values.column(n)) for n in ("import_wh", "export_wh")):
        return None
    return int(slot["min"].as_py())
