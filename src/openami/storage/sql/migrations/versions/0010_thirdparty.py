"""Meters installed by third parties (seed section 2): installation types, the lifecycle
responsibility matrix, cost attribution, the type-approval register of metering parts, each
meter's type and owner, and sub-meter reads kept out of billing and settlement.

The matrix and the cost attribution are seeded from reference third-party-meters.md.

Revision ID: 0010_thirdparty
Revises: 0009_nats
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from openami.storage.sql.third_party_tables import (
    seed_cost_attributions,
    seed_responsibilities,
    seed_types,
)

revision = "0010_thirdparty"
down_revision = "0009_nats"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EPOCH_S: sa.Double[float] = sa.Double()


def upgrade() -> None:
    types = op.create_table(
        "installation_types",
        sa.Column("installation_type", sa.Text, primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("readings_route", sa.Text, nullable=False),
        sa.Column("enters_settlement", sa.Boolean, nullable=False),
        sa.CheckConstraint(
            "readings_route IN ('aroute', 'operator_submission', 'none')",
            name="installation_types_route",
        ),
    )
    duties = op.create_table(
        "lifecycle_responsibilities",
        sa.Column(
            "installation_type",
            sa.Text,
            sa.ForeignKey("installation_types.installation_type"),
            primary_key=True,
        ),
        sa.Column("stage", sa.Text, primary_key=True),
        sa.Column("responsible", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.CheckConstraint(
            "responsible IN ('utility', 'third_party')", name="lifecycle_responsibilities_who"
        ),
    )
    costs = op.create_table(
        "cost_attributions",
        sa.Column(
            "installation_type",
            sa.Text,
            sa.ForeignKey("installation_types.installation_type"),
            primary_key=True,
        ),
        sa.Column("cost_item", sa.Text, primary_key=True),
        sa.Column("payer", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.CheckConstraint(
            "payer IN ('utility', 'third_party', 'chooser', 'open')",
            name="cost_attributions_payer",
        ),
    )
    op.create_table(
        "type_approvals",
        sa.Column("approval_id", sa.Text, primary_key=True),
        sa.Column("maker", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("interface_version", sa.Text, nullable=False),
        sa.Column("approved_on", sa.Text, nullable=False),
        sa.Column("withdrawn_on", sa.Text),
        sa.UniqueConstraint("maker", "model", "interface_version", name="type_approvals_model"),
    )
    op.create_table(
        "third_party_meters",
        sa.Column("meter_id", KEY, sa.ForeignKey("meters.meter_id"), primary_key=True),
        sa.Column("valid_from", sa.Text, primary_key=True),
        sa.Column("valid_to", sa.Text),
        sa.Column(
            "installation_type",
            sa.Text,
            sa.ForeignKey("installation_types.installation_type"),
            nullable=False,
        ),
        sa.Column("owner_party_id", sa.Text, nullable=False),
        sa.Column("chooser_party_id", sa.Text),
        sa.Column("supply_point_key", KEY, sa.ForeignKey("supply_points.supply_point_key")),
        sa.Column("approval_id", sa.Text, sa.ForeignKey("type_approvals.approval_id")),
        sa.Column("chosen_model", sa.Text),
        sa.Column("extra_cost_yen", sa.BigInteger, nullable=False, server_default="0"),
        sa.CheckConstraint("extra_cost_yen >= 0", name="third_party_meters_extra_cost"),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name="third_party_meters_period"
        ),
    )
    op.create_table(
        "sub_meter_readings",
        sa.Column("meter_id", KEY, sa.ForeignKey("meters.meter_id"), primary_key=True),
        sa.Column("read_at", EPOCH_S, primary_key=True),
        sa.Column("import_register_wh", sa.BigInteger, nullable=False),
        sa.Column("received_at", EPOCH_S, nullable=False),
        sa.CheckConstraint("import_register_wh >= 0", name="sub_meter_readings_register"),
    )
    op.create_table(
        "operator_commands",
        sa.Column("command_id", KEY, primary_key=True, autoincrement=True),
        sa.Column("meter_id", KEY, sa.ForeignKey("meters.meter_id"), nullable=False),
        sa.Column("operator_party_id", sa.Text, nullable=False),
        sa.Column("kind", sa.SmallInteger, nullable=False),
        sa.Column("argument", sa.BigInteger, nullable=False),
        sa.Column("reference", sa.Text, unique=True),
        sa.Column("issued_at", EPOCH_S, nullable=False),
        sa.Column("deadline_at", EPOCH_S, nullable=False),
        sa.Column("state", sa.SmallInteger, nullable=False),
        sa.Column("completed_at", EPOCH_S),
        sqlite_autoincrement=True,
    )
    op.bulk_insert(types, seed_types())
    op.bulk_insert(duties, seed_responsibilities())
    op.bulk_insert(costs, seed_cost_attributions())


def downgrade() -> None:
    for name in (
        "operator_commands",
        "sub_meter_readings",
        "third_party_meters",
        "type_approvals",
        "cost_attributions",
        "lifecycle_responsibilities",
        "installation_types",
    ):
        op.drop_table(name)
