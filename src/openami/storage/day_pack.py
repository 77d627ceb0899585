"""Packing closed A-route days: narrow rows → one day row per supply point and JST day.

A-route ticks (one read per meter per slot) land in the narrow tables ``hh_reads`` /
``hh_values``, slot-major, so one supply point's month is spread over every row group. Once
a day is closed, :func:`pack_days` moves each (supply point, day) whose narrow rows a day
row can hold *without changing anything the views return* into one ``day_rows`` row —
the meter's 48 reads with their receipt times, sources and ingest sequence numbers, the 48
values with their recording times — and deletes the narrow rows it replaced, in one
transaction. Value lists stay NULL where the view derives every value from the registers
(48 measured, unflagged register differences), as in :mod:`openami.mdms.grid`.

A (supply point, day) is packed only when
- no day row exists for it yet;
- each of its 48 slots has exactly one value version in ``hh_values``: version 1, reason
  ``register difference``, no method, not final, not edited, quality measured or invalid;
- one meter was installed at the supply point the whole day (no exchange that day);
- that meter's reads at the day's 48 boundaries (``day_first_slot + 1 … + 48``) are each
  in ``hh_reads`` exactly once (no superseded V02 duplicate);
- explicit values (when not derivable) fit 32 bits.
Every other day stays narrow, counted by its first failing condition. The read at the day's
first boundary belongs to the previous day and stays where it is; a copy goes to
``prev_*_register_wh`` so that derived values have their start.

Columnar: three range-limited SQL passes (status per day, the packable values, the packable
reads, each sorted so that a day is 48 consecutive rows) and NumPy on (days × 48) matrices.
Day rows are appended day by day in supply point order, as the dense ingest writes them, so
zone maps prune them by day for slot queries and by supply point within a day.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from openami.bus.messages import Quality
from openami.clock import SLOTS_PER_DAY, slot_of_day
from openami.storage import duckdb_mdms as db
from openami.storage.day_rows import OpeningReads, ValueLists, register_lists
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.interval_ingest import IngestLogRow, log_ingest
from openami.storage.quality_sql import HH_QUALITY, quality_sql
from openami.storage.slot_sql import day_first, installed, start_s

PACK_REASON = "register difference"
SLOTS = SLOTS_PER_DAY
I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]

#: why a (supply point, day) stays narrow, in the order the conditions are checked
REASONS = (
    "day row exists",
    "incomplete day",
    "several versions",
    "not a plain measured version",
    "not one meter all day",
    "reads missing or duplicated",
    "value over 32 bits",
)

#: the last slot of the JST day that starts at slot ``v.day_first_slot``
_DAY_LAST = f"v.day_first_slot + {SLOTS - 1}"

# One row per (supply point, day) with narrow values in the range, and the first condition
# (REASONS) it fails, NULL when packable. Days are JST days (``slot_sql.day_first``).
_STATUS = f"""
WITH v AS (
    SELECT supply_point_key, {day_first("slot")} AS day_first_slot,
           count(*) AS n_values, count(DISTINCT slot) AS n_slots,
           bool_and(version = 1) AS first_versions,
           bool_and(reason IS NULL OR reason = 'register difference') AND bool_and(method IS NULL
                    AND NOT COALESCE(final, false) AND edited_by IS NULL
                    AND {HH_QUALITY} IN {quality_sql(Quality.MEASURED, Quality.INVALID)}
                    AND vee_flags IS NOT NULL AND vee_flags >= 0) AS plain
    FROM hh_values WHERE slot BETWEEN $lo AND $hi
    GROUP BY ALL),
inst AS (
    SELECT v.supply_point_key, v.day_first_slot,
           count(*) AS n_overlap,
           count(*) FILTER (WHERE {installed("i", "v.day_first_slot", _DAY_LAST)}) AS n_cover,
           max(i.meter_id) AS meter_id
    FROM v JOIN q_pack_installs i ON i.supply_point_key = v.supply_point_key
        AND i.valid_from < {start_s("v.day_first_slot + 48")}
        AND (i.valid_to IS NULL OR i.valid_to > {start_s("v.day_first_slot")})
    GROUP BY ALL),
r AS (
    SELECT meter_id, {day_first("boundary - 1")} AS day_first_slot,
           count(*) AS n_reads, count(DISTINCT boundary) AS n_boundaries
    FROM hh_reads
    WHERE boundary BETWEEN $lo + 1 AND $hi + 1
    GROUP BY ALL),
