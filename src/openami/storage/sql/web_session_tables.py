"""Login sessions of the dashboard and the customer portal (revision 0020_web_sessions).

One row per open session, keyed by the SHA-256 of its token (the token itself is only in
the browser's cookie): the realm (``operator`` or ``customer``: a cookie of one never opens
the other), who is logged in and with which role, the session's CSRF token, when it was
opened and last seen, and when it expires (the earlier of the idle and the absolute limit).
"""

from __future__ import annotations

import sqlalchemy as sa

from openami.storage.sql.tables import EPOCH_S, metadata

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("token_hash", sa.Text, primary_key=True),
    sa.Column("realm", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("csrf_token", sa.Text, nullable=False),
    sa.Column("created_at", EPOCH_S, nullable=False),
    sa.Column("last_seen_at", EPOCH_S, nullable=False),
    sa.Column("expires_at", EPOCH_S, nullable=False),
    sa.Index("web_sessions_expiry", "expires_at"),
)
