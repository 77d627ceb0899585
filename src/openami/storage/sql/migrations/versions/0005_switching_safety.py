"""Remote-switching safety: customer switch authorisations, request controls (objection
window, hold, approvals), the emergency stop flag, cap alerts, and the HES's record of the
remote operations it admitted and the commands it refused.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EPOCH_S: sa.Double[float] = sa.Double()


def upgrade() -> None:
    op.create_table(
        "switch_authorisations",
        sa.Column("authorisation_id", sa.Text, primary_key=True),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("supply_point_key", sa.BigInteger, nullable=False),
        sa.Column("retailer_id", sa.Text, nullable=False),
        sa.Column("effective_date", sa.Text, nullable=False),
        sa.Column("created_at", EPOCH_S, nullable=False),
        sa.Column("expires_at", EPOCH_S, nullable=False),
        sa.Column("used_by", sa.Text),
        sa.Column("revoked_at", EPOCH_S),
    )
    op.create_index("switch_authorisations_customer", "switch_authorisations", ["customer_id"])
    op.create_table(
        "request_controls",
        sa.Column("request_id", sa.Text, primary_key=True),
        sa.Column("losing_retailer_id", sa.Text),
        sa.Column("objection_deadline", EPOCH_S),
        sa.Column("authorisation_id", sa.Text),
        sa.Column("move_out", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("requested_by", sa.Text),
        sa.Column("hold_reason", sa.Text),
        sa.Column("approvals", sa.Text, nullable=False, server_default="[]"),
        sa.Column("approvals_needed", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "switching_state",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("changed_at", EPOCH_S, nullable=False),
        sa.Column("changed_by", sa.Text, nullable=False),
    )
    op.create_table(
        "switching_alerts",
        sa.Column("alert_id", KEY, primary_key=True, autoincrement=True),
        sa.Column("at", EPOCH_S, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("scope_key", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "hes_remote_operations",
        sa.Column("correlation_id", KEY, primary_key=True, autoincrement=False),
        sa.Column("meter_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.SmallInteger, nullable=False),
        sa.Column("admitted_at", EPOCH_S, nullable=False),
        sa.Column("request_id", sa.Text),
        sa.Column("signature", sa.Text),
    )
    op.create_index("hes_remote_operations_at", "hes_remote_operations", ["admitted_at"])
    op.create_index("hes_remote_operations_request", "hes_remote_operations", ["request_id"])
    op.create_index("hes_remote_operations_signature", "hes_remote_operations", ["signature"])
    op.create_table(
        "hes_command_refusals",
        sa.Column("correlation_id", KEY, primary_key=True, autoincrement=False),
        sa.Column("meter_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.SmallInteger, nullable=False),
        sa.Column("request_id", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("refused_at", EPOCH_S, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "hes_command_refusals",
        "hes_remote_operations",
        "switching_alerts",
        "switching_state",
        "request_controls",
        "switch_authorisations",
    ):
        op.drop_table(name)