d AS (
    SELECT supply_point_key, day_first_slot FROM day_rows
    WHERE day_first_slot BETWEEN $lo AND $hi)
SELECT v.supply_point_key, v.day_first_slot,
       CASE WHEN i.n_cover = 1 AND i.n_overlap = 1 THEN i.meter_id END AS meter_id,
       CASE
           WHEN d.supply_point_key IS NOT NULL THEN 'day row exists'
           WHEN v.n_slots < 48 THEN 'incomplete day'
           WHEN v.n_values > v.n_slots OR NOT v.first_versions THEN 'several versions'
           WHEN NOT v.plain THEN 'not a plain measured version'
           WHEN i.n_cover IS DISTINCT FROM 1 OR i.n_overlap <> 1 THEN 'not one meter all day'
           WHEN r.n_reads IS DISTINCT FROM 48 OR r.n_boundaries <> 48
               THEN 'reads missing or duplicated'
       END AS narrow_reason
FROM v
LEFT JOIN d USING (supply_point_key, day_first_slot)
LEFT JOIN inst i USING (supply_point_key, day_first_slot)
LEFT JOIN r ON r.meter_id = i.meter_id AND r.day_first_slot = v.day_first_slot
    AND i.n_cover = 1 AND i.n_overlap = 1
ORDER BY v.day_first_slot, v.supply_point_key
"""

_VALUES = f"""
SELECT h.import_wh, h.export_wh, {HH_QUALITY} = {quality_sql(Quality.MEASURED)} AS measured,
       h.vee_flags, h.recorded_at
FROM hh_values h
JOIN q_pack_days p ON p.supply_point_key = h.supply_point_key
    AND p.day_first_slot = {day_first("h.slot")}
WHERE h.slot BETWEEN $lo AND $hi
ORDER BY p.day_first_slot, h.supply_point_key, h.slot
"""

_READS = f"""
SELECT r.import_register_wh, r.export_register_wh, r.received_at, r.source, r.ingest_seq
FROM hh_reads r
JOIN q_pack_days p ON p.meter_id = r.meter_id
    AND p.day_first_slot = {day_first("r.boundary - 1")}
