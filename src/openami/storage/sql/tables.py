"""Table definitions of the transactional store at the newest Alembic revision (head).

The repositories build their statements from these :class:`sqlalchemy.Table` objects; the
migrations under ``migrations/versions`` create and change the real tables, and a test
checks that a database upgraded to head matches this metadata on both engines.

Units and encodings: instants are Unix seconds (``*_at``, installation ``valid_from`` /
``valid_to``) as double precision; JST days are ``DATE`` (ISO ``YYYY-MM-DD`` text on SQLite,
as the pre-Alembic files stored them); effective-dated links are half-open periods with
``valid_to`` NULL meaning open-ended.
"""

from __future__ import annotations

import sqlalchemy as sa

from openami.bus.messages import COMM_METHODS

#: integer keys: BIGINT on PostgreSQL, INTEGER on SQLite (there an INTEGER PRIMARY KEY is the
#: row id, as in the pre-Alembic files)
KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: an instant [Unix s]
EPOCH_S: sa.Double[float] = sa.Double()
#: the ``meters`` CHECK, built from the one list of methods; its text is that of the
#: Alembic revisions (``comm_method IN ('mesh', 'cellular', 'plc')``), so no migration
COMM_METHOD_CHECK = "comm_method IN (" + ", ".join(f"'{m}'" for m in COMM_METHODS) + ")"

metadata = sa.MetaData()

