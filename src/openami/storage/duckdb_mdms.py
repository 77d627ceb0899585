"""MDMS tables next to the interval store (same DuckDB file) and their batch operations
(the tables are created by ``storage/mdms_schema.py``).

- ``meter_master``: register digits, register unit and multiplier per meter (VEE V04/V11);
- ``meter_events``: outage, disconnected, tamper, reset, test periods per meter (V08/V10);
- ``vee_history``: running mean import per supply point (V06 spike reference);
- ``final_periods``: slot ranges declared final (values there are no longer preliminary).

Every function takes a cursor from :meth:`DuckIntervalStore.transaction`, so a VEE ingest
is one transaction: after a crash all of it is stored or none of it.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openami.storage.slot_sql import of_day

VALUE_SCHEMA = pa.schema(
    [
        ("supply_point_key", pa.int64()),
        ("slot", pa.int64()),
        ("import_wh", pa.int64()),
        ("export_wh", pa.int64()),
        ("qcode", pa.uint8()),
        ("version", pa.int32()),
        ("vee_flags", pa.int32()),
    ]
)


def _bounds(table: pa.Table, column: str) -> list[int]:
    """[min, max] of an integer column: a range predicate lets zone maps skip row groups."""
    mm = pc.min_max(table.column(column))
    lo, hi = mm["min"].as_py(), mm["max"].as_py()
    return [0, -1] if lo is None else [int(lo), int(hi)]


def existing_reads(cur: duckdb.DuckDBPyConnection, meters: pa.Table, lo: int, hi: int) -> pa.Table:
    """Current read (latest ingest) per (meter, boundary) for boundaries ``lo..hi``.

    DuckDB only filters and sorts by (meter, boundary, ingest_seq); the latest read per key
    is picked in NumPy (a window function costs several times more on a million reads).
    When ``meters`` is a whole range of meter IDs, the range predicate alone selects them."""
    bounds = _bounds(meters, "meter_id")
    ids = np.asarray(meters.column("meter_id").to_numpy(), dtype=np.int64)
    dense = bounds[1] - bounds[0] + 1 == len(ids) and (
        len(ids) < 2 or bool(np.all(ids[1:] > ids[:-1]))
    )
    member = "" if dense else "AND meter_id IN (SELECT meter_id FROM q_meters)"
    if not dense:
        cur.register("q_meters", meters)
    got = cur.sql(
        f"""
        SELECT meter_id, boundary, import_register_wh, export_register_wh
        FROM reads_between(?, ?)
        WHERE meter_id BETWEEN ? AND ? {member}
        ORDER BY meter_id, boundary, ingest_seq
        """,
        params=[lo, hi, *bounds],
    ).to_arrow_table()
    return latest_reads(got)


def duplicate_rows(cur: duckdb.DuckDBPyConnection, batch: pa.Table, lo: int, hi: int) -> np.ndarray:
    """Row numbers (column ``row``) of batch reads identical to one already stored."""
    bounds = [lo, hi, *_bounds(batch, "meter_id")]
    any_stored = cur.execute(
        "SELECT 1 FROM reads_between(?, ?) WHERE meter_id BETWEEN ? AND ? LIMIT 1",
        bounds,
    ).fetchall()
    if not any_stored:  # new ground: nothing to compare (zone maps answer this)
        return np.zeros(0, dtype=np.int64)
    cur.register("q_batch", batch)
    table = cur.sql(
        """
        SELECT b.row FROM q_batch b SEMI JOIN (
            SELECT meter_id, boundary, import_register_wh, export_register_wh
            FROM reads_between(?, ?) WHERE meter_id BETWEEN ? AND ?) r
        ON r.meter_id = b.meter_id AND r.boundary = b.boundary
           AND r.import_register_wh = b.import_register_wh
           AND r.export_register_wh IS NOT DISTINCT FROM b.export_register_wh
        """,
        params=bounds,
    ).to_arrow_table()
    return table.column("row").to_numpy()


def current_versions(
    cur: duckdb.DuckDBPyConnection, keys: pa.Table, first_slot: int, last_slot: int
) -> pa.Table:
    """Latest version per (supply point, slot) in the slot range for the given keys.

    DuckDB filters and sorts by (key, slot, version); the last row of each (key, slot) is
    picked in NumPy (a GROUP BY with arg_max of four columns costs about 4× as much on two
    million values). A whole range of keys needs no membership test; other keys are joined
    (a tick's look-back asks for a few thousand keys scattered over a million: the join
    took 40 ms where ``IN (SELECT …)`` took 61 and a constant list 248)."""
    bounds = _bounds(keys, "supply_point_key")
    k = np.asarray(keys.column("supply_point_key").to_numpy(), dtype=np.int64)
    dense = bounds[1] - bounds[0] + 1 == len(k) and (len(k) < 2 or bool(np.all(k[1:] > k[:-1])))
    source = "hh_slots(?, ?) v"
    if not dense:
        cur.register("q_keys", keys.select(["supply_point_key"]))
        source = (  # DISTINCT: a key given twice still gives its versions once
            "(SELECT DISTINCT supply_point_key FROM q_keys) k "
            "JOIN hh_slots(?, ?) v USING (supply_point_key)"
        )
    got = cur.sql(
        f"""
        SELECT supply_point_key, v.slot, v.version, v.import_wh, v.export_wh, v.quality
        FROM {source}
        WHERE supply_point_key BETWEEN ? AND ?
        ORDER BY supply_point_key, v.slot, v.version
        """,
        params=[first_slot, last_slot, *bounds],
    ).to_arrow_table()
    return last_per_key(got, "supply_point_key", "slot")


def append_day_rows(cur: duckdb.DuckDBPyConnection, rows: pa.Table, seq: int) -> None:
    """Append day rows (``day_rows`` columns but ``ingest_seq``; the per-read and per-value
    list columns only where a row was packed from narrow rows), one per supply point and day."""
    cur.register("q_day_rows", rows)
    cols = [c for c in DAY_ROW_COLUMNS if c in rows.column_names]
    names = ", ".join(cols)
    cur.execute(
        f"INSERT INTO day_rows ({names}, ingest_seq) SELECT {names}, ? FROM q_day_rows", [seq]
    )


#: columns of ``day_rows`` an appended row may give (``ingest_seq`` comes from the ingest)
DAY_ROW_COLUMNS = (
    "supply_point_key",
    "day_first_slot",
    "meter_id",
    "prev_import_register_wh",
    "prev_export_register_wh",
    "import_register_wh",
    "export_register_wh",
    "import_wh",
    "export_wh",
    "qcode",
    "vee_flags",
    "received_at",
    "source",
    "read_received_at",
    "read_source",
    "read_seq",
    "value_recorded_at",
    "max_import_wh",
)


def history(cur: duckdb.DuckDBPyConnection, keys: pa.Table) -> pa.Table:
    """Running means of the given supply points, by key.

    The key range lets zone maps skip the rest of the table; a whole range of keys (sorted,
    each once) needs no membership test."""
    bounds = _bounds(keys, "supply_point_key")
    k = np.asarray(keys.column("supply_point_key").to_numpy(), dtype=np.int64)
    dense = bounds[1] - bounds[0] + 1 == len(k) and (len(k) < 2 or bool(np.all(k[1:] > k[:-1])))
    member = "" if dense else "AND supply_point_key IN (SELECT supply_point_key FROM q_hkeys)"
    if not dense:
        cur.register("q_hkeys", keys)
    return cur.sql(
        "SELECT supply_point_key, n, mean_wh FROM vee_history "
        f"WHERE supply_point_key BETWEEN ? AND ? {member} ORDER BY supply_point_key",
        params=bounds,
    ).to_arrow_table()


def update_history(cur: duckdb.DuckDBPyConnection, stats: pa.Table, cap: int) -> None:
    """Fold per-key (n, sum_wh) of a batch into the running means (n capped at ``cap``).

    The stored means are read for the batch's key range only (zone maps), not the whole
    table; keys already unique and sorted skip the grouping. Keys with a stored mean are
    UPDATEd (n and mean_wh only, so the primary-key index is left alone) and the others
    INSERTed: INSERT OR REPLACE, which deletes and re-inserts index entries, cost about
    1.7× as much for a million stored keys and for a million new ones."""
    keys = np.asarray(stats.column("supply_point_key").to_numpy(), dtype=np.int64)
    n_pos = np.asarray(pc.fill_null(stats.column("n"), 0).to_numpy(), dtype=np.int64) > 0
    unique = len(keys) < 2 or bool(np.all(keys[1:] > keys[:-1]))
    source = (
        "q_stats"
        if unique
        else "(SELECT supply_point_key, sum(n) AS n, sum(sum_wh) AS sum_wh "
        "FROM q_stats GROUP BY supply_point_key)"
    )
    bounds = _bounds(stats, "supply_point_key")
    stored = cur.execute(
        "SELECT 1 FROM vee_history WHERE supply_point_key BETWEEN ? AND ? LIMIT 1", bounds
    ).fetchall()
    cur.register("q_stats", stats)
    fold = f"""
        SELECT s.supply_point_key,
               LEAST(COALESCE(h.n, 0) + s.n, ?) AS n,
               (COALESCE(h.mean_wh, 0) * GREATEST(LEAST(COALESCE(h.n, 0), ? - s.n), 0)
                + s.sum_wh) / (GREATEST(LEAST(COALESCE(h.n, 0), ? - s.n), 0) + s.n) AS mean_wh
        FROM {source} s
        {{join}} JOIN (SELECT supply_point_key, n, mean_wh FROM vee_history
                   WHERE supply_point_key BETWEEN ? AND ?) h USING (supply_point_key)
        WHERE s.n > 0 {{new}}
        """
    params = [cap, cap, cap, *bounds]
    if stored:
        row = cur.execute(
            "UPDATE vee_history SET n = f.n, mean_wh = f.mean_wh FROM ("
            + fold.format(join="", new="")
            + ") f WHERE vee_history.supply_point_key = f.supply_point_key",
            params,
        ).fetchone()
        if unique and row is not None and int(row[0]) == int(np.count_nonzero(n_pos)):
            return  # every key had a stored mean
    cur.execute(
        "INSERT INTO vee_history " + fold.format(join="LEFT", new="AND h.n IS NULL"), params
    )


def set_history(cur: duckdb.DuckDBPyConnection, stats: pa.Table, stored: np.ndarray) -> None:
    """Write running means computed by the caller (``supply_point_key`` sorted and unique,
    ``n``, ``mean_wh``): rows where ``stored`` is set replace the stored mean of their key,
    the others are new keys. Used by the tick path, which carries the means in memory and
    folds them itself, so that what it keeps and what is stored are the same numbers.

    Keys that are a whole range (every key from the first to the last: a tick's part) are
    written by deleting the range's stored means and appending the new ones: DuckDB marks
    the deleted rows (whole row groups are dropped at the next checkpoint) and appends
    column-wise, about a quarter of the CPU of UPDATE ... FROM, which joins and keeps undo
    data per row (2 M means: 0.22 s against 0.86 s). Any other key set is UPDATEd."""
    mask = np.asarray(stored, dtype=np.bool_)
    bounds = _bounds(stats, "supply_point_key")
    if stats.num_rows and bounds[1] - bounds[0] + 1 == stats.num_rows:
        # sorted, unique and no gap: every stored mean in the range is one of these keys
        cur.execute("DELETE FROM vee_history WHERE supply_point_key BETWEEN ? AND ?", bounds)
        _insert_history(cur, stats)
        return
    if mask.any():
        upd = stats if mask.all() else stats.filter(pa.array(mask))
        cur.register("q_set_history", upd)
        cur.execute(
            "UPDATE vee_history SET n = q.n, mean_wh = q.mean_wh FROM q_set_history q "
            "WHERE vee_history.supply_point_key = q.supply_point_key "
            "AND vee_history.supply_point_key BETWEEN ? AND ?",
            _bounds(upd, "supply_point_key"),
        )
        cur.unregister("q_set_history")
    if not mask.all():
        _insert_history(cur, stats.filter(pa.array(~mask)))


def _insert_history(cur: duckdb.DuckDBPyConnection, means: pa.Table) -> None:
    cur.register("q_new_history", means)
    cur.execute("INSERT INTO vee_history SELECT supply_point_key, n, mean_wh FROM q_new_history")
    cur.unregister("q_new_history")


def meters_with_reads_from(
    cur: duckdb.DuckDBPyConnection, meters: pa.Table, first_boundary: int
) -> np.ndarray:
    """Sorted meter IDs of ``meters`` (sorted ``meter_id``) with any read at or after
    ``first_boundary`` (at the frontier of the ticks there are none: zone maps answer)."""
    m_lo, m_hi = _bounds(meters, "meter_id")
    cur.register("q_after_meters", meters)
    got = cur.sql(
        "SELECT DISTINCT r.meter_id FROM reads_between(?, ?) r "
        "SEMI JOIN q_after_meters m ON m.meter_id = r.meter_id "
        "WHERE r.meter_id BETWEEN ? AND ? ORDER BY 1",
        params=[first_boundary, 2**21, m_lo, m_hi],
    ).to_arrow_table()
    return np.asarray(got.column(0).to_numpy(), dtype=np.int64)


def keys_with_values_from(
    cur: duckdb.DuckDBPyConnection, keys: pa.Table, first_slot: int
) -> np.ndarray:
    """Sorted supply point keys of ``keys`` (sorted ``supply_point_key``) with any value
    version at or after ``first_slot``."""
    k_lo, k_hi = _bounds(keys, "supply_point_key")
    cur.register("q_after_keys", keys)
    got = cur.sql(
        "SELECT DISTINCT v.supply_point_key FROM hh_slots(?, ?) v "
        "SEMI JOIN q_after_keys k ON k.supply_point_key = v.supply_point_key "
        "WHERE v.supply_point_key BETWEEN ? AND ? ORDER BY 1",
        params=[first_slot, 2**21, k_lo, k_hi],
    ).to_arrow_table()
    return np.asarray(got.column(0).to_numpy(), dtype=np.int64)


#: an outage whose restore event never came is assumed over after this long
OPEN_OUTAGE_S = 86_400.0

_EVENTS = """
WITH points AS (
    SELECT meter_id, kind, start_s AS t FROM meter_events
    WHERE kind IN ('last_gasp', 'restore')),
paired AS (
    SELECT meter_id, kind, t,
           lead(t) OVER w AS next_t, lead(kind) OVER w AS next_kind
    FROM points WINDOW w AS (PARTITION BY meter_id ORDER BY t, kind)),
events AS (
    SELECT meter_id, kind, start_s, end_s FROM meter_events
    WHERE kind NOT IN ('last_gasp', 'restore')
    UNION ALL
    SELECT meter_id, 'outage', t,
           CASE WHEN next_kind = 'restore' THEN next_t
                ELSE least(COALESCE(next_t, t + $open), t + $open) END
    FROM paired WHERE kind = 'last_gasp')
SELECT meter_id, kind, start_s, end_s FROM events
WHERE start_s < ? AND end_s > ? ORDER BY meter_id, start_s
"""


def events_between(cur: duckdb.DuckDBPyConnection, start_s: float, end_s: float) -> pa.Table:
    """Event periods overlapping ``[start_s, end_s)``; last-gasp/restore pairs become
    outages (a last gasp without restore lasts until the next last gasp, at most a day)."""
    if not cur.execute("SELECT 1 FROM meter_events LIMIT 1").fetchall():
        return pa.table(
            {
                "meter_id": pa.array([], pa.int64()),
                "kind": pa.array([], pa.string()),
                "start_s": pa.array([], pa.float64()),
                "end_s": pa.array([], pa.float64()),
            }
        )
    return cur.sql(
        _EVENTS.replace("$open", repr(OPEN_OUTAGE_S)), params=[end_s, start_s]
    ).to_arrow_table()


def final_through(cur: duckdb.DuckDBPyConnection) -> pa.Table:
    return cur.sql("SELECT first_slot, last_slot FROM final_periods").to_arrow_table()


def reads_at_day_start(
    cur: duckdb.DuckDBPyConnection, meters: pa.Table, lo: int, hi: int
) -> pa.Table:
    """Current read per (meter, boundary) at JST day starts ``lo..hi`` (boundaries
    ``≡ 30 mod 48``), for the meters in ``meters`` (sorted ``meter_id``): narrow reads at
    those boundaries and the last read of the day rows that end there.

    Two plain range scans; the membership, the NULL test of a day row's last read and the
    pick of the latest read are done in Arrow/NumPy afterwards (in SQL the list-element
    NULL test alone cost more than the scan)."""
    m_lo, m_hi = _bounds(meters, "meter_id")
    p = {"lo": lo, "hi": hi, "mlo": m_lo, "mhi": m_hi}
    narrow = cur.sql(
        f"""
        SELECT meter_id, boundary, import_register_wh, export_register_wh, ingest_seq
        FROM hh_reads
        WHERE boundary BETWEEN $lo AND $hi AND {of_day("boundary")} = 0
          AND meter_id BETWEEN $mlo AND $mhi
        """,
        params=p,
    ).to_arrow_table()
    wide = cur.sql(
        """
        SELECT meter_id, day_first_slot + 48 AS boundary,
               import_register_wh[48] AS import_register_wh,
               export_register_wh[48] AS export_register_wh, ingest_seq
        FROM day_rows
        WHERE day_first_slot BETWEEN $lo - 48 AND $hi - 48 AND meter_id BETWEEN $mlo AND $mhi
        """,
        params=p,
    ).to_arrow_table()
    got = pa.concat_tables([narrow, wide.cast(narrow.schema)])
    keep = pc.and_(
        pc.is_valid(got.column("import_register_wh")),
        pc.is_in(got.column("meter_id"), value_set=meters.column("meter_id").combine_chunks()),
    )
    got = got.filter(keep)
    order = pc.sort_indices(
        got, [("meter_id", "ascending"), ("boundary", "ascending"), ("ingest_seq", "ascending")]
    )
    got = got.take(order).select(
        ["meter_id", "boundary", "import_register_wh", "export_register_wh"]
    )
    return latest_reads(got)


def latest_reads(got: pa.Table) -> pa.Table:
    """The current read of each (meter_id, boundary) of reads sorted by (meter, boundary,
    ingest_seq)."""
    return last_per_key(got, "meter_id", "boundary")


def last_per_key(got: pa.Table, a: str, b: str) -> pa.Table:
    """The last row of each (a, b) of rows sorted by (a, b, then what makes the last row the
    latest): picked in NumPy, as a window function costs several times more on a million
    rows."""
    n = got.num_rows
    if n < 2:
        return got
    ka = np.asarray(got.column(a).to_numpy(), dtype=np.int64)
    kb = np.asarray(got.column(b).to_numpy(), dtype=np.int64)
    last = np.ones(n, dtype=np.bool_)
    last[:-1] = (ka[1:] != ka[:-1]) | (kb[1:] != kb[:-1])
    return got if bool(last.all()) else got.filter(pa.array(last))
