"""The current half-hour values of one supply point over a slot range, assembled in NumPy.

The one implementation of "the current value" (``Mdms.current_values`` calls it): for each
slot that has any version, the highest version, with every column of
:data:`CURRENT_VALUES_SCHEMA`; ``final`` is set where the version was stored final or the slot
lies in a period declared final (``final_periods``).

The SQL way (``hh_point`` macro, then the highest version per slot with a window function)
spends most of its time on planning, unnesting 48 rows per day and the window; for a month
of one point that is more than the data itself. Here DuckDB only fetches the point's day rows
(one per day, zone maps prune by day and supply point) and its narrow versions as stored, and
NumPy derives the values (register differences where the value lists are NULL), lays the
narrow versions over them (a day row's values are version 1), keeps the highest per slot and
names qualities and default reasons. The result equals the SQL's (``tests/storage``).

Every query costs a few milliseconds before it reads anything, more with expressions to bind,
so there are two plain ones. The final periods, a table that changes about once a day, come
from :class:`FinalPeriods`, which reads them again only after the store committed a write.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import QCODE_NONE, QUALITY_NAMES, Quality
from openami.clock import SLOTS_PER_DAY
from openami.storage.duckdb_interval import DEFAULT_REASON, DuckIntervalStore
from openami.storage.duckdb_reads import read_query

Int64s = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

_QUALITY_BY_CODE = pa.array(QUALITY_NAMES, pa.string())
#: the code read as ``invalid``, and any code no quality has (as ``quality_sql.quality_name_sql``)
INVALID_CODE = int(Quality.INVALID)

#: what a point read takes of a day row (and of its ingest log row), also the columns of the
#: point-day files (``storage/point_days.py``)
DAY_ROW_COLUMNS = """d.day_first_slot, d.prev_import_register_wh, d.prev_export_register_wh,
       d.import_register_wh, d.export_register_wh, d.import_wh, d.export_wh, d.qcode,
       d.vee_flags, d.value_recorded_at, l.recorded_at, l.reason"""
DAY_ROWS_FROM = "FROM day_rows d JOIN ingest_log l USING (ingest_seq)"
_DAY_ROWS = f"""
SELECT {DAY_ROW_COLUMNS}
{DAY_ROWS_FROM}
WHERE d.supply_point_key = $key AND d.day_first_slot BETWEEN $lo - {SLOTS_PER_DAY - 1} AND $hi
"""
# as stored: quality names (or codes) and reasons are completed in Arrow
NARROW = """
SELECT slot, import_wh, export_wh, quality, qcode, method, vee_flags, final, version,
       recorded_at, reason, edited_by
