"""Half-hour register reads submitted by meter operators (third-party meters of type (i)).

A type (i) meter operator runs its own meter and network and must hand the utility its
readings without delay (seed section 2, point 5). The standard format is one register read
per row at a :00/:30 JST instant:

- JSON ``{"reads": [{"supply_point_id": "03…", "read_at": "2026-11-02T10:30:00+09:00",
  "import_register_wh": 123456, "export_register_wh": 0}, …]}``;
- CSV with the header ``supply_point_id,read_at,import_register_wh,export_register_wh``.

Each row is checked on its own; a refused row is named with its number (1 = the first read)
and a code, and the others go on. Accepted rows become a :data:`READ_SCHEMA` batch with
source :attr:`ReadSource.OPERATOR` and enter the same MDMS ingest and VEE as A-route reads.

Rules per row: the supply point's current meter must be a type (i) meter owned by the
submitting operator (``E_NOT_YOUR_METER``, also for unknown supply points, so ids cannot be
probed); ``read_at`` on a half-hour instant (``E_BAD_INSTANT``), not in the future
(``E_FUTURE``) and at most :data:`LATE_LIMIT_S` old (``E_TOO_LATE``); registers whole
non-negative Wh (``E_BAD_VALUE``); one read per meter and instant (``E_DUPLICATE``); the import
register never falls within the submission (``E_REGISTER_DECREASE``). Reads received more
than :data:`DEADLINE_S` after their instant are stored but counted ``late`` against the
operator's duty to deliver without delay.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from openami.bus.messages import READ_SCHEMA, ReadSource
from openami.clock import jst_day_of_s, slot_at_s, slot_start_s

#: a read is due this long after its instant, so that the utility still meets the 60-minute
#: C-route delivery rule [s]
DEADLINE_S = 1800.0
#: reads older than this are refused: the 48-hour collection window of the A route [s]
LATE_LIMIT_S = 48 * 3600.0
MAX_ROWS = 20_000
CSV_HEADER = ("supply_point_id", "read_at", "import_register_wh", "export_register_wh")
CONTENT_TYPES = ("application/json", "text/csv")
MAX_REGISTER_WH = 10**15


class SubmissionRejected(ValueError):
    """A body that cannot be read at all: nothing of it is stored."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class RowRejection:
    row: int  # 1 = the first read of the body
    code: str
    message: str


@dataclass
class CheckedSubmission:
    reads: pa.Table  # READ_SCHEMA, accepted rows only
    rejected: list[RowRejection] = field(default_factory=list)
    late: int = 0


#: supply point id → its meter now (None: unknown or no meter)
MeterOf = Callable[[str], int | None]
#: (meter, JST day) → the operator owning it as a type (i) meter that day (None: not one)
OperatorOf = Callable[[int, date], str | None]


