"""Why a HES refused a command, with the command's outcome: ``refusal`` (one of
``openami.bus.messages.REFUSAL_REASONS``, NULL for a command that ran) on the HES's
``hes_command_outcomes`` and on the hub's ``bus_commands`` (what ``hes.commands`` carried).

Revision ID: 0019_command_refusal
Revises: 0018_bus_commands
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_command_refusal"
down_revision = "0018_bus_commands"
branch_labels = None
depends_on = None

TABLES = ("hes_command_outcomes", "bus_commands")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("refusal", sa.Text))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("refusal")
