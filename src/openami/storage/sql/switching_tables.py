"""Tables of remote-switching safety (revision 0005).

- ``switch_authorisations``: a customer's confirmation that one retailer may take over one
  of their supply points from one JST day; a switching request quotes its id, once;
- ``request_controls``: per retailer request, what guards it: the losing retailer and the
  end of its objection window (switching), the authorisation quoted, the move-out flag
  (disconnects without notice), why it is held, and the operators who approved it (JSON);
- ``switching_state``: named flags, today the emergency stop (``halted``);
- ``switching_alerts``: every time a cap was hit (scope, key, counts, limit);
- ``hes_remote_operations``: every remote switching command the HES admitted (for its
  fleet-wide cap and for replay detection by request id and signature);
- ``hes_command_refusals``: commands the HES refused, with the reason.

Instants are Unix seconds; days ISO ``YYYY-MM-DD`` (JST), as in ``retailer_requests``.
"""

from __future__ import annotations

import sqlalchemy as sa

from openami.storage.sql.tables import EPOCH_S, KEY, metadata

switch_authorisations = sa.Table(
    "switch_authorisations",
    metadata,
    sa.Column("authorisation_id", sa.Text, primary_key=True),
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Column("supply_point_key", sa.BigInteger, nullable=False),
    sa.Column("retailer_id", sa.Text, nullable=False),
    sa.Column("effective_date", sa.Text, nullable=False),
    sa.Column("created_at", EPOCH_S, nullable=False),
    sa.Column("expires_at", EPOCH_S, nullable=False),
    sa.Column("used_by", sa.Text),
    sa.Column("revoked_at", EPOCH_S),
    sa.Index("switch_authorisations_customer", "customer_id"),
)
request_controls = sa.Table(
    "request_controls",
    metadata,
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
switching_state = sa.Table(
    "switching_state",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("changed_at", EPOCH_S, nullable=False),
    sa.Column("changed_by", sa.Text, nullable=False),
)
switching_alerts = sa.Table(
    "switching_alerts",
    metadata,
    sa.Column("alert_id", KEY, primary_key=True, autoincrement=True),
    sa.Column("at", EPOCH_S, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("scope_key", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sqlite_autoincrement=True,
)
hes_remote_operations = sa.Table(
    "hes_remote_operations",
    metadata,
    sa.Column("correlation_id", KEY, primary_key=True, autoincrement=False),
    sa.Column("meter_id", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.SmallInteger, nullable=False),
    sa.Column("admitted_at", EPOCH_S, nullable=False),
    sa.Column("request_id", sa.Text),
    sa.Column("signature", sa.Text),
    sa.Index("hes_remote_operations_at", "admitted_at"),
    sa.Index("hes_remote_operations_request", "request_id"),
    sa.Index("hes_remote_operations_signature", "signature"),
)
hes_command_refusals = sa.Table(
    "hes_command_refusals",
    metadata,
    sa.Column("correlation_id", KEY, primary_key=True, autoincrement=False),
    sa.Column("meter_id", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.SmallInteger, nullable=False),
    sa.Column("request_id", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("refused_at", EPOCH_S, nullable=False),
)
