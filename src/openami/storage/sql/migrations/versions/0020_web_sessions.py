"""Dashboard and portal login sessions shared by every hub replica.

Revision ID: 0020_web_sessions
Revises: 0019_command_refusal
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_web_sessions"
down_revision = "0019_command_refusal"
branch_labels = None
depends_on = None

EPOCH_S: sa.Double[float] = sa.Double()


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("realm", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("csrf_token", sa.Text, nullable=False),
        sa.Column("created_at", EPOCH_S, nullable=False),
        sa.Column("last_seen_at", EPOCH_S, nullable=False),
        sa.Column("expires_at", EPOCH_S, nullable=False),
    )
    op.create_index("web_sessions_expiry", "web_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("web_sessions_expiry", "web_sessions")
    op.drop_table("web_sessions")
