"""Tables of balancing groups' demand plans and of network loss factors (revision
0006_imbalance).

- ``demand_plan_submissions``: one row per accepted submission of a balancing group's
  demand plan (需要計画) for one JST day; ``version`` counts 1, 2, … per (group, day) and is
  unique, so two concurrent submissions cannot both become the same version. Rows are
  never changed: the newest version is the current plan, the older ones its history;
- ``demand_plan_values``: the submission's energy per area and slot of the day
  (``slot_of_day`` 0…47, ``energy_wh`` in Wh at the sending end, gross of losses);
- ``loss_factors``: the loss rate (損失率, a fraction of the energy sent) per area and
  voltage class from ``valid_from`` (a JST day) until the next row of the same pair, with
  the source of the figure.

Instants are Unix seconds; days ISO ``YYYY-MM-DD`` (JST) text, as in ``retailer_requests``.
"""

from __future__ import annotations

import sqlalchemy as sa

from openami.storage.sql.tables import EPOCH_S, KEY, metadata

demand_plan_submissions = sa.Table(
    "demand_plan_submissions",
    metadata,
    sa.Column("submission_id", KEY, primary_key=True, autoincrement=True),
    sa.Column("balancing_group_id", sa.Text, nullable=False),
    sa.Column("day", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("submitted_at", EPOCH_S, nullable=False),
    sa.Column("submitted_by", sa.Text, nullable=False),
    sa.Column("content_type", sa.Text, nullable=False),
    sa.UniqueConstraint(
        "balancing_group_id", "day", "version", name="demand_plan_submissions_version"
    ),
    sqlite_autoincrement=True,
)
demand_plan_values = sa.Table(
    "demand_plan_values",
    metadata,
    sa.Column(
        "submission_id",
        sa.BigInteger,
        sa.ForeignKey("demand_plan_submissions.submission_id"),
        primary_key=True,
    ),
    sa.Column("area_code", sa.Text, primary_key=True),
    sa.Column("slot_of_day", sa.SmallInteger, primary_key=True),
    sa.Column("energy_wh", sa.BigInteger, nullable=False),
    sa.CheckConstraint("energy_wh >= 0", name="demand_plan_values_energy"),
    sa.CheckConstraint("slot_of_day BETWEEN 0 AND 47", name="demand_plan_values_slot"),
)
loss_factors = sa.Table(
    "loss_factors",
    metadata,
    sa.Column("area_code", sa.Text, primary_key=True),
    sa.Column("voltage_class", sa.Text, primary_key=True),
    sa.Column("valid_from", sa.Text, primary_key=True),
    sa.Column("loss_rate", sa.Double, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("loaded_at", EPOCH_S, nullable=False),
    sa.CheckConstraint("loss_rate >= 0 AND loss_rate < 1", name="loss_factors_rate"),
)
