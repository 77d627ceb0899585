"""Hub replicas: claims with leases on webhook deliveries and data jobs, so that several
hub processes over one database each take a row no other live process holds
(``claimed_by`` names the process, ``lease_until`` is the database clock's epoch seconds
after which another may take it over).

Revision ID: 0017_hub_claims
Revises: 0014_meter_endpoints
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_hub_claims"
down_revision = "0014_meter_endpoints"
branch_labels = None
depends_on = None

TABLES = ("webhook_deliveries", "data_jobs")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("claimed_by", sa.Text))
            batch.add_column(sa.Column("lease_until", sa.Double))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("lease_until")
            batch.drop_column("claimed_by")
