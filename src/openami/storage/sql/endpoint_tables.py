"""Where the head-end reaches each DLMS meter (revision 0014_meter_endpoints).

One row per meter: the TCP wrapper endpoint (``host``, ``port``) and the meter's logical
device there (``logical_device``, its wPort). Many meters may share one endpoint (a gateway,
or the emulator of ``openami dlms serve``); the HES caps concurrent sessions per endpoint.
"""

from __future__ import annotations

import sqlalchemy as sa

from openami.storage.sql.tables import EPOCH_S, KEY, metadata

meter_endpoints = sa.Table(
    "meter_endpoints",
    metadata,
    sa.Column("meter_id", KEY, primary_key=True, autoincrement=False),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("logical_device", sa.Integer, nullable=False),
    sa.Column("updated_at", EPOCH_S, nullable=False),
    sa.CheckConstraint("port BETWEEN 1 AND 65535", name="meter_endpoints_port"),
    sa.CheckConstraint("logical_device BETWEEN 1 AND 65535", name="meter_endpoints_logical_device"),
)