WHERE r.boundary BETWEEN $lo + 1 AND $hi + 1
ORDER BY p.day_first_slot, p.supply_point_key, r.boundary
"""


@dataclass
class PackResult:
    """What one packing run did: supply-point days packed (of them with value lists) and
    left narrow (by reason), values and reads moved out of the narrow tables."""

    packed_days: int = 0
    explicit_days: int = 0
    narrow_days: int = 0
    values_packed: int = 0
    reads_packed: int = 0
    narrow_reasons: dict[str, int] = field(default_factory=dict)
    checkpointed: bool = False


def pack_days(
    store: DuckIntervalStore,
    installations: pa.Table,
    first_day_slot: int,
    last_day_slot: int,
    recorded_at: float,
) -> PackResult:
    """Pack the packable (supply point, JST day)s whose first slots lie in
    ``first_day_slot … last_day_slot`` (see module); one transaction, then a checkpoint.

    ``installations``: meter_id, supply_point_key, valid_from, valid_to [epoch s] (as
    ``Registry.installations_table`` gives them). Running it again packs nothing more."""
    if slot_of_day(first_day_slot) or slot_of_day(last_day_slot):
        raise ValueError("first_day_slot and last_day_slot must be first slots of JST days")
    lo, hi = first_day_slot, last_day_slot + SLOTS - 1
    result = PackResult()
    if hi < lo:
        return result
    installs = installations.select(["meter_id", "supply_point_key", "valid_from", "valid_to"])
    with store.transaction() as cur:
        cur.register("q_pack_installs", installs)
        days = cur.sql(_STATUS, params={"lo": lo, "hi": hi}).to_arrow_table()
        rows = _day_rows(cur, days, lo, hi, result)
        if rows is not None:
            seq = store.next_ingest_seq()
            db.append_day_rows(cur, rows, seq)
            _delete_narrow(cur, rows, lo, hi)
            log_ingest(cur, IngestLogRow(seq, recorded_at, 0, 0, 0, PACK_REASON))
    if result.packed_days:
        result.checkpointed = store.checkpoint()
    return result


def _count_reasons(result: PackResult, reasons: pa.Array) -> None:
    counts = pc.value_counts(reasons.drop_null()).to_pylist()
    for c in counts:
        name = str(c["values"])
        result.narrow_reasons[name] = result.narrow_reasons.get(name, 0) + int(c["counts"])
    result.narrow_days = sum(result.narrow_reasons.values())


def _day_rows(
    cur: duckdb.DuckDBPyConnection, days: pa.Table, lo: int, hi: int, result: PackResult
) -> pa.Table | None:
    """The day rows for the packable days of ``days`` (``None`` if there are none); fills
    the counts of ``result``."""
    reason = days.column("narrow_reason").combine_chunks()
    ok = np.asarray(reason.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)
    if not ok.any():
        _count_reasons(result, reason)
        return None
    packable = days.filter(pa.array(ok)).select(["supply_point_key", "day_first_slot", "meter_id"])
    narrow = _NarrowDays.load(cur, packable, lo, hi)
    derivable = narrow.derivable()
    too_big = ~derivable & narrow.over_32_bits()  # explicit rows must fit the INTEGER lists
    if too_big.any():
        at = np.flatnonzero(ok)[too_big]
        over = pa.array(np.isin(np.arange(len(ok)), at))
        reason = pc.if_else(over, pa.scalar("value over 32 bits"), reason)
    _count_reasons(result, reason)
    keep = np.flatnonzero(~too_big)
    if len(keep) == 0:
        return None
    result.packed_days = len(keep)
    result.explicit_days = int(np.count_nonzero(~derivable[keep]))
    result.values_packed = result.reads_packed = result.packed_days * SLOTS
    return narrow.table(keep, derivable[keep])


@dataclass
class _NarrowDays:
    """The narrow reads and values of packable days, as (days × 48) matrices."""

    keys: pa.Table  # supply_point_key, day_first_slot, meter_id per day
    opening: OpeningReads  # the read at each day's first boundary
    reads: pa.Table  # in day order, 48 a day
    values: pa.Table
    import_register_wh: I64
    export_register_wh: I64
    export_register_ok: BoolArr
    import_wh: I64
    export_wh: I64
    import_ok: BoolArr
    export_ok: BoolArr
    measured: BoolArr
    flags: I64

    @classmethod
    def load(
        cls, cur: duckdb.DuckDBPyConnection, packable: pa.Table, lo: int, hi: int
    ) -> _NarrowDays:
        cur.register("q_pack_days", packable)
        n = packable.num_rows
        vals = cur.sql(_VALUES, params={"lo": lo, "hi": hi}).to_arrow_table()
        reads = cur.sql(_READS, params={"lo": lo, "hi": hi}).to_arrow_table()
        if vals.num_rows != n * SLOTS or reads.num_rows != n * SLOTS:
            raise RuntimeError("packing: narrow rows changed under the status query")
        meter, first = _i64(packable, "meter_id"), _i64(packable, "day_first_slot")
        shape = (n, SLOTS)
        return cls(
            keys=packable,
            opening=_previous(cur, meter, first),
            reads=reads,
            values=vals,
            import_register_wh=_i64(reads, "import_register_wh").reshape(shape),
            export_register_wh=_i64(reads, "export_register_wh").reshape(shape),
            export_register_ok=_valid(reads, "export_register_wh").reshape(shape),
            import_wh=_i64(vals, "import_wh").reshape(shape),
            export_wh=_i64(vals, "export_wh").reshape(shape),
            import_ok=_valid(vals, "import_wh").reshape(shape),
            export_ok=_valid(vals, "export_wh").reshape(shape),
            measured=np.asarray(vals.column("measured").to_numpy(), np.bool_).reshape(shape),
            flags=_i64(vals, "vee_flags").reshape(shape),
        )

    def derivable(self) -> BoolArr:
        """Days whose values the view derives when the value lists are NULL: measured,
        unflagged register differences."""
        n = len(self.flags)
        opening = self.opening
        imp_reg, exp_reg, exp_reg_ok = (
            self.import_register_wh,
            self.export_register_wh,
            self.export_register_ok,
        )
        start_imp = np.concatenate([opening.import_register_wh[:, None], imp_reg[:, :-1]], 1)
        start_exp = np.concatenate([opening.export_register_wh[:, None], exp_reg[:, :-1]], 1)
        start_ok = np.concatenate(
            [opening.present[:, None], np.ones((n, SLOTS - 1), np.bool_)], axis=1
        )
        start_exp_ok = np.concatenate([opening.export_present[:, None], exp_reg_ok[:, :-1]], 1)
        difference_ok = exp_reg_ok & start_exp_ok
        return (
            self.measured
            & (self.flags == 0)
            & self.import_ok
            & start_ok
            & (self.import_wh == imp_reg - start_imp)
            & (self.export_ok == difference_ok)
            & (~self.export_ok | (self.export_wh == exp_reg - start_exp))
        ).all(axis=1)

    def over_32_bits(self) -> BoolArr:
        """Days with a value that does not fit 32 bits."""
        imp, exp = self.import_wh, self.export_wh
        big = (self.import_ok & ((imp < -(2**31)) | (imp >= 2**31))) | (
            self.export_ok & ((exp < -(2**31)) | (exp >= 2**31))
        )
        return np.asarray(big.any(axis=1), dtype=np.bool_)

    def table(self, keep: I64, derivable: BoolArr) -> pa.Table:
        """Day rows of the days ``keep`` (``derivable``: theirs), with every read's receipt
        time, source and ingest sequence number and every value's recording time."""
        listed = keep[~derivable]  # days whose value lists are given
        lists = ValueLists(derivable)
        opening = self.opening
        shape = self.flags.shape
        received = np.asarray(self.reads.column("received_at").to_numpy(), np.float64)
        source = np.asarray(self.reads.column("source").to_numpy(), np.uint8)
        recorded = np.asarray(self.values.column("recorded_at").to_numpy(), np.float64)
        per_read = _PerRead(keep)
        qcode = np.where(self.measured, int(Quality.MEASURED), int(Quality.INVALID))
        exp_ok = self.export_register_ok[keep]
        no_export = np.asarray(~exp_ok.any(axis=1), dtype=np.bool_)
        return pa.table(
            {
                "supply_point_key": self.keys.column("supply_point_key").take(keep),
                "day_first_slot": self.keys.column("day_first_slot").take(keep),
                "meter_id": self.keys.column("meter_id").take(keep),
                "prev_import_register_wh": pa.array(
                    opening.import_register_wh[keep], pa.int64(), mask=~opening.present[keep]
                ),
                "prev_export_register_wh": pa.array(
                    opening.export_register_wh[keep],
                    pa.int64(),
                    mask=~opening.export_present[keep],
                ),
                "import_register_wh": register_lists(self.import_register_wh[keep], None),
                "export_register_wh": register_lists(
                    self.export_register_wh[keep], exp_ok, no_export
                ),
                "import_wh": lists.of(self.import_wh[listed], pa.int32(), self.import_ok[listed]),
                "export_wh": lists.of(self.export_wh[listed], pa.int32(), self.export_ok[listed]),
                "qcode": lists.of(qcode[listed], pa.uint8(), None),
                "vee_flags": lists.of(self.flags[listed], pa.uint32(), None),
                "received_at": pa.array(received.reshape(shape)[keep, -1], pa.float64()),
                "source": pa.array(source.reshape(shape)[keep, -1], pa.uint8()),
                "read_received_at": per_read(received.reshape(shape), pa.float64()),
                "read_source": per_read(source.reshape(shape), pa.uint8()),
                "read_seq": per_read(_i64(self.reads, "ingest_seq").reshape(shape), pa.int64()),
                "value_recorded_at": per_read(recorded.reshape(shape), pa.float64()),
            }
        )


