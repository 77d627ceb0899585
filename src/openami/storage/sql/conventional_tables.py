"""Tables of points without a smart meter yet, and of high-voltage points (revision 0006).

- ``meter_kinds``: per meter its type (``smart`` or ``conventional``) and the CT/VT
  multiplier (乗率) of a transformer-operated meter; a meter without a row is a smart meter
  with multiplier 1;
- ``supply_point_classes``: per supply point its voltage class (``low`` or ``high``) and the
  load-shape class its contract type is profiled with; a point without a row is low voltage
  with the ``residential`` shape;
- ``manual_reads``: monthly reads of conventional meters by a meter reader: JST day, import
  register [Wh, as read on the dial], reader, when it was recorded. One read per meter and day.

Days are ISO ``YYYY-MM-DD`` (JST); instants Unix seconds.
"""

from __future__ import annotations

import sqlalchemy as sa

from openami.storage.sql.tables import EPOCH_S, KEY, metadata

meter_kinds = sa.Table(
    "meter_kinds",
    metadata,
    sa.Column("meter_id", KEY, sa.ForeignKey("meters.meter_id"), primary_key=True),
    sa.Column("meter_type", sa.Text, nullable=False),
    sa.Column("multiplier", sa.Integer, nullable=False, server_default="1"),
)
supply_point_classes = sa.Table(
    "supply_point_classes",
    metadata,
    sa.Column(
        "supply_point_key",
        KEY,
        sa.ForeignKey("supply_points.supply_point_key"),
        primary_key=True,
    ),
    sa.Column("voltage_class", sa.Text, nullable=False),
    sa.Column("load_shape", sa.Text, nullable=False),
)
manual_reads = sa.Table(
    "manual_reads",
    metadata,
    sa.Column("meter_id", KEY, sa.ForeignKey("meters.meter_id"), primary_key=True),
    sa.Column("read_on", sa.Text, primary_key=True),
    sa.Column("import_register_wh", sa.BigInteger, nullable=False),
    sa.Column("reader", sa.Text, nullable=False),
    sa.Column("recorded_at", EPOCH_S, nullable=False),
)
