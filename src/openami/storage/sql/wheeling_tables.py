"""Tables of billing periods (revision 0011_wheeling).

- ``reading_days``: each supply point's meter-reading day schedule code (基本検針日, 1 … 17;
  see :mod:`openami.clock.calendar`): its 計量日 is that month's code-th business day. A
  stored attribute of the supply point, one row per point; a point without a row has no
  reading day yet (the registry service answers the seed's assignment for it).
"""

from __future__ import annotations

import sqlalchemy as sa

from openami.storage.sql.tables import KEY, metadata

reading_days = sa.Table(
    "reading_days",
    metadata,
    sa.Column(
        "supply_point_key",
        KEY,
        sa.ForeignKey("supply_points.supply_point_key"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("reading_day_code", sa.SmallInteger, nullable=False),
    sa.CheckConstraint("reading_day_code BETWEEN 1 AND 17", name="reading_day_code_range"),
)
