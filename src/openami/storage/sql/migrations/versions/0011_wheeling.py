"""Meter-reading days: each supply point's 計量日 schedule code (1 … 17).

Revision ID: 0011_wheeling
Revises: 0010_thirdparty
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_wheeling"
down_revision = "0010_thirdparty"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reading_days",
        sa.Column(
            "supply_point_key",
            KEY,
            sa.ForeignKey("supply_points.supply_point_key"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("reading_day_code", sa.SmallInteger, nullable=False),
        sa.CheckConstraint("reading_day_code BETWEEN 1 AND 17", name="reading_day_code_range"),
    )


def downgrade() -> None:
    op.drop_table("reading_days")
