"""Demand response over OpenADR 2.0b: VENs, events, participants with their opt, load
reports (``storage/sql/dr_tables.py`` describes each).

Revision ID: 0016_dr
Revises: 0015_broute_apps
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_dr"
down_revision = "0015_broute_apps"
branch_labels = None
depends_on = None

EPOCH_S: sa.Double[float] = sa.Double()
TABLES = ("dr_reports", "dr_participants", "dr_events", "dr_vens")


def upgrade() -> None:
    op.create_table(
        "dr_vens",
        sa.Column("ven_name", sa.Text, primary_key=True),
        sa.Column("ven_id", sa.Text, nullable=False, unique=True),
        sa.Column("aggregator_id", sa.Text, nullable=False),
        sa.Column("supply_point_id", sa.Text, nullable=False),
        sa.Column("cert_fingerprint", sa.Text, nullable=False),
        sa.Column("registration_id", sa.Text),
        sa.Column("registered_at", EPOCH_S),
        sa.Column("created_at", EPOCH_S, nullable=False),
        sa.Column("revoked_at", EPOCH_S),
    )
    op.create_table(
        "dr_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("aggregator_id", sa.Text, nullable=False),
        sa.Column("signal", sa.Text, nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("start_s", EPOCH_S, nullable=False),
        sa.Column("duration_s", EPOCH_S, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_at", EPOCH_S, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.CheckConstraint("signal IN ('level', 'target_w', 'price')", name="dr_events_signal"),
        sa.CheckConstraint(
            "status IN ('pending', 'distributed', 'cancelled')", name="dr_events_status"
        ),
        sa.CheckConstraint("duration_s > 0", name="dr_events_duration"),
    )
    op.create_index("dr_events_aggregator", "dr_events", ["aggregator_id", "start_s"])
    op.create_table(
        "dr_participants",
        sa.Column("event_id", sa.Text, sa.ForeignKey("dr_events.event_id"), primary_key=True),
        sa.Column("ven_name", sa.Text, sa.ForeignKey("dr_vens.ven_name"), primary_key=True),
        sa.Column("supply_point_id", sa.Text, nullable=False),
        sa.Column("opt", sa.Text, nullable=False),
        sa.Column("opt_at", EPOCH_S),
        sa.CheckConstraint("opt IN ('none', 'optIn', 'optOut')", name="dr_participants_opt"),
    )
    op.create_index("dr_participants_point", "dr_participants", ["supply_point_id"])
    op.create_table(
        "dr_reports",
        sa.Column("ven_name", sa.Text, sa.ForeignKey("dr_vens.ven_name"), primary_key=True),
        sa.Column("measured_at", EPOCH_S, primary_key=True),
        sa.Column("power_w", sa.Double, nullable=False),
        sa.Column("received_at", EPOCH_S, nullable=False),
    )


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
