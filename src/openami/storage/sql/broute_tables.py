"""B-route service applications (revision 0015_broute_apps; issue #18 §4).

``broute_applications``: one row per application for a supply point's B-route service,
by its retailer or by the customer holding it. ``status`` moves applied → issued →
provisioned → notified, or ends ``failed`` (``reason``) or ``revoked``. The issued pair is
``rbid`` (32 hex digits) and ``password_sealed`` (AES-256-GCM under the master key, the
application id and credential version bound as additional data: the meter needs the
password in clear, so a hash would not do); ``credential_version`` grows with each issue
(rotation). ``meter_rbid`` / ``meter_password_sealed`` / ``meter_version`` are what the
meter was confirmed to hold by the last read-back (NULL: nothing). ``live_key`` is the
supply point key while the application is live and NULL once it failed or was revoked, so
one live application per point is a UNIQUE constraint on both engines. ``shown_at``: when
the password was shown to the customer (once per version). Instants are Unix seconds.
"""

from __future__ import annotations

import sqlalchemy as sa

from openami.storage.sql.tables import EPOCH_S, KEY, metadata

broute_applications = sa.Table(
    "broute_applications",
    metadata,
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
    sa.Column("applicant", sa.Text, nullable=False),  # retailer:ID or customer:ID
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
    sa.Column("correlation_id", sa.BigInteger),  # the HES command in flight
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