class _PerRead:
    """Per-read (or per-value) lists of 48 for the days kept."""

    def __init__(self, keep: I64) -> None:
        self.keep = keep
        self.offsets = pa.array(np.arange(len(keep) + 1, dtype=np.int32) * SLOTS)

    def __call__(self, values: npt.NDArray[np.generic], type_: pa.DataType) -> pa.Array:
        return pa.ListArray.from_arrays(self.offsets, pa.array(values[self.keep].ravel(), type_))


def _previous(cur: duckdb.DuckDBPyConnection, meter: I64, first: I64) -> OpeningReads:
    """The current read of each row's meter at the day's first boundary (narrow or the
    previous day's row): import, export, and whether each is known."""
    n = len(meter)
    out = OpeningReads(
        np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.bool_), np.zeros(n, np.bool_)
    )
    got = db.reads_at_day_start(
        cur, pa.table({"meter_id": np.unique(meter)}), int(first.min()), int(first.max())
    )
    if got.num_rows == 0:
        return out
    g_m, g_b = _i64(got, "meter_id"), _i64(got, "boundary")  # sorted by meter, boundary
    span = int(first.max()) - int(first.min()) + 1
    gk = g_m * span + (g_b - int(first.min()))
    wk = meter * span + (first - int(first.min()))
    i = np.minimum(np.searchsorted(gk, wk), len(gk) - 1)
    hit = gk[i] == wk
    out.import_register_wh[hit] = _i64(got, "import_register_wh")[i[hit]]
    out.export_register_wh[hit] = _i64(got, "export_register_wh")[i[hit]]
    out.present[hit] = True
    out.export_present[hit] = _valid(got, "export_register_wh")[i[hit]]
    return out


