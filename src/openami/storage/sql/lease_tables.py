"""Partition leases of the MDMS workers (revision 0009_nats).

Supply points fall into ``bus_partitions`` partitions (``openami.bus.messages.partition_of``);
a worker writes a partition's data only while it holds that partition's lease. A lease row
says who holds it, until when (``expires_at``, Unix seconds by the database's clock) and its
``epoch``, which grows by one whenever the lease changes hands (a fencing token: a worker
that lost its lease cannot renew it, and work it tags with an old epoch can be refused).
Workers announce themselves in ``lease_members`` with a heartbeat, so that each knows how
many are alive and takes its fair share of the partitions.
"""

from __future__ import annotations

import sqlalchemy as sa

from openami.storage.sql.tables import EPOCH_S, metadata

partition_leases = sa.Table(
    "partition_leases",
    metadata,
    sa.Column("lease_group", sa.Text, primary_key=True),  # e.g. "mdms"
    sa.Column("partition", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("epoch", sa.BigInteger, nullable=False),
    sa.Column("expires_at", EPOCH_S, nullable=False),
    sa.Column("acquired_at", EPOCH_S, nullable=False),
)
lease_members = sa.Table(
    "lease_members",
    metadata,
    sa.Column("lease_group", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, primary_key=True),
    sa.Column("expires_at", EPOCH_S, nullable=False),
)
