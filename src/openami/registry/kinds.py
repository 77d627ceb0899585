"""Meter types, voltage classes and the manual reads of conventional meters.

During the rollout some supply points still have a conventional meter (``conventional``)
read by hand once a month; the others have a ``smart`` meter read over the A route.
High-voltage points (高圧, contract ≥ 50 kW) have transformer-operated meters whose register
difference times the CT/VT multiplier (乗率) is the energy. Every supply point has a
load-shape class, which its contract type is profiled with (``mdms/profiling.py``).

The rules live here; the rows in :class:`openami.storage.repositories.meter_kinds.MeterKindStore`.
Defaults: a meter without a stored kind is smart with multiplier 1; a supply point without a
stored class is low voltage with the ``residential`` shape.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from openami.storage.manual_read_files import read_manual_read_file
from openami.storage.repositories.meter_kinds import MeterKindStore
from openami.storage.sql import Database, StorageError

METER_TYPES = ("smart", "conventional")
#: voltage classes: 低圧 (low, ≤ 600 V), 高圧 (high, 6 kV), 特別高圧 (extra high, ≥ 20 kV)
VOLTAGE_CLASSES = ("low", "high", "extra_high")
#: load-shape classes per contract type (the shapes themselves: ``mdms/profiling.py``)
LOAD_SHAPES = ("residential", "commercial", "industrial", "flat")
#: contract power from which a point is high voltage [kW]
HIGH_VOLTAGE_MIN_KW = 50
#: the largest register a manual read may give [Wh] (a 10-digit kWh dial)
MAX_REGISTER_WH = 10**13

E_UNKNOWN_METER = "E_UNKNOWN_METER"
E_NOT_CONVENTIONAL = "E_NOT_CONVENTIONAL"
E_DUPLICATE = "E_DUPLICATE"
E_BACKWARDS = "E_BACKWARDS"
E_BAD_VALUE = "E_BAD_VALUE"


class KindError(ValueError):
    """A meter type, multiplier or supply point class that breaks the rules."""


@dataclass(frozen=True)
class ReadProblem:
    line: int  # 1-based data line of the file (0: not from a file)
    code: str
    message: str


class ManualReadError(ValueError):
    """Manual reads refused (nothing was stored); ``problems`` says which and why."""

    def __init__(self, problems: Sequence[ReadProblem]) -> None:
        self.problems = list(problems)
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"line {first.line}: {first.code}: {first.message}{more}")


@dataclass(frozen=True)
class ManualReadReport:
    rows: int
    stored: int
    repeated: int  # identical to a stored read: nothing to do
    meters: list[int] = field(default_factory=list)  # meters with a new read


class MeterKinds:
    """Meter types and multipliers, supply point classes, manual reads."""

    def __init__(self, database: Database) -> None:
        self._store = MeterKindStore(database)

    # -- meter types and classes ---------------------------------------------------------
    def set_meter_kinds(self, rows: Sequence[tuple[int, str, int]]) -> None:
        """Rows of (meter_id, meter_type, multiplier): a type of :data:`METER_TYPES`, a
        multiplier ≥ 1 (1: a meter without CT/VT)."""
        for meter_id, meter_type, multiplier in rows:
            if meter_type not in METER_TYPES:
                raise KindError(f"meter {meter_id}: unknown meter type {meter_type!r}")
            if int(multiplier) < 1:
                raise KindError(f"meter {meter_id}: the multiplier must be at least 1")
        try:
            self._store.set_meter_kinds(rows)
        except StorageError as exc:
            raise KindError(str(exc)) from exc

    def set_point_classes(self, rows: Sequence[tuple[int, str, str]]) -> None:
        """Rows of (supply_point_key, voltage_class, load_shape)."""
        for key, voltage_class, load_shape in rows:
            if voltage_class not in VOLTAGE_CLASSES:
                raise KindError(f"supply point {key}: unknown voltage class {voltage_class!r}")
            if load_shape not in LOAD_SHAPES:
                raise KindError(f"supply point {key}: unknown load shape {load_shape!r}")
        try:
            self._store.set_point_classes(rows)
        except StorageError as exc:
            raise KindError(str(exc)) from exc

    def meter_kinds(self, meter_ids: pa.Array | Sequence[int]) -> pa.Table:
        """(meter_id, meter_type, multiplier) of each of ``meter_ids``, in order, with the
        defaults where none is stored."""
        ids = pa.array(meter_ids, pa.int64())
        stored = self._store.meter_kinds_of(ids.to_pylist())
        at = pc.index_in(ids, value_set=stored.column("meter_id"))
        meter_type = pc.fill_null(stored.column("meter_type").take(at), "smart")
        multiplier = pc.fill_null(stored.column("multiplier").take(at), 1)
        return pa.table({"meter_id": ids, "meter_type": meter_type, "multiplier": multiplier})

    def point_classes(self, supply_point_keys: pa.Array | Sequence[int]) -> pa.Table:
        """(supply_point_key, voltage_class, load_shape) of each key, in order, with the
        defaults where none is stored."""
        keys = pa.array(supply_point_keys, pa.int64())
        stored = self._store.point_classes_of(keys.to_pylist())
        at = pc.index_in(keys, value_set=stored.column("supply_point_key"))
        voltage = pc.fill_null(stored.column("voltage_class").take(at), "low")
        shape = pc.fill_null(stored.column("load_shape").take(at), "residential")
        return pa.table({"supply_point_key": keys, "voltage_class": voltage, "load_shape": shape})

    # -- manual reads ---------------------------------------------------------------------
    def manual_reads(self, meter_ids: Sequence[int] | None = None) -> pa.Table:
        """Stored manual reads: meter_id, read_on (ISO day), import_register_wh, reader."""
        return self._store.manual_reads_table(meter_ids)

    def import_manual_reads(self, path: Path, today: date) -> ManualReadReport:
        """Check and store the reads of a CSV file (see ``storage/manual_read_files.py``),
        all or nothing: any bad row raises :class:`ManualReadError` naming every problem."""
        return self.add_manual_reads(read_manual_read_file(path), today)

    def add_manual_reads(self, raw: pa.Table, today: date) -> ManualReadReport:
        """Check and store reads given as text columns meter_id, read_on,
        import_register_wh, reader (one row per read), all or nothing."""
        rows, problems = _parse(raw, today)
        if not problems:
            problems = self._meter_problems(rows)
        if problems:
            raise ManualReadError(problems)
        if not rows:
            return ManualReadReport(0, 0, 0, [])
        now = time.time()
        repeated: list[int] = []

        def choose(stored: pa.Table) -> list[tuple[int, str, int, str, float]]:
            found, repeats = _against_stored(rows, stored)
            if found:
                raise ManualReadError(found)
            repeated.extend(repeats)
            skip = set(repeats)
            return [
                (m, d.isoformat(), wh, reader, now)
                for i, (_, m, d, wh, reader) in enumerate(rows)
                if i not in skip
            ]

        try:
            first_day = min(r[2] for r in rows).isoformat()
            stored = self._store.add_manual_reads([r[1] for r in rows], first_day, choose)
        except StorageError as exc:  # stored by someone else meanwhile
            raise ManualReadError([ReadProblem(0, E_DUPLICATE, str(exc))]) from exc
        skip = set(repeated)
        meters = sorted({r[1] for i, r in enumerate(rows) if i not in skip})
        return ManualReadReport(len(rows), stored, len(repeated), meters)

    def _meter_problems(self, rows: list[_Row]) -> list[ReadProblem]:
        ids = sorted({r[1] for r in rows})
        known = self._store.known_meters(ids)
        kinds = self.meter_kinds([i for i in ids if i in known])
        conventional = {
            int(m)
            for m, t in zip(
                kinds.column("meter_id").to_pylist(),
                kinds.column("meter_type").to_pylist(),
                strict=True,
            )
            if t == "conventional"
        }
        problems: list[ReadProblem] = []
        for line, meter_id, _, _, _ in rows:
            if meter_id not in known:
                problems.append(ReadProblem(line, E_UNKNOWN_METER, f"unknown meter {meter_id}"))
            elif meter_id not in conventional:
                msg = f"meter {meter_id} is a smart meter: its values come over the A route"
                problems.append(ReadProblem(line, E_NOT_CONVENTIONAL, msg))
        return problems


_Row = tuple[int, int, date, int, str]
"""line, meter_id, read_on, import_register_wh, reader"""


def _parse(raw: pa.Table, today: date) -> tuple[list[_Row], list[ReadProblem]]:
    """Rows with typed values, and the problems of the rows that have none."""
    rows: list[_Row] = []
    problems: list[ReadProblem] = []
    columns = [raw.column(c).to_pylist() for c in ("meter_id", "read_on", "import_register_wh")]
    readers = raw.column("reader").to_pylist()
    for i, (meter, day, register, reader) in enumerate(zip(*columns, readers, strict=True)):
        line = i + 1
        try:
            meter_id = int(str(meter))
            read_on = date.fromisoformat(str(day))
            register_wh = int(str(register))
        except ValueError:
            msg = (
                "meter_id, read_on (YYYY-MM-DD) and import_register_wh (Wh) must be given: "
                f"{meter!r}, {day!r}, {register!r}"
            )
            problems.append(ReadProblem(line, E_BAD_VALUE, msg))
            continue
        if not 0 <= register_wh < MAX_REGISTER_WH:
            msg = f"import_register_wh {register_wh} is out of range"
            problems.append(ReadProblem(line, E_BAD_VALUE, msg))
        elif read_on > today:
            problems.append(ReadProblem(line, E_BAD_VALUE, f"read_on {read_on} is in the future"))
        elif reader is None or not str(reader).strip():
            problems.append(ReadProblem(line, E_BAD_VALUE, "the reader must be given"))
        else:
            rows.append((line, meter_id, read_on, register_wh, str(reader).strip()))
    return rows, problems


def _dup_problem(rows: list[_Row], index: int) -> ReadProblem:
    line, meter_id, read_on, _, _ = rows[index]
    return ReadProblem(line, E_DUPLICATE, f"meter {meter_id} was read on {read_on} already")


def _against_stored(rows: list[_Row], stored: pa.Table) -> tuple[list[ReadProblem], list[int]]:
    """Problems of ``rows`` together with the stored reads of their meters (a second read
    of a meter on a day with another register: duplicate; registers that go backwards in
    time), and the indexes of rows identical to a stored read (repeats, not stored again)."""
    problems: list[ReadProblem] = []
    stored_at = {
        (int(m), date.fromisoformat(str(d))): int(wh)
        for m, d, wh in zip(
            stored.column("meter_id").to_pylist(),
            stored.column("read_on").to_pylist(),
            stored.column("import_register_wh").to_pylist(),
            strict=True,
        )
    }
    seen: dict[tuple[int, date], int] = {}
    repeats: list[int] = []
    for i, (_, meter_id, read_on, register_wh, _) in enumerate(rows):
        key = (meter_id, read_on)
        if stored_at.get(key) == register_wh:
            repeats.append(i)
        elif key in stored_at or key in seen:
            problems.append(_dup_problem(rows, i))
        seen[key] = register_wh
    if problems:
        return problems, repeats
    return _backwards(rows, stored_at, set(repeats)), repeats


def _backwards(
    rows: list[_Row], stored_at: dict[tuple[int, date], int], repeats: set[int]
) -> list[ReadProblem]:
    """Reads whose register is below the meter's previous read (stored or new) in time."""
    new = [r for i, r in enumerate(rows) if i not in repeats]
    line = np.array([0] * len(stored_at) + [r[0] for r in new], dtype=np.int64)
    meter = np.array([k[0] for k in stored_at] + [r[1] for r in new], dtype=np.int64)
    day = np.array([k[1].toordinal() for k in stored_at] + [r[2].toordinal() for r in new])
    register = np.array(list(stored_at.values()) + [r[3] for r in new], dtype=np.int64)
    order = np.lexsort((day, meter))
    m, d, wh, ln = meter[order], day[order], register[order], line[order]
    back = np.flatnonzero((m[1:] == m[:-1]) & (wh[1:] < wh[:-1])) + 1
    problems: list[ReadProblem] = []
    for i in back:
        j = i - 1
        msg = (
            f"meter {m[i]}: register {wh[i]} Wh on {date.fromordinal(int(d[i]))} is below "
            f"{wh[j]} Wh on {date.fromordinal(int(d[j]))}: reads must not go backwards"
        )
        problems.append(ReadProblem(int(ln[i] or ln[j]), E_BACKWARDS, msg))
    return problems
