"""Points without a smart meter yet and high-voltage points: meter types and CT/VT
multipliers, voltage and load-shape classes of supply points, manual reads.

Revision ID: 0007_conventional
Revises: 0006_imbalance
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_conventional"
down_revision = "0006_imbalance"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EPOCH_S: sa.Double[float] = sa.Double()


def upgrade() -> None:
    op.create_table(
        "meter_kinds",
        sa.Column("meter_id", KEY, sa.ForeignKey("meters.meter_id"), primary_key=True),
        sa.Column("meter_type", sa.Text, nullable=False),
        sa.Column("multiplier", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_table(
        "supply_point_classes",
        sa.Column(
            "supply_point_key",
            KEY,
            sa.ForeignKey("supply_points.supply_point_key"),
            primary_key=True,
        ),
        sa.Column("voltage_class", sa.Text, nullable=False),
        sa.Column("load_shape", sa.Text, nullable=False),
    )
    op.create_table(
        "manual_reads",
        sa.Column("meter_id", KEY, sa.ForeignKey("meters.meter_id"), primary_key=True),
        sa.Column("read_on", sa.Text, primary_key=True),
        sa.Column("import_register_wh", sa.BigInteger, nullable=False),
        sa.Column("reader", sa.Text, nullable=False),
        sa.Column("recorded_at", EPOCH_S, nullable=False),
    )


def downgrade() -> None:
    for name in ("manual_reads", "supply_point_classes", "meter_kinds"):
        op.drop_table(name)
