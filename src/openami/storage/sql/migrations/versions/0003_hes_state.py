"""The head-end's command queue and journal, and the simulated city's position, are stored.

Until now the HES kept its queue and journal in memory and ``openami demo`` started afresh
every time; with these tables ``openami serve`` resumes after a restart (even ``kill -9``)
with every queued command and every outcome, alarm, clock check and suspected outage:

- ``hes_command_queue``: commands not yet in a terminal state;
- ``hes_command_outcomes``, ``hes_command_arguments``: terminal outcomes and the arguments
  commands were submitted with;
- ``hes_events``, ``hes_clock_days``, ``hes_segment_alarms``, ``hes_commission``: alarms,
  daily clock checks, suspected outages, each meter's state when the HES commissioned it;
- ``simulation_state``: the simulated city's configuration and how far it has run.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EPOCH_S: sa.Double[float] = sa.Double()


def upgrade() -> None:
    op.create_table(
        "hes_command_queue",
        sa.Column("correlation_id", KEY, primary_key=True, autoincrement=False),
        sa.Column("meter_index", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.SmallInteger, nullable=False),
        sa.Column("priority", sa.SmallInteger, nullable=False),
        sa.Column("argument", sa.BigInteger, nullable=False),
        sa.Column("argument2", sa.BigInteger, nullable=False),
        sa.Column("issued_at", EPOCH_S, nullable=False),
        sa.Column("deadline_at", EPOCH_S, nullable=False),
    )
    op.create_table(
        "hes_command_outcomes",
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
    )
    op.create_index("hes_command_outcomes_meter", "hes_command_outcomes", ["meter_id"])
    op.create_table(
        "hes_command_arguments",
        sa.Column("correlation_id", KEY, primary_key=True, autoincrement=False),
        sa.Column("meter_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.SmallInteger, nullable=False),
        sa.Column("argument", sa.BigInteger, nullable=False),
        sa.Column("reference", sa.Text, unique=True),
    )
    op.create_table(
        "hes_events",
        sa.Column("meter_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("occurred_at", EPOCH_S, primary_key=True),
        sa.Column("received_at", EPOCH_S, nullable=False),
        sa.Column("via_log", sa.Boolean, nullable=False),
    )
    op.create_table(
        "hes_clock_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("meter_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("clock_checked", sa.Boolean, nullable=False),
        sa.Column("clock_ok", sa.Boolean, nullable=False),
        sa.Column("last_offset_s", sa.Double),
    )
    op.create_table(
        "hes_segment_alarms",
        sa.Column("segment", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("is_cell", sa.Boolean, primary_key=True),
        sa.Column("boundary", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("meters", sa.BigInteger, nullable=False),
        sa.Column("missed", sa.BigInteger, nullable=False),
        sa.Column("detected_at", EPOCH_S, nullable=False),
    )
    op.create_table(
        "hes_commission",
        sa.Column("meter_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("switch_connected", sa.Boolean, nullable=False),
        sa.Column("contract_amperage_a", sa.BigInteger, nullable=False),
        sa.Column("commissioned_at", EPOCH_S, nullable=False),
    )
    op.create_table(
        "simulation_state",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "simulation_state",
        "hes_commission",
        "hes_segment_alarms",
        "hes_clock_days",
        "hes_events",
        "hes_command_arguments",
        "hes_command_outcomes",
        "hes_command_queue",
    ):
        op.drop_table(name)
