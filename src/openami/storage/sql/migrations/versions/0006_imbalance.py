"""Balancing groups' demand plans (versioned submissions and their values per area and
slot) and the network loss factors per area and voltage class, effective-dated.

Revision ID: 0006_imbalance
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_imbalance"
down_revision = "0005"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EPOCH_S: sa.Double[float] = sa.Double()


def upgrade() -> None:
    op.create_table(
        "demand_plan_submissions",
        sa.Column("submission_id", KEY, primary_key=True, autoincrement=True),
        sa.Column("balancing_group_id", sa.Text, nullable=False),
        sa.Column("day", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("submitted_at", EPOCH_S, nullable=False),
        sa.Column("submitted_by", sa.Text, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.UniqueConstraint(
            "balancing_group_id", "day", "version", name="demand_plan_submissions_version"
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "demand_plan_values",
        sa.Column(
            "submission_id",
            sa.BigInteger,
            sa.ForeignKey("demand_plan_submissions.submission_id"),
            primary_key=True,
        ),
        sa.Column("area_code", sa.Text, primary_key=True),
        sa.Column("slot_of_day", sa.SmallInteger, primary_key=True),
        sa.Column("energy_wh", sa.BigInteger, nullable=False),
        sa.CheckConstraint("energy_wh >= 0", name="demand_plan_values_energy"),
        sa.CheckConstraint("slot_of_day BETWEEN 0 AND 47", name="demand_plan_values_slot"),
    )
    op.create_table(
        "loss_factors",
        sa.Column("area_code", sa.Text, primary_key=True),
        sa.Column("voltage_class", sa.Text, primary_key=True),
        sa.Column("valid_from", sa.Text, primary_key=True),
        sa.Column("loss_rate", sa.Double, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("loaded_at", EPOCH_S, nullable=False),
        sa.CheckConstraint("loss_rate >= 0 AND loss_rate < 1", name="loss_factors_rate"),
    )


def downgrade() -> None:
    for name in ("loss_factors", "demand_plan_values", "demand_plan_submissions"):
        op.drop_table(name)
