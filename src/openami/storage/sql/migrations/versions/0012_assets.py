"""Meter assets: the model catalogue, procurement lots, each meter's lifecycle states,
certification records (検定), work orders with their steps, and fault tickets.

Revision ID: 0012_assets
Revises: 0011_wheeling
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_assets"
down_revision = "0011_wheeling"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EPOCH_S: sa.Double[float] = sa.Double()
TABLES = (
    "fault_tickets",
    "work_order_events",
    "work_orders",
    "certifications",
    "asset_states",
    "asset_meters",
    "procurement_lots",
    "meter_models",
)


def upgrade() -> None:
    op.create_table(
        "meter_models",
        sa.Column("model_id", sa.Text, primary_key=True),
        sa.Column("maker", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("rated_current_a", sa.Integer, nullable=False),
        sa.Column("phase_wires", sa.Text, nullable=False),
        sa.Column("comm_unit_options", sa.Text, nullable=False),
        sa.Column("utility_spec", sa.Text, nullable=False),
        sa.Column("meter_kind", sa.Text, nullable=False),
        sa.CheckConstraint("rated_current_a IN (30, 60, 120)", name="meter_models_rated_current"),
        sa.UniqueConstraint("maker", "model", name="meter_models_maker_model"),
    )
    op.create_table(
        "procurement_lots",
        sa.Column("lot_id", sa.Text, primary_key=True),
        sa.Column("model_id", sa.Text, sa.ForeignKey("meter_models.model_id"), nullable=False),
        sa.Column("supplier", sa.Text, nullable=False),
        sa.Column("ordered_on", sa.Text, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.CheckConstraint("quantity > 0", name="procurement_lots_quantity"),
    )
    op.create_table(
        "asset_meters",
        sa.Column("meter_id", KEY, primary_key=True, autoincrement=False),
        sa.Column("model_id", sa.Text, sa.ForeignKey("meter_models.model_id"), nullable=False),
        sa.Column("lot_id", sa.Text, sa.ForeignKey("procurement_lots.lot_id")),
        sa.Column("serial", sa.Text, nullable=False),
    )
    op.create_table(
        "asset_states",
        sa.Column("meter_id", KEY, sa.ForeignKey("asset_meters.meter_id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("effective_from", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("recorded_at", EPOCH_S, nullable=False),
    )
    op.create_table(
        "certifications",
        sa.Column("certificate_no", sa.Text, primary_key=True),
        sa.Column("meter_id", KEY, sa.ForeignKey("asset_meters.meter_id"), nullable=False),
        sa.Column("certified_on", sa.Text, nullable=False),
        sa.Column("validity_years", sa.Integer, nullable=False),
        sa.Column("rule_source", sa.Text, nullable=False),
        sa.Column("expires_on", sa.Text, nullable=False),
        sa.Column("recorded_at", EPOCH_S, nullable=False),
        sa.CheckConstraint("validity_years BETWEEN 1 AND 20", name="certifications_validity"),
        sa.Index("certifications_meter", "meter_id"),
    )
    op.create_table(
        "work_orders",
        sa.Column("work_order_id", KEY, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("supply_point_id", sa.Text, nullable=False),
        sa.Column("old_meter_id", KEY),
        sa.Column("new_meter_id", KEY),
        sa.Column("requested_at", EPOCH_S, nullable=False),
        sa.Column("target_days", sa.Integer, nullable=False),
        sa.Column("assigned_to", sa.Text),
        sa.Column("completed_at", EPOCH_S),
        sa.Column("old_final_import_wh", sa.BigInteger),
        sa.Column("new_initial_import_wh", sa.BigInteger),
        sa.Column("fault_ticket_id", KEY),
        sa.Column("note", sa.Text, nullable=False),
        sa.Index("work_orders_state", "state"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "work_order_events",
        sa.Column(
            "work_order_id", KEY, sa.ForeignKey("work_orders.work_order_id"), primary_key=True
        ),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("at", EPOCH_S, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
    )
    op.create_table(
        "fault_tickets",
        sa.Column("ticket_id", KEY, primary_key=True, autoincrement=True),
        sa.Column("meter_id", KEY, nullable=False),
        sa.Column("cause", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("opened_at", EPOCH_S, nullable=False),
        sa.Column("closed_at", EPOCH_S),
        sa.Column("open_key", sa.Text, unique=True),
        sa.Column("work_order_id", KEY),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
