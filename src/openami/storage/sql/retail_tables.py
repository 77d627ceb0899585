"""Tables of retail operations (revision ``0008_req``).

- ``contract_demand_kw``: the contract demand [kW] (契約電力) of a high-voltage supply point,
  effective-dated: a row holds from its ``effective_date`` (ISO JST day) until the next
  row's; set by a ``contract_change`` request (its ``request_id``) when it takes effect.
"""

from __future__ import annotations

import sqlalchemy as sa

from openami.storage.sql.tables import EPOCH_S, KEY, metadata

contract_demand_kw = sa.Table(
    "contract_demand_kw",
    metadata,
    sa.Column("supply_point_key", KEY, primary_key=True),
    sa.Column("effective_date", sa.Text, primary_key=True),
    sa.Column("contract_kw", sa.Double, nullable=False),
    sa.Column("request_id", sa.Text, nullable=False),
    sa.Column("recorded_at", EPOCH_S, nullable=False),
)
