"""The schema of the stores before Alembic (registry, clients, OAuth, consents, requests,
jobs, webhooks; main up to commit c589b51).

Those stores created their tables on first use, so a file made then holds some of these
tables: each is created only where missing, and columns added to them over time without a
migration (``consents.requested_points``, ``webhook_subscriptions.format``,
``retailer_requests.undo``) are added where missing. On an empty database this creates the
whole schema as it was.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
EPOCH_S: sa.Double[float] = sa.Double()


def _tables() -> list[tuple[str, list[sa.schema.SchemaItem]]]:
    fk = sa.ForeignKey
    return [
        (
            "balancing_groups",
            [
                sa.Column("balancing_group_id", sa.Text, primary_key=True),
                sa.Column("name", sa.Text, nullable=False),
            ],
        ),
        (
            "retailers",
            [
                sa.Column("retailer_id", sa.Text, primary_key=True),
                sa.Column("name", sa.Text, nullable=False),
                sa.Column(
                    "balancing_group_id",
                    sa.Text,
                    fk("balancing_groups.balancing_group_id"),
                    nullable=False,
                ),
            ],
        ),
        (
            "concentrators",
            [
                sa.Column("concentrator_id", sa.Text, primary_key=True),
                sa.Column("area_code", sa.Text, nullable=False),
            ],
        ),
        (
            "supply_points",
            [
                sa.Column("supply_point_key", KEY, primary_key=True, autoincrement=False),
                sa.Column("supply_point_id", sa.Text, nullable=False, unique=True),
                sa.Column("area_code", sa.Text, nullable=False),
            ],
        ),
        (
            "meters",
            [
                sa.Column("meter_id", KEY, primary_key=True, autoincrement=False),
                sa.Column("maker", sa.Text, nullable=False),
                sa.Column("serial", sa.Text, nullable=False),
                sa.Column("contract_amperage_a", sa.Integer, nullable=False),
                sa.Column("comm_method", sa.Text, nullable=False),
                sa.Column("concentrator_id", sa.Text, fk("concentrators.concentrator_id")),
                sa.Column("certification_expiry", sa.Date, nullable=False),
                sa.UniqueConstraint("maker", "serial"),
                sa.CheckConstraint(
                    "comm_method IN ('mesh', 'cellular', 'plc')", name="meters_comm_method"
                ),
            ],
        ),
        (
            "meter_installations",
            [
                sa.Column(
                    "supply_point_key",
                    KEY,
                    fk("supply_points.supply_point_key"),
                    nullable=False,
                ),
                sa.Column("meter_id", KEY, fk("meters.meter_id"), nullable=False),
                sa.Column("valid_from", EPOCH_S, nullable=False),
                sa.Column("valid_to", EPOCH_S),
                sa.CheckConstraint(
                    "valid_to IS NULL OR valid_to > valid_from", name="meter_installations_period"
                ),
                sa.Index("meter_installations_sp", "supply_point_key"),
            ],
        ),
        (
            "supply_contracts",
            [
                sa.Column(
                    "supply_point_key",
                    KEY,
                    fk("supply_points.supply_point_key"),
                    nullable=False,
                ),
                sa.Column("retailer_id", sa.Text, fk("retailers.retailer_id"), nullable=False),
                sa.Column("valid_from", sa.Date, nullable=False),
                sa.Column("valid_to", sa.Date),
                sa.CheckConstraint(
                    "valid_to IS NULL OR valid_to > valid_from", name="supply_contracts_period"
                ),
                sa.Index("supply_contracts_sp", "supply_point_key"),
            ],
        ),
        (
            "api_clients",
            [
                sa.Column("client_id", sa.Text, primary_key=True),
                sa.Column("secret_hash", sa.Text, nullable=False),
                sa.Column("role", sa.Text, nullable=False),
                sa.Column("party_id", sa.Text, nullable=False),
            ],
        ),
        (
            "access_tokens",
            [
                sa.Column("token_hash", sa.Text, primary_key=True),
                sa.Column("client_id", sa.Text, fk("api_clients.client_id"), nullable=False),
                sa.Column("expires_at", EPOCH_S, nullable=False),
            ],
        ),
        *_croute_tables(),
    ]


def _croute_tables() -> list[tuple[str, list[sa.schema.SchemaItem]]]:
    fk = sa.ForeignKey
    return [
        (
            "oauth_redirect_uris",
            [
                sa.Column("client_id", sa.Text, fk("api_clients.client_id"), primary_key=True),
                sa.Column("redirect_uri", sa.Text, primary_key=True),
            ],
        ),
        (
            "oauth_codes",
            [
                sa.Column("code_hash", sa.Text, primary_key=True),
                sa.Column("client_id", sa.Text, nullable=False),
                sa.Column("redirect_uri", sa.Text, nullable=False),
                sa.Column("code_challenge", sa.Text, nullable=False),
                sa.Column("consent_id", sa.Text, nullable=False),
                sa.Column("customer_id", sa.Text, nullable=False),
                sa.Column("expires_at", EPOCH_S, nullable=False),
            ],
        ),
        (
            "oauth_tokens",
            [
                sa.Column("access_hash", sa.Text, primary_key=True),
                sa.Column("refresh_hash", sa.Text, nullable=False, unique=True),
                sa.Column("family", sa.Text, nullable=False),
                sa.Column("client_id", sa.Text, nullable=False),
                sa.Column("consent_id", sa.Text, nullable=False),
                sa.Column("customer_id", sa.Text, nullable=False),
                sa.Column("access_expires_at", EPOCH_S, nullable=False),
                sa.Column("refresh_expires_at", EPOCH_S, nullable=False),
                sa.Column("revoked_at", EPOCH_S),
                sa.Index("oauth_tokens_family", "family"),
            ],
        ),
        (
            "customers",
            [
                sa.Column("customer_id", sa.Text, primary_key=True),
                sa.Column("password_hash", sa.Text, nullable=False),
            ],
        ),
        (
            "customer_supply_points",
            [
                sa.Column("customer_id", sa.Text, fk("customers.customer_id"), primary_key=True),
                sa.Column(
                    "supply_point_key",
                    KEY,
                    fk("supply_points.supply_point_key"),
                    primary_key=True,
                    autoincrement=False,
                ),
            ],
        ),
        (
            "consents",
            [
                sa.Column("consent_id", sa.Text, primary_key=True),
                sa.Column("client_id", sa.Text, fk("api_clients.client_id"), nullable=False),
                sa.Column("customer_id", sa.Text, fk("customers.customer_id")),
                sa.Column("purpose", sa.Text, nullable=False),
                sa.Column("data_kinds", sa.Text, nullable=False),
                sa.Column("period_from", sa.Date, nullable=False),
                sa.Column("period_to", sa.Date, nullable=False),
                sa.Column("status", sa.Text, nullable=False),
                sa.Column("created_at", EPOCH_S, nullable=False),
                sa.Column("decided_at", EPOCH_S),
                sa.Column("expires_at", EPOCH_S, nullable=False),
                sa.Column("revoked_at", EPOCH_S),
                sa.Column("requested_points", sa.Text, nullable=False, server_default=""),
                sa.CheckConstraint(
                    "status IN ('requested', 'active', 'denied', 'revoked')",
                    name="consents_status",
                ),
                sa.CheckConstraint("period_to >= period_from", name="consents_period"),
                sa.Index("consents_client", "client_id"),
                sa.Index("consents_customer", "customer_id"),
            ],
        ),
        (
            "consent_supply_points",
            [
                sa.Column("consent_id", sa.Text, fk("consents.consent_id"), primary_key=True),
                sa.Column(
                    "supply_point_key",
                    KEY,
                    fk("supply_points.supply_point_key"),
                    primary_key=True,
                    autoincrement=False,
                ),
            ],
        ),
        *_request_and_webhook_tables(),
    ]


def _request_and_webhook_tables() -> list[tuple[str, list[sa.schema.SchemaItem]]]:
    return [
        (
            "retailer_requests",
            [
                sa.Column("request_id", sa.Text, primary_key=True),
                sa.Column("client_id", sa.Text, nullable=False),
                sa.Column("retailer_id", sa.Text, nullable=False),
                sa.Column("kind", sa.Text, nullable=False),
                sa.Column("supply_point_key", KEY),
                sa.Column("supply_point_id", sa.Text, nullable=False),
                sa.Column("effective_date", sa.Text, nullable=False),
                sa.Column("amperage_a", sa.Integer),
                sa.Column("status", sa.Text, nullable=False),
                sa.Column("error_code", sa.Text),
                sa.Column("error_message", sa.Text),
                sa.Column("correlation_id", KEY),
                sa.Column("received_at", EPOCH_S, nullable=False),
                sa.Column("updated_at", EPOCH_S, nullable=False),
                sa.Column("undo", sa.Text),
                sa.Index("retailer_requests_sp", "supply_point_key"),
                sa.Index("retailer_requests_corr", "correlation_id"),
                sa.Index("retailer_requests_status", "status"),
            ],
        ),
        (
            "retailer_request_events",
            [
                sa.Column("request_id", sa.Text, nullable=False),
                sa.Column("status", sa.Text, nullable=False),
                sa.Column("at", EPOCH_S, nullable=False),
                sa.Column("error_code", sa.Text),
                sa.Index("retailer_request_events_id", "request_id"),
            ],
        ),
        (
            "data_jobs",
            [
                sa.Column("job_id", sa.Text, primary_key=True),
                sa.Column("client_id", sa.Text, nullable=False),
                sa.Column("retailer_id", sa.Text, nullable=False),
                sa.Column("first_day", sa.Text, nullable=False),
                sa.Column("last_day", sa.Text, nullable=False),
                sa.Column("supply_points", sa.Text, nullable=False),
                sa.Column("status", sa.Text, nullable=False),
                sa.Column("chunks_total", sa.Integer, nullable=False),
                sa.Column("chunks_done", sa.Integer, nullable=False),
                sa.Column("created_at", EPOCH_S, nullable=False),
                sa.Column("updated_at", EPOCH_S, nullable=False),
                sa.Column("error_message", sa.Text),
                sa.Index("data_jobs_status", "status"),
            ],
        ),
        (
            "data_job_chunks",
            [
                sa.Column("job_id", sa.Text, primary_key=True),
                sa.Column("chunk_no", sa.Integer, primary_key=True, autoincrement=False),
                sa.Column("body", sa.Text, nullable=False),
            ],
        ),
        (
            "webhook_subscriptions",
            [
                sa.Column("subscription_id", sa.Text, primary_key=True),
                sa.Column("client_id", sa.Text, nullable=False),
                sa.Column("callback_url", sa.Text, nullable=False),
                sa.Column("secret", sa.Text, nullable=False),
                sa.Column("created_at", EPOCH_S, nullable=False),
                sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
                sa.Column("format", sa.Text, nullable=False, server_default="json"),
                sa.Index("webhook_subscriptions_client", "client_id"),
            ],
        ),
        (
            "webhook_deliveries",
            [
                sa.Column("delivery_id", KEY, primary_key=True, autoincrement=True),
                sa.Column("subscription_id", sa.Text, nullable=False),
                sa.Column("body", sa.LargeBinary, nullable=False),
                sa.Column("status", sa.Text, nullable=False),
                sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
                sa.Column("next_try_at", EPOCH_S, nullable=False),
                sa.Column("created_at", EPOCH_S, nullable=False),
                sa.Column("delivered_at", EPOCH_S),
                sa.Column("last_status", sa.Integer),
                sa.Column("last_error", sa.Text),
                sa.Index("webhook_deliveries_due", "status", "next_try_at"),
            ],
        ),
        (
            "webhook_state",
            [
                sa.Column("name", sa.Text, primary_key=True),
                sa.Column("value", EPOCH_S, nullable=False),
            ],
        ),
    ]


#: columns added to existing tables before Alembic without a migration
_LATE_COLUMNS = (
    ("consents", sa.Column("requested_points", sa.Text, nullable=False, server_default="")),
    (
        "webhook_subscriptions",
        sa.Column("format", sa.Text, nullable=False, server_default="json"),
    ),
    ("retailer_requests", sa.Column("undo", sa.Text)),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    for name, items in _tables():
        if name in existing:
            continue
        columns = [i for i in items if not isinstance(i, sa.Index)]
        autoincrement = {"sqlite_autoincrement": True} if name == "webhook_deliveries" else {}
        op.create_table(name, *columns, **autoincrement)
        for index in (i for i in items if isinstance(i, sa.Index)):
            op.create_index(index.name, name, [str(c) for c in index.expressions])
    for table, column in _LATE_COLUMNS:
        if table in existing:
            have = {c["name"] for c in inspector.get_columns(table)}
            if column.name not in have:
                op.add_column(table, column)


def downgrade() -> None:
    for name, _ in reversed(_tables()):
        op.drop_table(name)
