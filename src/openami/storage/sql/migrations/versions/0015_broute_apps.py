"""B-route service applications: status, the issued ID and sealed password, what the meter
holds (see ``storage/sql/broute_tables.py``).

Revision ID: 0015_broute_apps
Revises: 0012_assets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_broute_apps"
down_revision = "0012_assets"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EPOCH_S: sa.Double[float] = sa.Double()


def upgrade() -> None:
    op.create_table(
        "broute_applications",
        sa.Column("application_id", sa.Text, primary_key=True),
        sa.Column(
            "supply_point_key",
            KEY,
            sa.ForeignKey("supply_points.supply_point_key"),
            nullable=False,
            index=True,
        ),
        sa.Column("live_key", KEY, unique=True),
        sa.Column("meter_id", KEY, index=True),
        sa.Column("applicant", sa.Text, nullable=False),
        sa.Column("retailer_id", sa.Text),
        sa.Column("customer_id", sa.Text, index=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("credential_version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rbid", sa.Text),
        sa.Column("password_sealed", sa.Text),
        sa.Column("meter_version", sa.Integer),
        sa.Column("meter_rbid", sa.Text),
        sa.Column("meter_password_sealed", sa.Text),
        sa.Column("correlation_id", sa.BigInteger),
        sa.Column("created_at", EPOCH_S, nullable=False),
        sa.Column("updated_at", EPOCH_S, nullable=False),
        sa.Column("issued_at", EPOCH_S),
        sa.Column("provisioned_at", EPOCH_S),
        sa.Column("notified_at", EPOCH_S),
        sa.Column("shown_at", EPOCH_S),
        sa.Column("revoked_at", EPOCH_S),
        sa.CheckConstraint(
            "status IN ('applied', 'issued', 'provisioned', 'notified', 'failed', 'revoked')",
            name="broute_applications_status",
        ),
    )


def downgrade() -> None:
    op.drop_table("broute_applications")
