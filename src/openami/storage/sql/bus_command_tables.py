"""Commands the hub published on ``hes.command_requests`` (revision 0018_bus_commands).

The hub's record of each command it asked a HES service for over the bus: what it asked
(meter, kind, argument, the request ID as ``reference``), when it published it
(``published_at``, NULL until the bus accepted the message) and, once an outcome came back
on ``hes.commands``, the outcome (``state``, ``completed_at``, the registers read back, the
HES's ``refusal`` reason when it refused the command).
"""

from __future__ import annotations

import sqlalchemy as sa

from openami.storage.sql.tables import EPOCH_S, KEY, metadata

bus_commands = sa.Table(
    "bus_commands",
    metadata,
    sa.Column("command_id", KEY, primary_key=True, autoincrement=True),
    sa.Column("meter_id", KEY, nullable=False),
    sa.Column("kind", sa.SmallInteger, nullable=False),
    sa.Column("argument", sa.BigInteger, nullable=False),
    sa.Column("reference", sa.Text, unique=True),
    sa.Column("issued_at", EPOCH_S, nullable=False),
    sa.Column("deadline_at", EPOCH_S, nullable=False),
    sa.Column("published_at", EPOCH_S),
    sa.Column("state", sa.SmallInteger, nullable=False),
    sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("completed_at", EPOCH_S),
    sa.Column("import_register_wh", sa.BigInteger),
    sa.Column("export_register_wh", sa.BigInteger),
    sa.Column("clock_offset_s", EPOCH_S),
    sa.Column("refusal", sa.Text),  # the HES's refusal reason (0019_command_refusal), or NULL
    sa.Index("bus_commands_meter", "meter_id", "kind", "state"),
    sqlite_autoincrement=True,
)
