"""Partition leases of the MDMS workers and their members' heartbeats.

Revision ID: 0009_nats
Revises: 0008_req
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_nats"
down_revision = "0008_req"
branch_labels = None
depends_on = None

EPOCH_S: sa.Double[float] = sa.Double()


def upgrade() -> None:
    op.create_table(
        "partition_leases",
        sa.Column("lease_group", sa.Text, primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("expires_at", EPOCH_S, nullable=False),
        sa.Column("acquired_at", EPOCH_S, nullable=False),
    )
    op.create_table(
        "lease_members",
        sa.Column("lease_group", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, primary_key=True),
        sa.Column("expires_at", EPOCH_S, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lease_members")
    op.drop_table("partition_leases")