FROM hh_values
WHERE supply_point_key = $key AND slot BETWEEN $lo AND $hi
"""
_FINAL_PERIODS = "SELECT first_slot, last_slot FROM final_periods ORDER BY first_slot"

#: the columns of the current values, in order (the contract of ``Mdms.current_values``)
CURRENT_VALUES_SCHEMA = pa.schema(
    [
        ("slot", pa.int64()),
        ("import_wh", pa.int64()),
        ("export_wh", pa.int64()),
        ("quality", pa.string()),
        ("method", pa.string()),
        ("vee_flags", pa.int32()),
        ("final", pa.bool_()),
        ("version", pa.int32()),
        ("recorded_at", pa.float64()),
        ("reason", pa.string()),
        ("edited_by", pa.string()),
    ]
)


class FinalPeriods:
    """The slot ranges declared final (first_slot, last_slot), kept in memory and read again
    only when the store has committed a write since (:attr:`DuckIntervalStore.generation`;
    one process writes a DuckDB file, so no other can change them unseen)."""

    def __init__(self, store: DuckIntervalStore) -> None:
        self._store = store
        self._generation = -1  # never read
        self._periods = pa.table(
            {"first_slot": pa.array([], pa.int64()), "last_slot": pa.array([], pa.int64())}
        )

    def table(self) -> pa.Table:
        generation = self._store.generation  # before reading: a write meanwhile reads again
        if generation != self._generation:
            self._periods = read_query(self._store, _FINAL_PERIODS, {})
            self._generation = generation
        return self._periods


class PointDayReader(Protocol):
    """A faster way to the same rows (``storage/point_days.py``): the current values, or
    ``None`` where it cannot answer (then the store is asked)."""

    def current_values(
        self, supply_point_key: int, first_slot: int, last_slot: int, final_periods: pa.Table
    ) -> pa.Table | None: ...


def current_values(
    store: DuckIntervalStore,
    supply_point_key: int,
    first_slot: int,
    last_slot: int,
    final_periods: FinalPeriods | None = None,
    point_days: PointDayReader | None = None,
) -> pa.Table:
    """Columns of :data:`CURRENT_VALUES_SCHEMA`, one row per slot with a value, by slot
    (``final_periods``: the caller's kept copy; without one they are read; ``point_days``:
    the store's point-day files, tried first)."""
    periods = (final_periods or FinalPeriods(store)).table()
    if point_days is not None:
        fast = point_days.current_values(supply_point_key, first_slot, last_slot, periods)
        if fast is not None:
            return fast
    with store.locked():
        cur = store.cursor()
        try:
            return current_values_in(cur, supply_point_key, first_slot, last_slot, periods)
        finally:
            cur.close()


def current_values_in(
    cur: duckdb.DuckDBPyConnection,
    supply_point_key: int,
    first_slot: int,
    last_slot: int,
    final_periods: pa.Table | None = None,
) -> pa.Table:
    """:func:`current_values` on a cursor (e.g. inside a job's write transaction); the final
    periods (first_slot, last_slot) are read on it unless given."""
    params = {"key": supply_point_key, "lo": first_slot, "hi": last_slot}
    days = cur.sql(_DAY_ROWS, params=params).to_arrow_table()
    narrow = cur.sql(NARROW, params=params).to_arrow_table()
    if final_periods is None:
        final_periods = cur.sql(_FINAL_PERIODS).to_arrow_table()
    return assemble_current(days, narrow, first_slot, last_slot, final_periods)


def assemble_current(
    days: pa.Table,
    narrow: pa.Table | None,
    first_slot: int,
    last_slot: int,
    final_periods: pa.Table,
) -> pa.Table:
    """The current values in ``[first_slot, last_slot]`` from one point's day rows there
    (:data:`DAY_ROW_COLUMNS`) and narrow versions (:data:`NARROW`; ``None``: it has none):
    the rule itself, whichever way the rows were fetched."""
    parts = [_day_cells(days)] if days.num_rows else []
    if narrow is not None and narrow.num_rows:
        parts.append(_narrow_cells(narrow))
    if not parts:
        return CURRENT_VALUES_SCHEMA.empty_table()
    cells = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    if len(parts) == 1 and _one_per_slot_in_range(cells, first_slot, last_slot):
        current = cells  # e.g. whole days without later versions: nothing to pick
    else:
        current = cells.take(pa.array(_highest_version_per_slot(cells, first_slot, last_slot)))
    return _with_final_periods(current, final_periods)


def _one_per_slot_in_range(cells: pa.Table, first_slot: int, last_slot: int) -> bool:
    """Are the cells already the answer: every slot in the range, each once, by slot?"""
    slot = np.asarray(cells.column("slot").to_numpy(), dtype=np.int64)
    if len(slot) == 0:
        return True
    return bool(
        slot[0] >= first_slot
        and slot[-1] <= last_slot
        and (len(slot) == 1 or (np.diff(slot) > 0).all())
    )


def _narrow_cells(narrow: pa.Table) -> pa.Table:
    """Narrow versions in :data:`CURRENT_VALUES_SCHEMA`: the quality from its name or, where
    the ingest stored only the code, from the code (as ``quality_sql.HH_QUALITY``); the
    usual reason, stored as NULL, spelt out."""
    stored = pc.fill_null(narrow.column("qcode"), INVALID_CODE)
    codes = pc.if_else(pc.less(stored, len(QUALITY_NAMES)), stored, INVALID_CODE)
    named = _QUALITY_BY_CODE.take(codes.cast(pa.int64()))
    quality = pc.coalesce(narrow.column("quality"), named)
    reason = pc.fill_null(narrow.column("reason"), DEFAULT_REASON)
    cells = narrow.drop_columns(["qcode"])
    cells = cells.set_column(cells.schema.get_field_index("quality"), "quality", quality)
    cells = cells.set_column(cells.schema.get_field_index("reason"), "reason", reason)
    return cells.select(CURRENT_VALUES_SCHEMA.names).cast(CURRENT_VALUES_SCHEMA)


def _highest_version_per_slot(cells: pa.Table, first_slot: int, last_slot: int) -> Int64s:
    """Row numbers of the highest version of each slot in the range, by slot."""
    slot = np.asarray(cells.column("slot").to_numpy(), dtype=np.int64)
    version = np.asarray(cells.column("version").to_numpy(), dtype=np.int64)
    # narrow rows come after the day cells: on a tie (never expected) the narrow row wins
    order = np.lexsort((np.arange(len(slot)), version, slot))
    slot_sorted = slot[order]
    last_of_slot = np.ones(len(order), dtype=np.bool_)
    last_of_slot[:-1] = slot_sorted[1:] != slot_sorted[:-1]
    in_range = (slot_sorted >= first_slot) & (slot_sorted <= last_slot)
    return np.asarray(order[last_of_slot & in_range], dtype=np.int64)


def _with_final_periods(current: pa.Table, periods: pa.Table) -> pa.Table:
    """``final`` also where the slot lies in a declared final period (first_slot, last_slot;
    one step per period that overlaps the values)."""
    if periods.num_rows == 0 or current.num_rows == 0:
        return current
    slot = np.asarray(current.column("slot").to_numpy(), dtype=np.int64)
    firsts = np.asarray(periods.column("first_slot").to_numpy(), dtype=np.int64)
    lasts = np.asarray(periods.column("last_slot").to_numpy(), dtype=np.int64)
    overlapping = (firsts <= slot[-1]) & (lasts >= slot[0])
    if not overlapping.any():
        return current
    in_final = np.zeros(len(slot), dtype=np.bool_)
    for first, last in zip(firsts[overlapping], lasts[overlapping], strict=True):
        in_final |= (slot >= first) & (slot <= last)
    stored = np.asarray(
        pc.fill_null(current.column("final"), False).to_numpy(zero_copy_only=False), np.bool_
    )
    final = pa.array(stored | in_final, mask=~(in_final | current.column("final").is_valid()))
    index = CURRENT_VALUES_SCHEMA.get_field_index("final")
    return current.set_column(index, CURRENT_VALUES_SCHEMA.field(index), final)


def _matrix(column: pa.ChunkedArray, rows: int) -> tuple[Int64s, Bools]:
    """A fixed-size-list column as (rows × 48) values and validity (a NULL list: invalid)."""
    arr = column.combine_chunks()
    child = arr.values.slice(arr.offset * SLOTS_PER_DAY, rows * SLOTS_PER_DAY)
    shape = (rows, SLOTS_PER_DAY)
    if arr.null_count == 0 and child.null_count == 0:  # nearly always: every read there
        return np.asarray(child.to_numpy(), dtype=np.int64).reshape(shape), np.ones(shape, bool)
    values = np.asarray(pc.fill_null(child, 0).to_numpy(), dtype=np.int64)
    valid = np.asarray(child.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    row_valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    return values.reshape(shape), valid.reshape(shape) & row_valid[:, None]


def _lists(column: pa.ChunkedArray) -> tuple[npt.NDArray[np.float64], Bools]:
    """A variable-list column whose non-NULL lists hold 48 elements: (rows × 48) values and
    validity; rows whose list is NULL are invalid."""
    rows = len(column)
    values = np.zeros((rows, SLOTS_PER_DAY))
    valid = np.zeros((rows, SLOTS_PER_DAY), dtype=np.bool_)
    if column.null_count == rows:  # nearly every day row: no lists
        return values, valid
    present = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    if present.any():
        flat = pc.list_flatten(column)
        values[present] = np.asarray(pc.fill_null(flat, 0).to_numpy(), np.float64).reshape(
            -1, SLOTS_PER_DAY
        )
        valid[present] = np.asarray(
            flat.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_
        ).reshape(-1, SLOTS_PER_DAY)
    return values, valid


def _register_differences(days: pa.Table, registers: str, previous: str) -> tuple[Int64s, Bools]:
    """Register at each of the 48 boundaries minus the one before (the day row's previous
    read for the first): the measured values, valid where both reads are known."""
    reg, reg_ok = _matrix(days.column(registers), days.num_rows)
    prev = days.column(previous)
    if prev.null_count == 0:
        prev_value = np.asarray(prev.to_numpy(), dtype=np.int64)
        prev_ok = np.ones(len(prev_value), dtype=np.bool_)
    else:
        prev_value = np.asarray(pc.fill_null(prev, 0).to_numpy(), dtype=np.int64)
        prev_ok = np.asarray(prev.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    full = np.concatenate([prev_value[:, None], reg], axis=1)
    full_ok = np.concatenate([prev_ok[:, None], reg_ok], axis=1)
    return full[:, 1:] - full[:, :-1], full_ok[:, 1:] & full_ok[:, :-1]


#: per-value columns a day row holds as lists; all NULL where every value was measured
_PER_VALUE_LISTS = ("qcode", "vee_flags", "value_recorded_at")


@lru_cache(maxsize=64)
def _measured_constants(n: int) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array, pa.Array]:
    """The columns every one of ``n`` measured cells shares: quality, method, vee_flags,
    final, version (immutable Arrow arrays, so they are shared between answers)."""
    return (
        pa.array([QUALITY_NAMES[0]] * n, pa.string()),
        pa.nulls(n, pa.string()),
        pa.array(np.zeros(n, dtype=np.int32)),
        pa.array(np.zeros(n, dtype=np.bool_)),
        pa.array(np.ones(n, dtype=np.int32)),
    )


def _masked(values: Int64s, valid: Bools) -> pa.Array:
    return pa.array(values) if valid.all() else pa.array(values, mask=~valid)


def _measured_day_cells(days: pa.Table) -> pa.Table:
    """:func:`_day_cells` of day rows whose every value is a measured register difference
    (no per-value lists): the usual day, built with a few whole-array steps."""
    imp, imp_ok = _register_differences(days, "import_register_wh", "prev_import_register_wh")
    exp, exp_ok = _register_differences(days, "export_register_wh", "prev_export_register_wh")
    rows = days.num_rows
    n = rows * SLOTS_PER_DAY
    first = np.asarray(days.column("day_first_slot").to_numpy(), dtype=np.int64)
    row_at = np.asarray(days.column("recorded_at").to_numpy(), dtype=np.float64)
    reason = pc.fill_null(days.column("reason").combine_chunks(), DEFAULT_REASON)
    quality, method, flags, final, version = _measured_constants(n)
    return pa.table(
        [
            (first[:, None] + np.arange(SLOTS_PER_DAY)).ravel(),
            _masked(imp.ravel(), imp_ok.ravel()),
            _masked(exp.ravel(), exp_ok.ravel()),
            quality,
            method,
            flags,
            final,
            version,
            np.repeat(row_at, SLOTS_PER_DAY),
            reason.take(np.repeat(np.arange(rows), SLOTS_PER_DAY)),
            pa.nulls(n, pa.string()),
        ],
        schema=CURRENT_VALUES_SCHEMA,
    )


def _day_cells(days: pa.Table) -> pa.Table:
    """Every value a day row holds (version 1), in :data:`CURRENT_VALUES_SCHEMA`."""
    if all(days.column(name).null_count == days.num_rows for name in _PER_VALUE_LISTS):
        return _measured_day_cells(days)
    derived_imp, derived_imp_ok = _register_differences(
        days, "import_register_wh", "prev_import_register_wh"
    )
    derived_exp, derived_exp_ok = _register_differences(
        days, "export_register_wh", "prev_export_register_wh"
    )
    # value lists are NULL where every value is the measured register difference
    explicit = np.asarray(days.column("qcode").is_valid().to_numpy(zero_copy_only=False))
    listed_imp, listed_imp_ok = _lists(days.column("import_wh"))
    listed_exp, listed_exp_ok = _lists(days.column("export_wh"))
    listed_q, _ = _lists(days.column("qcode"))
    ex = explicit[:, None]
    imp = np.where(ex, listed_imp.astype(np.int64), derived_imp)
    imp_ok = np.where(ex, listed_imp_ok, derived_imp_ok)
    exp = np.where(ex, listed_exp.astype(np.int64), derived_exp)
    exp_ok = np.where(ex, listed_exp_ok, derived_exp_ok)
    qcode = np.where(ex, listed_q, 0).astype(np.int64)
    present = qcode != QCODE_NONE
    flags, _ = _lists(days.column("vee_flags"))
    value_at, value_at_ok = _lists(days.column("value_recorded_at"))
    row_at = np.asarray(days.column("recorded_at").to_numpy(), dtype=np.float64)
    recorded_at = np.where(value_at_ok, value_at, row_at[:, None])
    first = np.asarray(days.column("day_first_slot").to_numpy(), dtype=np.int64)
    slots = first[:, None] + np.arange(SLOTS_PER_DAY)
    row_of_cell = np.broadcast_to(np.arange(days.num_rows)[:, None], slots.shape)[present]
    n = int(present.sum())
    code = qcode[present]
    quality_code = np.where(code < len(QUALITY_NAMES), code, INVALID_CODE)
    return pa.table(
        [
            slots[present],
            pa.array(imp[present], mask=~imp_ok[present]),
            pa.array(exp[present], mask=~exp_ok[present]),
            _QUALITY_BY_CODE.take(pa.array(quality_code)),
            pa.nulls(n, pa.string()),
            flags[present].astype(np.int32),
            np.zeros(n, dtype=np.bool_),
            np.ones(n, dtype=np.int32),
            recorded_at[present],
            pc.fill_null(days.column("reason").combine_chunks(), DEFAULT_REASON).take(
                pa.array(row_of_cell)
            ),
            pa.nulls(n, pa.string()),
        ],
        schema=CURRENT_VALUES_SCHEMA,
    )