def parse_body(body: bytes, content_type: str) -> list[dict[str, Any]]:
    """The body's rows as field mappings (whole-body errors raise SubmissionRejected)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind not in CONTENT_TYPES:
        raise SubmissionRejected(
            415, "E_UNSUPPORTED_MEDIA_TYPE", f"send one of {', '.join(CONTENT_TYPES)}"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SubmissionRejected(422, "E_BAD_BODY", "the body is not UTF-8") from None
    rows: list[dict[str, Any]]
    if kind == "application/json":
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SubmissionRejected(422, "E_BAD_BODY", f"not JSON: {exc.msg}") from None
        reads = raw.get("reads") if isinstance(raw, dict) else None
        if not isinstance(reads, list) or not all(isinstance(r, dict) for r in reads):
            raise SubmissionRejected(422, "E_BAD_BODY", 'needs {"reads": [objects]}')
        rows = reads
    else:
        reader = csv.DictReader(io.StringIO(text))
        if tuple(reader.fieldnames or ()) != CSV_HEADER:
            raise SubmissionRejected(
                422, "E_BAD_BODY", f"the header must be {','.join(CSV_HEADER)}"
            )
        rows = list(reader)
    if not rows:
        raise SubmissionRejected(422, "E_EMPTY", "no reads")
    if len(rows) > MAX_ROWS:
        raise SubmissionRejected(422, "E_TOO_MANY_ROWS", f"at most {MAX_ROWS} reads per request")
    return rows


def _register(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        return None
    return number if 0 <= number < MAX_REGISTER_WH else None


def _instant(value: Any) -> float | None:
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None
    return None if moment.tzinfo is None else moment.timestamp()


def check_rows(
    rows: list[dict[str, Any]],
    operator_party_id: str,
    now_s: float,
    meter_of: MeterOf,
    operator_of: OperatorOf,
) -> CheckedSubmission:
    """Accepted reads as a batch and the refused rows with their reasons."""
    meters: list[int] = []
    boundaries: list[int] = []
    imports: list[int] = []
    exports: list[int] = []
    numbers: list[int] = []
    rejected: list[RowRejection] = []
    seen: set[tuple[int, int]] = set()
    # one lookup per supply point and per (meter, day), not per read
    meters_by_point: dict[str, int | None] = {}
    operators: dict[tuple[int, date], str | None] = {}

    def cached_meter(supply_point_id: str) -> int | None:
        if supply_point_id not in meters_by_point:
            meters_by_point[supply_point_id] = meter_of(supply_point_id)
        return meters_by_point[supply_point_id]

    def cached_operator(meter_id: int, day: date) -> str | None:
        if (meter_id, day) not in operators:
            operators[(meter_id, day)] = operator_of(meter_id, day)
        return operators[(meter_id, day)]

    instants: dict[str, RowRejection | tuple[float, int]] = {}
    for number, row in enumerate(rows, start=1):
        problem = _row_problem(
            row, operator_party_id, now_s, cached_meter, cached_operator, instants
        )
        if isinstance(problem, RowRejection):
            rejected.append(RowRejection(number, problem.code, problem.message))
            continue
        meter, boundary, imp, exp = problem
        if (meter, boundary) in seen:
            rejected.append(RowRejection(number, "E_DUPLICATE", "a second read of that instant"))
            continue
        seen.add((meter, boundary))
        meters.append(meter)
        boundaries.append(boundary)
        imports.append(imp)
        exports.append(exp)
        numbers.append(number)
    keep = _falling_registers(meters, boundaries, imports, numbers, rejected)
    m = np.asarray(meters, dtype=np.int64)[keep]
    b = np.asarray(boundaries, dtype=np.int64)[keep]
    reads = pa.table(
        {
            "meter_id": m,
            "boundary": b,
            "import_register_wh": np.asarray(imports, dtype=np.int64)[keep],
            "export_register_wh": np.asarray(exports, dtype=np.int64)[keep],
            "received_at": np.full(len(m), now_s, dtype=np.float64),
            "source": np.full(len(m), int(ReadSource.OPERATOR), dtype=np.uint8),
        },
        schema=READ_SCHEMA,
    )
    late = int(np.count_nonzero(now_s - slot_start_s(b) > DEADLINE_S)) if len(b) else 0
    rejected.sort(key=lambda r: r.row)
    return CheckedSubmission(reads, rejected, late)


def _row_problem(
    row: dict[str, Any],
    operator_party_id: str,
    now_s: float,
    meter_of: MeterOf,
    operator_of: OperatorOf,
    instants: dict[str, RowRejection | tuple[float, int]],
) -> RowRejection | tuple[int, int, int, int]:
    text = str(row.get("read_at"))
    instant = instants.get(text)
    if instant is None:  # one parse per distinct instant (a request repeats 48 of them)
        instant = instants[text] = _check_instant(text, now_s)
    if isinstance(instant, RowRejection):
        return instant
    at_s, boundary = instant
    imp, exp = _register(row.get("import_register_wh")), _register(row.get("export_register_wh"))
    if imp is None or exp is None:
        return RowRejection(0, "E_BAD_VALUE", "registers must be whole Wh, 0 or more")
    meter = meter_of(str(row.get("supply_point_id", "")))
    if meter is None or operator_of(meter, jst_day_of_s(at_s)) != operator_party_id:
        return RowRejection(0, "E_NOT_YOUR_METER", "no type (i) meter of this operator there")
    return meter, boundary, imp, exp


def _check_instant(text: str, now_s: float) -> RowRejection | tuple[float, int]:
    at_s = _instant(text)
    if at_s is None:
        return RowRejection(0, "E_BAD_INSTANT", "read_at must be ISO 8601 with a UTC offset")
    boundary = int(slot_at_s(at_s))
    if float(slot_start_s(boundary)) != at_s:
        return RowRejection(0, "E_BAD_INSTANT", "read_at must be a :00 or :30 instant")
    if at_s > now_s:
        return RowRejection(0, "E_FUTURE", "read_at is in the future")
    if now_s - at_s > LATE_LIMIT_S:
        return RowRejection(0, "E_TOO_LATE", "read_at is more than 48 hours ago")
    return at_s, boundary


def _falling_registers(
    meters: list[int],
    boundaries: list[int],
    imports: list[int],
    numbers: list[int],
    rejected: list[RowRejection],
) -> np.ndarray:
    """Rows to keep: a read whose import register is below the meter's read before it (in
    this submission) is refused."""
    keep = np.ones(len(meters), dtype=np.bool_)
    if not meters:
        return keep
    order = np.lexsort((np.asarray(boundaries), np.asarray(meters)))
    last: dict[int, int] = {}
    for i in order.tolist():
        previous = last.get(meters[i])
        if previous is not None and imports[i] < previous:
            keep[i] = False
            rejected.append(RowRejection(numbers[i], "E_REGISTER_DECREASE", "import register fell"))
            continue
        last[meters[i]] = imports[i]
    return keep
