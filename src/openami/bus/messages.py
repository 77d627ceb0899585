"""Message contracts: every topic, the Arrow schema of its batches, and the codes they carry.

This module is the one place where the columns of a reading, a command outcome or a meter
event are defined. Producers (the HES, bulk import, meter exchange) build batches with these
schemas; consumers (the MDMS, the hub's request service, the KPIs) read them; the bus checks
every batch against its topic's schema on publish (:func:`check_batch`), so a producer that
drifts fails at once instead of storing a column under the wrong name.

Codes travel as small integers (one byte per row in Arrow), and the enums below give each
code its one name. Names are what people see (API, dashboard, CSV); codes are what is stored.
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any, Literal, get_args

import numpy as np
import pyarrow as pa

# -- topics ----------------------------------------------------------------------------------
TOPIC_READINGS = "hes.readings"
TOPIC_COMMANDS = "hes.commands"
TOPIC_EVENTS = "hes.events"
#: commands asked of the head-end: consumed by `openami serve hes` (the embedded HES takes
#: them through its command port)
TOPIC_COMMAND_REQUESTS = "hes.command_requests"


# -- codes -----------------------------------------------------------------------------------
class ReadSource(IntEnum):
    """How a register read reached the MDMS (``source`` column of a reading)."""

    SCHEDULED = 0  # the first attempt after a :00/:30 boundary
    RETRY = 1  # a later attempt of the same collection
    BACKFILL = 2  # a range read from the meter's log, filling a gap
    EXCHANGE = 3  # closing/opening registers entered at a meter exchange
    BULK = 4  # a bulk import (CSV or Parquet file)
    OPERATOR = 5  # submitted by a third-party meter operator (type (i) meter, no HES)

    @property
    def label(self) -> str:
        return self.name.lower()


#: code → name, for every code a reading may carry
READ_SOURCE_NAMES: dict[int, str] = {s.value: s.label for s in ReadSource}


def read_source_name(code: int) -> str:
    """The name of a read source code (``unknown`` for a code no producer writes)."""
    return READ_SOURCE_NAMES.get(int(code), "unknown")


class MeterEvent(IntEnum):
    """Alarms a meter sends to the HES (``event`` column of ``hes.events``)."""

    LAST_GASP = 1  # mains lost
    RESTORE = 2  # mains back
    TAMPER = 3  # cover opened, magnetic field, …

    @property
    def label(self) -> str:
        return self.name.lower()


class CommandKind(IntEnum):
    """What the HES is asked to do to one meter."""

    DISCONNECT = 1
    RECONNECT = 2
    SET_AMPERAGE = 3
    READ = 4
    CLOCK_SYNC = 5
    BACKFILL = 6
    SET_TARIFF = 7  # push a supply plan's time-of-use bands (argument: its plan code)
    # write the B-route ID and password the utility issued (argument: the credential
    # version of the point's B-route application; 0 clears them: the service is revoked)
    SET_BROUTE_CREDENTIALS = 8

    @property
    def label(self) -> str:
        return self.name.lower()


class CommandState(IntEnum):
    """Where a command stands; every command ends in exactly one terminal state."""

    QUEUED = 0
    CONFIRMED = 1  # done, and a read-back shows it
    TIMED_OUT = 2  # no confirmation by the deadline
    FAILED = 3  # the read-back shows another state

    @property
    def label(self) -> str:
        return self.name.lower()


#: remote operations that change what the customer gets (capped, approved and audited)
REMOTE_OPERATIONS = (CommandKind.DISCONNECT, CommandKind.RECONNECT, CommandKind.SET_AMPERAGE)


class Quality(IntEnum):
    """Quality of a half-hour value version."""

    MEASURED = 0
    ESTIMATED = 1
    EDITED = 2
    MISSING = 3
    INVALID = 4
    #: derived from a conventional meter's monthly read (プロファイリング), not measured per slot
    PROFILED = 5

    @property
    def label(self) -> str:
        return self.name.lower()


#: names by code (a NumPy-friendly tuple: ``QUALITY_NAMES[code]``)
QUALITY_NAMES: tuple[str, ...] = tuple(q.label for q in Quality)
#: quality code of a slot in a day row that holds no value
QCODE_NONE = 255

#: kinds of meter events the MDMS records (``record_events``): each changes how VEE judges the
#: slots it touches
METER_EVENT_KINDS: tuple[str, ...] = (
    "outage",
    "disconnected",
    "tamper",
    "reset",
    "test",
    "last_gasp",
    "restore",
)
#: event kinds during which zero consumption is expected (valid zeros, not a stuck meter)
OUTAGE_KINDS: tuple[str, ...] = ("outage", "disconnected")

#: contract amperages a low-voltage meter's limiter supports [A] (SET_AMPERAGE's argument)
CONTRACT_AMPERAGES_A: tuple[int, ...] = (10, 15, 20, 30, 40, 50, 60, 80, 100, 120)

#: supply plans whose time-of-use bands a meter keeps; SET_TARIFF's argument is the plan
#: code, its position here + 1 (bands: ``openami.protocols.dlms.calendar.PLANS``)
SUPPLY_PLANS: tuple[str, ...] = ("flat", "day_night", "weekday_peak")

#: how a meter talks to the head-end; the one list of methods (the registry checks a meter's
#: method against it, the ``meters`` table's CHECK is built from it, the network model and
#: the KPIs group by it)
CommMethod = Literal["mesh", "cellular", "plc"]
#: the methods in code order
COMM_METHODS: tuple[CommMethod, ...] = get_args(CommMethod)
#: method → its small-integer code (the network model's per-meter array holds codes)
METHOD_CODES: dict[str, int] = {method: code for code, method in enumerate(COMM_METHODS)}

#: the C-route delivery rule [s]: a slot's values are due this long after the slot's end.
#: The MDMS marks slots still without a value as missing then, the delivery SLO and the
#: completeness/KPI figures count what was available by then (croute.md §2.2)
DELIVERY_DEADLINE_S = 3600.0


# -- schemas ---------------------------------------------------------------------------------
#: ``hes.readings``: one register read per row. ``boundary`` is the slot index of the :00/:30
#: instant the registers were taken (the read closes slot ``boundary - 1``)
READ_SCHEMA = pa.schema(
    [
        ("meter_id", pa.int64()),
        ("boundary", pa.int64()),
        ("import_register_wh", pa.int64()),
        ("export_register_wh", pa.int64()),
        ("received_at", pa.float64()),  # Unix seconds
        ("source", pa.uint8()),  # ReadSource
    ]
)

#: ``hes.commands``: one command outcome per row (its terminal state)
COMMAND_SCHEMA = pa.schema(
    [
        ("correlation_id", pa.int64()),
        ("meter_id", pa.int64()),
        ("kind", pa.uint8()),  # CommandKind
        ("priority", pa.uint8()),
        ("state", pa.uint8()),  # CommandState
        ("attempts", pa.uint8()),
        ("issued_at", pa.float64()),
        ("completed_at", pa.float64()),
        # the registers read back (READ, DISCONNECT, RECONNECT), else -1 or null
        ("import_register_wh", pa.int64()),
        ("export_register_wh", pa.int64()),
        ("clock_offset_s", pa.float64()),  # meter − true time (READ, switching, CLOCK_SYNC)
        # why the HES refused the command (one of REFUSAL_REASONS; a FAILED outcome), else
        # null: the command ran
        ("refusal", pa.string()),
    ]
)

#: why a HES refuses a command without running it (the ``refusal`` of a ``hes.commands``
#: row): its switching guard's reasons (:mod:`openami.hes.switch_guard`), a kind it does not
#: run, a meter it does not read. Codes only: no key, signature or personal data
REFUSAL_REASONS: tuple[str, ...] = (
    "halted",
    "unsigned",
    "altered",
    "expired",
    "not_yet_effective",
    "replay",
    "fleet_cap",
    "unsupported",
    "unknown_meter",
)
#: the ``refusal`` a consumer reports for a reason it does not know (a newer HES's)
UNKNOWN_REFUSAL = "other"


def refusal_reason(text: str | None) -> str | None:
    """A ``refusal`` as a consumer may show it: the code when known, ``other`` for any other
    text (never echoed: it came from another process), None for none."""
    if text is None:
        return None
    return text if text in REFUSAL_REASONS else UNKNOWN_REFUSAL


#: ``hes.events``: one meter alarm per row
EVENT_SCHEMA = pa.schema(
    [
        ("meter_id", pa.int64()),
        ("event", pa.uint8()),  # MeterEvent
        ("occurred_at", pa.float64()),  # by the meter's clock, Unix seconds
        ("received_at", pa.float64()),
        ("via_log", pa.bool_()),  # read from the meter's event log rather than pushed
    ]
)

# -- HES journal records (what the HES keeps besides the topics; stored, read by KPIs) --------
#: each meter's clock state at its last contact of a JST day
CLOCK_DAY_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("meter_id", pa.int64()),
        ("clock_checked", pa.bool_()),
        ("clock_ok", pa.bool_()),
        ("last_offset_s", pa.float64()),
    ]
)

#: a suspected outage: (almost) every meter of a segment missed a boundary's reads
SEGMENT_ALARM_SCHEMA = pa.schema(
    [
        ("segment", pa.int64()),  # concentrator number, or cell (is_cell)
        ("is_cell", pa.bool_()),
        ("boundary", pa.int64()),
        ("meters", pa.int64()),
        ("missed", pa.int64()),
        ("detected_at", pa.float64()),
    ]
)

#: what the HES knows of a meter's switch and limiter; null = unknown
METER_STATE_SCHEMA = pa.schema(
    [
        ("meter_id", pa.int64()),
        ("switch_connected", pa.bool_()),
        ("contract_amperage_a", pa.int64()),
        ("recorded_at", pa.float64()),  # when the HES learnt the latest of the two
    ]
)

#: the argument a command was submitted with (SET_AMPERAGE: the amperage [A])
COMMAND_ARGUMENT_SCHEMA = pa.schema(
    [
        ("correlation_id", pa.int64()),
        ("meter_id", pa.int64()),
        ("kind", pa.uint8()),  # CommandKind
        ("argument", pa.int64()),
        ("reference", pa.string()),  # the submitter's idempotency key (a request id), or null
    ]
)

#: a command not yet in a terminal state (the HES's queue, as stored)
COMMAND_QUEUE_SCHEMA = pa.schema(
    [
        ("correlation_id", pa.int64()),
        ("meter_index", pa.int64()),  # position in the HES's fleet
        ("kind", pa.uint8()),  # CommandKind
        ("priority", pa.uint8()),
        ("argument", pa.int64()),
        ("argument2", pa.int64()),
        ("issued_at", pa.float64()),
        ("deadline_at", pa.float64()),
    ]
)

#: the switch and limiter of each meter as the HES read them when it was commissioned
COMMISSION_SCHEMA = pa.schema(
    [
        ("meter_id", pa.int64()),
        ("switch_connected", pa.bool_()),
        ("contract_amperage_a", pa.int64()),
        ("commissioned_at", pa.float64()),
    ]
)

#: ``hes.command_requests``: one command asked of the head-end per row
COMMAND_REQUEST_SCHEMA = pa.schema(
    [
        ("correlation_id", pa.int64()),
        ("meter_id", pa.int64()),
        ("kind", pa.uint8()),  # CommandKind
        ("priority", pa.uint8()),
        ("argument", pa.int64()),  # SET_AMPERAGE: the amperage [A], else null
        ("issued_at", pa.float64()),
        ("deadline_at", pa.float64()),
        ("reference", pa.string()),  # the submitter's idempotency key (a request id), or null
        # remote switching: the hub's signed authorisation as JSON (the fields of
        # storage.repositories.command_signing.SignedCommand), else null
        ("authorisation", pa.string()),
    ]
)

#: the ``authorisation`` of a ``hes.command_requests`` row: a JSON object of these fields of
#: the hub's signed authorisation (``storage.repositories.command_signing.SignedCommand``)
AUTHORISATION_FIELDS = (
    "kind",
    "meter_id",
    "argument",
    "effective_s",
    "request_id",
    "approvals",
    "expires_s",
    "signature",
)


def encode_authorisation(command: Any) -> str:
    """The ``authorisation`` text of a request row for a signed command (any object with
    the attributes of :data:`AUTHORISATION_FIELDS`)."""
    fields = {name: getattr(command, name) for name in AUTHORISATION_FIELDS}
    fields["approvals"] = list(fields["approvals"])
    return json.dumps(fields)


def decode_authorisation(text: str | None) -> dict[str, Any] | None:
    """The fields of an ``authorisation`` text, typed; None when empty or not one."""
    if not text:
        return None
    try:
        data = json.loads(text)
        return {
            "kind": int(data["kind"]),
            "meter_id": int(data["meter_id"]),
            "argument": int(data["argument"]),
            "effective_s": float(data["effective_s"]),
            "request_id": str(data["request_id"]),
            "approvals": tuple(str(a) for a in data["approvals"]),
            "expires_s": float(data["expires_s"]),
            "signature": str(data["signature"]),
        }
    except (ValueError, KeyError, TypeError):
        return None


#: one published half-hour value version in the shared interval store
#: (``storage/shared_values.py``): the working store's version as the MDMS recorded it, plus
#: the ``partition`` (the publishing working store, e.g. ``p07``) and the JST ``day`` of the
#: slot (the table's partition column). ``qcode``: ``Quality``; ``reason`` NULL for the usual
#: "register difference". The current value of a slot is its highest version.
PUBLISHED_VALUE_SCHEMA = pa.schema(
    [
        ("partition", pa.string()),
        ("day", pa.date32()),
        ("supply_point_key", pa.int64()),
        ("slot", pa.int64()),
        ("import_wh", pa.int64()),
        ("export_wh", pa.int64()),
        ("qcode", pa.uint8()),
        ("version", pa.int32()),
        ("recorded_at", pa.float64()),
        ("vee_flags", pa.int32()),
        ("final", pa.bool_()),
        ("method", pa.string()),
        ("edited_by", pa.string()),
        ("reason", pa.string()),
    ]
)

TOPIC_SCHEMAS: dict[str, pa.Schema] = {
    TOPIC_READINGS: READ_SCHEMA,
    TOPIC_COMMANDS: COMMAND_SCHEMA,
    TOPIC_EVENTS: EVENT_SCHEMA,
    TOPIC_COMMAND_REQUESTS: COMMAND_REQUEST_SCHEMA,
}
#: nullable columns a topic's contract gained after its first release, oldest first: a
#: batch published before (still in a stream across an upgrade) is read with them null
LATER_COLUMNS: dict[str, tuple[str, ...]] = {
    TOPIC_COMMANDS: ("refusal",),
}

# -- partitions ------------------------------------------------------------------------------
#: supply points fall into this many partitions unless a deployment is created with another
#: number (it cannot change afterwards: every stored subject and lease names its partition)
PARTITIONS = 64


def partition_of(keys: np.ndarray, partitions: int = PARTITIONS) -> np.ndarray:
    """The partition (0 … ``partitions``-1) of each supply point key: a stable 64-bit mix of
    the key (SplitMix64's finaliser) modulo ``partitions``, the same in every process, on
    every machine and in every Python version (never Python's ``hash``)."""
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    mixed = np.asarray(keys, dtype=np.int64).astype(np.uint64)
    mixed = mixed ^ (mixed >> np.uint64(30))
    mixed = mixed * np.uint64(0xBF58476D1CE4E5B9)
    mixed = mixed ^ (mixed >> np.uint64(27))
    mixed = mixed * np.uint64(0x94D049BB133111EB)
    mixed = mixed ^ (mixed >> np.uint64(31))
    return (mixed % np.uint64(partitions)).astype(np.int64)


def partition_subject(prefix: str, topic: str, partition: int) -> str:
    """The bus subject of one partition of a topic: ``<prefix>.<topic>.p<partition>``."""
    return f"{prefix}.{topic}.p{partition}"


class MessageSchemaError(ValueError):
    """A batch whose columns are not its topic's contract."""


def upgrade_batch(topic: str, batch: pa.Table) -> pa.Table:
    """``batch`` as the topic's current contract: a batch of an earlier contract (without
    some trailing :data:`LATER_COLUMNS`) gets them as nulls; any other batch is returned as
    it is (for :func:`check_batch` to judge)."""
    schema = TOPIC_SCHEMAS.get(topic)
    later = LATER_COLUMNS.get(topic, ())
    if schema is None or not later or batch.schema.names == schema.names:
        return batch
    for missing in range(1, len(later) + 1):
        if batch.schema.names == schema.names[: len(schema) - missing]:
            for name in schema.names[len(schema) - missing :]:
                field = schema.field(name)
                batch = batch.append_column(field, pa.nulls(batch.num_rows, field.type))
            return batch
    return batch


def check_batch(topic: str, batch: pa.Table) -> None:
    """Raise :class:`MessageSchemaError` unless ``batch`` has exactly the topic's columns, in
    order and with the same types (a topic this module does not know is refused too)."""
    schema = TOPIC_SCHEMAS.get(topic)
    if schema is None:
        raise MessageSchemaError(f"unknown topic {topic!r}; known: {sorted(TOPIC_SCHEMAS)}")
    if batch.schema.names != schema.names:
        raise MessageSchemaError(
            f"{topic}: columns {batch.schema.names} differ from the contract {schema.names}"
        )
    for field in schema:
        got = batch.schema.field(field.name).type
        if got != field.type:
            raise MessageSchemaError(f"{topic}: column {field.name} is {got}, not {field.type}")
