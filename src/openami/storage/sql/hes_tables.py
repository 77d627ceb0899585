"""Tables of the head-end's stored state and of the simulation's position (revision 0003).

The HES keeps its command queue and its journal here so that a restart loses nothing: a
command stays in ``hes_command_queue`` until its outcome is written to
``hes_command_outcomes`` (in the same transaction); alarms, daily clock checks, suspected
outages and the commissioning record of each meter are append-only records. The simulated
city keeps its configuration and how far it has run in ``simulation_state``.

Codes are :mod:`openami.bus.messages` codes (``kind``: ``CommandKind``, ``state``:
``CommandState``, ``event``: ``MeterEvent``); instants are Unix seconds.
"""

from __future__ import annotations

import sqlalchemy as sa

from openami.storage.sql.tables import EPOCH_S, KEY, metadata

hes_command_queue = sa.Table(
    "hes_command_queue",
    metadata,
    sa.Column("correlation_id", KEY, primary_key=True, autoincrement=False),
    sa.Column("meter_index", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.SmallInteger, nullable=False),
    sa.Column("priority", sa.SmallInteger, nullable=False),
    sa.Column("argument", sa.BigInteger, nullable=False),
    sa.Column("argument2", sa.BigInteger, nullable=False),
    sa.Column("issued_at", EPOCH_S, nullable=False),
    sa.Column("deadline_at", EPOCH_S, nullable=False),
)
hes_command_outcomes = sa.Table(
    "hes_command_outcomes",
    metadata,
    sa.Column("correlation_id", KEY, primary_key=True, autoincrement=False),
    sa.Column("meter_id", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.SmallInteger, nullable=False),
    sa.Column("priority", sa.SmallInteger, nullable=False),
    sa.Column("state", sa.SmallInteger, nullable=False),
    sa.Column("attempts", sa.SmallInteger, nullable=False),
    sa.Column("issued_at", EPOCH_S, nullable=False),
    sa.Column("completed_at", EPOCH_S, nullable=False),
    sa.Column("import_register_wh", sa.BigInteger),
    sa.Column("export_register_wh", sa.BigInteger),
    sa.Column("clock_offset_s", sa.Double),
    sa.Column("refusal", sa.Text),  # why the HES refused it (0019_command_refusal), or NULL
    sa.Index("hes_command_outcomes_meter", "meter_id"),
)
hes_command_arguments = sa.Table(
    "hes_command_arguments",
    metadata,
    sa.Column("correlation_id", KEY, primary_key=True, autoincrement=False),
    sa.Column("meter_id", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.SmallInteger, nullable=False),
    sa.Column("argument", sa.BigInteger, nullable=False),
    sa.Column("reference", sa.Text, unique=True),
)
hes_events = sa.Table(
    "hes_events",
    metadata,
    sa.Column("meter_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("occurred_at", EPOCH_S, primary_key=True),
    sa.Column("received_at", EPOCH_S, nullable=False),
    sa.Column("via_log", sa.Boolean, nullable=False),
)
hes_clock_days = sa.Table(
    "hes_clock_days",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("meter_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("clock_checked", sa.Boolean, nullable=False),
    sa.Column("clock_ok", sa.Boolean, nullable=False),
    sa.Column("last_offset_s", sa.Double),
)
hes_segment_alarms = sa.Table(
    "hes_segment_alarms",
    metadata,
    sa.Column("segment", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("is_cell", sa.Boolean, primary_key=True),
    sa.Column("boundary", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("meters", sa.BigInteger, nullable=False),
    sa.Column("missed", sa.BigInteger, nullable=False),
    sa.Column("detected_at", EPOCH_S, nullable=False),
)
hes_commission = sa.Table(
    "hes_commission",
    metadata,
    sa.Column("meter_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("switch_connected", sa.Boolean, nullable=False),
    sa.Column("contract_amperage_a", sa.BigInteger, nullable=False),
    sa.Column("commissioned_at", EPOCH_S, nullable=False),
)
simulation_state = sa.Table(
    "simulation_state",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
