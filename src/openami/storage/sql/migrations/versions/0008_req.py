"""Retail operations: a retailer request's kind-specific input and its result (JSON), and
the effective-dated contract demand [kW] of high-voltage supply points.

Revision ID: 0008_req
Revises: 0007_conventional
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_req"
down_revision = "0007_conventional"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EPOCH_S: sa.Double[float] = sa.Double()


def upgrade() -> None:
    op.add_column("retailer_requests", sa.Column("detail", sa.Text))
    op.add_column("retailer_requests", sa.Column("result", sa.Text))
    op.create_table(
        "contract_demand_kw",
        sa.Column("supply_point_key", KEY, primary_key=True),
        sa.Column("effective_date", sa.Text, primary_key=True),
        sa.Column("contract_kw", sa.Double, nullable=False),
        sa.Column("request_id", sa.Text, nullable=False),
        sa.Column("recorded_at", EPOCH_S, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("contract_demand_kw")
    with op.batch_alter_table("retailer_requests") as batch:
        batch.drop_column("result")
        batch.drop_column("detail")