# -- registry ------------------------------------------------------------------------------
balancing_groups = sa.Table(
    "balancing_groups",
    metadata,
    sa.Column("balancing_group_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
)
retailers = sa.Table(
    "retailers",
    metadata,
    sa.Column("retailer_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column(
        "balancing_group_id",
        sa.Text,
        sa.ForeignKey("balancing_groups.balancing_group_id"),
        nullable=False,
    ),
)
concentrators = sa.Table(
    "concentrators",
    metadata,
    sa.Column("concentrator_id", sa.Text, primary_key=True),
    sa.Column("area_code", sa.Text, nullable=False),
)
supply_points = sa.Table(
    "supply_points",
    metadata,
    sa.Column("supply_point_key", KEY, primary_key=True, autoincrement=False),
    sa.Column("supply_point_id", sa.Text, nullable=False, unique=True),
    sa.Column("area_code", sa.Text, nullable=False),
)
meters = sa.Table(
    "meters",
    metadata,
    sa.Column("meter_id", KEY, primary_key=True, autoincrement=False),
    sa.Column("maker", sa.Text, nullable=False),
    sa.Column("serial", sa.Text, nullable=False),
    sa.Column("contract_amperage_a", sa.Integer, nullable=False),
    sa.Column("comm_method", sa.Text, nullable=False),
    sa.Column("concentrator_id", sa.Text, sa.ForeignKey("concentrators.concentrator_id")),
    sa.Column("certification_expiry", sa.Date, nullable=False),
    sa.UniqueConstraint("maker", "serial"),
    sa.CheckConstraint(COMM_METHOD_CHECK, name="meters_comm_method"),
)
meter_installations = sa.Table(
    "meter_installations",
    metadata,
    sa.Column(
        "supply_point_key",
        KEY,
        sa.ForeignKey("supply_points.supply_point_key"),
        nullable=False,
    ),
    sa.Column("meter_id", KEY, sa.ForeignKey("meters.meter_id"), nullable=False),
    sa.Column("valid_from", EPOCH_S, nullable=False),
    sa.Column("valid_to", EPOCH_S),
    sa.CheckConstraint(
        "valid_to IS NULL OR valid_to > valid_from", name="meter_installations_period"
    ),
    sa.Index("meter_installations_sp", "supply_point_key"),
)
supply_contracts = sa.Table(
    "supply_contracts",
    metadata,
    sa.Column(
        "supply_point_key",
        KEY,
        sa.ForeignKey("supply_points.supply_point_key"),
        nullable=False,
    ),
    sa.Column("retailer_id", sa.Text, sa.ForeignKey("retailers.retailer_id"), nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_to", sa.Date),
    sa.CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="supply_contracts_period"),
    sa.Index("supply_contracts_sp", "supply_point_key"),
)

# -- C-route clients and OAuth -------------------------------------------------------------
api_clients = sa.Table(
    "api_clients",
    metadata,
    sa.Column("client_id", sa.Text, primary_key=True),
    sa.Column("secret_hash", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("party_id", sa.Text, nullable=False),
)
access_tokens = sa.Table(
    "access_tokens",
    metadata,
    sa.Column("token_hash", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, sa.ForeignKey("api_clients.client_id"), nullable=False),
    sa.Column("expires_at", EPOCH_S, nullable=False),
)
oauth_redirect_uris = sa.Table(
    "oauth_redirect_uris",
    metadata,
    sa.Column("client_id", sa.Text, sa.ForeignKey("api_clients.client_id"), primary_key=True),
    sa.Column("redirect_uri", sa.Text, primary_key=True),
)
oauth_codes = sa.Table(
    "oauth_codes",
    metadata,
    sa.Column("code_hash", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, nullable=False),
    sa.Column("redirect_uri", sa.Text, nullable=False),
    sa.Column("code_challenge", sa.Text, nullable=False),
    sa.Column("consent_id", sa.Text, nullable=False),
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Column("expires_at", EPOCH_S, nullable=False),
)
oauth_tokens = sa.Table(
    "oauth_tokens",
    metadata,
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
)

# -- customers and consents ----------------------------------------------------------------
customers = sa.Table(
    "customers",
    metadata,
    sa.Column("customer_id", sa.Text, primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
)
customer_supply_points = sa.Table(
    "customer_supply_points",
    metadata,
    sa.Column("customer_id", sa.Text, sa.ForeignKey("customers.customer_id"), primary_key=True),
    sa.Column(
        "supply_point_key",
        KEY,
        sa.ForeignKey("supply_points.supply_point_key"),
        primary_key=True,
        autoincrement=False,
    ),
)
consents = sa.Table(
    "consents",
    metadata,
    sa.Column("consent_id", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, sa.ForeignKey("api_clients.client_id"), nullable=False),
    sa.Column("customer_id", sa.Text, sa.ForeignKey("customers.customer_id")),
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
        "status IN ('requested', 'active', 'denied', 'revoked')", name="consents_status"
    ),
    sa.CheckConstraint("period_to >= period_from", name="consents_period"),
    sa.Index("consents_client", "client_id"),
    sa.Index("consents_customer", "customer_id"),
)
consent_supply_points = sa.Table(
    "consent_supply_points",
    metadata,
    sa.Column("consent_id", sa.Text, sa.ForeignKey("consents.consent_id"), primary_key=True),
    sa.Column(
        "supply_point_key",
        KEY,
        sa.ForeignKey("supply_points.supply_point_key"),
        primary_key=True,
        autoincrement=False,
    ),
)

# -- retailer requests and data jobs -------------------------------------------------------
retailer_requests = sa.Table(
    "retailer_requests",
    metadata,
    sa.Column("request_id", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, nullable=False),
    sa.Column("retailer_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("supply_point_key", KEY),
    sa.Column("supply_point_id", sa.Text, nullable=False),
    sa.Column("effective_date", sa.Text, nullable=False),  # ISO JST day, as the API gives it
    sa.Column("amperage_a", sa.Integer),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("error_code", sa.Text),
    sa.Column("error_message", sa.Text),
    sa.Column("correlation_id", KEY),
    sa.Column("received_at", EPOCH_S, nullable=False),
    sa.Column("updated_at", EPOCH_S, nullable=False),
    sa.Column("undo", sa.Text),
    sa.Column("detail", sa.Text),  # JSON: kind-specific input (contract kW, supply plan)
    sa.Column("result", sa.Text),  # JSON: what the request returned (registers read)
    sa.Index("retailer_requests_sp", "supply_point_key"),
    sa.Index("retailer_requests_corr", "correlation_id"),
    sa.Index("retailer_requests_status", "status"),
)
retailer_request_events = sa.Table(
    "retailer_request_events",
    metadata,
    sa.Column("event_id", KEY, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("at", EPOCH_S, nullable=False),
    sa.Column("error_code", sa.Text),
    sa.Index("retailer_request_events_id", "request_id"),
    sqlite_autoincrement=True,
)
data_jobs = sa.Table(
    "data_jobs",
    metadata,
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
    # the hub process computing the job and until when (database clock, epoch s): replicas
    # take only jobs no live process holds (0017_hub_claims)
    sa.Column("claimed_by", sa.Text),
    sa.Column("lease_until", EPOCH_S),
    sa.Index("data_jobs_status", "status"),
)
data_job_chunks = sa.Table(
    "data_job_chunks",
    metadata,
    sa.Column("job_id", sa.Text, primary_key=True),
    sa.Column("chunk_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("body", sa.Text, nullable=False),
)

# -- webhooks ------------------------------------------------------------------------------
webhook_subscriptions = sa.Table(
    "webhook_subscriptions",
    metadata,
    sa.Column("subscription_id", sa.Text, primary_key=True),
    sa.Column("client_id", sa.Text, nullable=False),
    sa.Column("callback_url", sa.Text, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("created_at", EPOCH_S, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("format", sa.Text, nullable=False, server_default="json"),
    sa.Index("webhook_subscriptions_client", "client_id"),
)
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
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
    sa.Column("claimed_by", sa.Text),  # the hub process delivering it (0017_hub_claims)
    sa.Column("lease_until", EPOCH_S),  # … until then (database clock, epoch s)
    sa.Index("webhook_deliveries_due", "status", "next_try_at"),
    sqlite_autoincrement=True,
)
webhook_state = sa.Table(
    "webhook_state",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", EPOCH_S, nullable=False),
)

# -- settings and audit --------------------------------------------------------------------
settings = sa.Table(
    "settings",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", KEY, primary_key=True, autoincrement=False),
    sa.Column("at", EPOCH_S, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("subject", sa.Text),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.Text, nullable=False),
    sa.Column("hash", sa.Text, nullable=False),
)

# -- dashboard operators -------------------------------------------------------------------
operators = sa.Table(
    "operators",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("role", sa.Text, nullable=False),  # viewer, operator, approver or admin
    sa.Column("password_hash", sa.Text, nullable=False),  # argon2id, PHC string
    sa.Column("created_at", EPOCH_S, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
)

# The tables of later revisions, one module each:
# meter assets, certification, work orders and fault tickets (0012_assets)
from openami.storage.sql import asset_tables as asset_tables  # noqa: E402

# balancing groups' demand plans and the loss factors (0006_imbalance)
from openami.storage.sql import balancing_tables as balancing_tables  # noqa: E402

# B-route service applications (0015_broute_apps)
from openami.storage.sql import broute_tables as broute_tables  # noqa: E402

# commands the hub published on hes.command_requests, and their outcomes (0018_bus_commands)
from openami.storage.sql import bus_command_tables as bus_command_tables  # noqa: E402

# meter types, voltage classes, manual reads of conventional meters (0007_conventional)
from openami.storage.sql import conventional_tables as conventional_tables  # noqa: E402

# demand response: VENs, events, participants and their opt, load reports (0016_dr)
from openami.storage.sql import dr_tables as dr_tables  # noqa: E402

# where the head-end reaches each DLMS meter: host, port, logical device (0014_meter_endpoints)
from openami.storage.sql import endpoint_tables as endpoint_tables  # noqa: E402

# the head-end's queue and journal, and the simulation's position (0003)
from openami.storage.sql import hes_tables as hes_tables  # noqa: E402

# partition leases and members of the MDMS workers (0009_nats)
from openami.storage.sql import lease_tables as lease_tables  # noqa: E402

# retail operations: effective-dated contract kW of high-voltage points (0008_req)
from openami.storage.sql import retail_tables as retail_tables  # noqa: E402

# remote-switching safety: authorisations, holds, approvals, the stop flag (0005)
from openami.storage.sql import switching_tables as switching_tables  # noqa: E402

# meters installed by third parties: types, responsibilities, approvals (0010_thirdparty)
from openami.storage.sql import third_party_tables as third_party_tables  # noqa: E402

# dashboard and portal login sessions shared by the hub replicas (0020_web_sessions)
from openami.storage.sql import web_session_tables as web_session_tables  # noqa: E402

# each supply point's meter-reading day schedule code (0011_wheeling)
from openami.storage.sql import wheeling_tables as wheeling_tables  # noqa: E402