def _delete_narrow(cur: duckdb.DuckDBPyConnection, rows: pa.Table, lo: int, hi: int) -> None:
    """Delete the narrow values and reads the day rows now hold (exactly 48 of each a row),
    from the wide table and from the tick's narrow one (whose slot or boundary is its
    batch's) of each."""
    cur.register("q_packed", rows.select(["supply_point_key", "day_first_slot", "meter_id"]))
    expected = rows.num_rows * SLOTS
    for what, key, at, tables in (
        ("values", "supply_point_key", "slot", _VALUE_TABLES),
        ("reads", "meter_id", "boundary", _READ_TABLES),
    ):
        first, last = (lo, hi) if at == "slot" else (lo + 1, hi + 1)
        deleted = sum(
            _delete_packed(cur, table, batches, key, at, first, last) for table, batches in tables
        )
        if deleted != expected:
            raise RuntimeError(f"packing: deleted {deleted} narrow {what}, expected {expected}")
    _delete_empty_batches(cur, "hh_tick_read_batches", "hh_tick_reads", "boundary", lo + 1, hi + 1)
    _delete_empty_batches(cur, "hh_tick_value_batches", "hh_tick_values", "slot", lo, hi)


#: the tables of narrow values and of narrow reads, each with its batch table (if any)
_VALUE_TABLES = (("hh_value_versions", None), ("hh_tick_values", "hh_tick_value_batches"))
_READ_TABLES = (("hh_read_rows", None), ("hh_tick_reads", "hh_tick_read_batches"))


def _delete_packed(
    cur: duckdb.DuckDBPyConnection,
    table: str,
    batches: str | None,
    key: str,
    at: str,
    lo: int,
    hi: int,
) -> int:
    """Delete the rows of ``table`` whose ``key`` and day (by ``at``: a slot, or a boundary,
    which ends the slot before it) are a packed row's, ``at`` within ``lo``..``hi``; a
    tick's table keeps ``at`` in its ``batches``. Returns the count deleted."""
    holder = "b" if batches else table
    day = f"{holder}.{at}" if at == "slot" else f"{holder}.{at} - 1"
    join = f", {batches} b" if batches else ""
    of_batch = f"b.batch = {table}.batch AND " if batches else ""
    got = cur.execute(
        f"""
        DELETE FROM {table} USING q_packed p{join}
        WHERE {of_batch}{holder}.{at} BETWEEN ? AND ?
          AND {table}.{key} = p.{key}
          AND {day_first(day)} = p.day_first_slot
        """,
        [lo, hi],
    ).fetchone()
    return int(got[0]) if got else 0


def _delete_empty_batches(
    cur: duckdb.DuckDBPyConnection, batches: str, rows: str, at: str, lo: int, hi: int
) -> None:
    """Delete the batches of ``lo``..``hi`` (by boundary or slot, ``at``) left without rows."""
    cur.execute(
        f"""
        DELETE FROM {batches} WHERE {at} BETWEEN $lo AND $hi AND batch NOT IN (
            SELECT batch FROM {rows} WHERE batch BETWEEN
                (SELECT min(batch) FROM {batches} WHERE {at} BETWEEN $lo AND $hi)
            AND (SELECT max(batch) FROM {batches} WHERE {at} BETWEEN $lo AND $hi))
        """,
        {"lo": lo, "hi": hi},
    )


def _i64(table: pa.Table, name: str) -> I64:
    col = table.column(name)
    if col.null_count:
        col = pc.fill_null(col, 0)
    return np.asarray(col.to_numpy(), dtype=np.int64)


def _valid(table: pa.Table, name: str) -> BoolArr:
    return np.asarray(table.column(name).is_valid().to_numpy(zero_copy_only=False), np.bool_)
