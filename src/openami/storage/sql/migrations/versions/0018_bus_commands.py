"""The hub's record of commands it published on ``hes.command_requests``.

Revision ID: 0018_bus_commands
Revises: 0017_hub_claims
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_bus_commands"
down_revision = "0017_hub_claims"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EPOCH_S: sa.Double[float] = sa.Double()


def upgrade() -> None:
    op.create_table(
        "bus_commands",
        sa.Column("command_id", KEY, primary_key=True, autoincrement=True),
        sa.Column("meter_id", KEY, nullable=False),
        sa.Column("kind", sa.SmallInteger, nullable=False),
        sa.Column("argument", sa.BigInteger, nullable=False),
        sa.Column("reference", sa.Text, unique=True),
        sa.Column("issued_at", EPOCH_S, nullable=False),
        sa.Column("deadline_at", EPOCH_S, nullable=False),
        sa.Column("published_at", EPOCH_S),
        sa.Column("state", sa.SmallInteger, nullable=False),
        sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("completed_at", EPOCH_S),
        sa.Column("import_register_wh", sa.BigInteger),
        sa.Column("export_register_wh", sa.BigInteger),
        sa.Column("clock_offset_s", EPOCH_S),
        sqlite_autoincrement=True,
    )
    op.create_index("bus_commands_meter", "bus_commands", ["meter_id", "kind", "state"])


def downgrade() -> None:
    op.drop_index("bus_commands_meter", "bus_commands")
    op.drop_table("bus_commands")
