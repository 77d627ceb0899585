"""Each DLMS meter's endpoint for the HES service: host, port, logical device (wPort).

Revision ID: 0014_meter_endpoints
Revises: 0016_dr
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_meter_endpoints"
down_revision = "0016_dr"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EPOCH_S: sa.Double[float] = sa.Double()


def upgrade() -> None:
    op.create_table(
        "meter_endpoints",
        sa.Column("meter_id", KEY, primary_key=True, autoincrement=False),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("logical_device", sa.Integer, nullable=False),
        sa.Column("updated_at", EPOCH_S, nullable=False),
        sa.CheckConstraint("port BETWEEN 1 AND 65535", name="meter_endpoints_port"),
        sa.CheckConstraint(
            "logical_device BETWEEN 1 AND 65535", name="meter_endpoints_logical_device"
        ),
    )


def downgrade() -> None:
    op.drop_table("meter_endpoints")
