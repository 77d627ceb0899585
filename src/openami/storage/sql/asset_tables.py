"""Tables of the meter assets, their certification, work orders and fault tickets
(revision 0012_assets; issue #17 §1 and §2).

- ``meter_models``: the catalogue (maker, model, rated current 30/60/120 A, phase/wires,
  communication unit options as a comma-separated list, the utility spec it follows);
- ``procurement_lots``: a lot of one model bought on a day from a supplier;
- ``asset_meters``: one physical meter (``meter_id`` as in the registry's ``meters``) of a
  model, from a lot (optional), with its serial;
- ``asset_states``: the meter's lifecycle history, one row per state from ``effective_from``
  (a JST day) on, never changed; the newest row is the current state;
- ``certifications``: legal certification records (検定: certificate number, day, validity
  in years and the source of that rule); the newest record of a meter gives its expiry;
- ``work_orders`` and ``work_order_events``: work orders and their step history;
- ``fault_tickets``: tickets opened by meter events; ``open_key`` is ``meter:cause`` while
  the ticket is open and NULL once closed, so one open ticket per meter and cause is a
  UNIQUE constraint on both engines (NULLs are distinct).

Instants are Unix seconds; days are ISO ``YYYY-MM-DD`` text; energies are Wh.
"""

from __future__ import annotations

import sqlalchemy as sa

from openami.storage.sql.tables import EPOCH_S, KEY, metadata

meter_models = sa.Table(
    "meter_models",
    metadata,
    sa.Column("model_id", sa.Text, primary_key=True),
    sa.Column("maker", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("rated_current_a", sa.Integer, nullable=False),
    sa.Column("phase_wires", sa.Text, nullable=False),
    sa.Column("comm_unit_options", sa.Text, nullable=False),
    sa.Column("utility_spec", sa.Text, nullable=False),
    sa.Column("meter_kind", sa.Text, nullable=False),
    sa.CheckConstraint("rated_current_a IN (30, 60, 120)", name="meter_models_rated_current"),
    sa.UniqueConstraint("maker", "model", name="meter_models_maker_model"),
)
procurement_lots = sa.Table(
    "procurement_lots",
    metadata,
    sa.Column("lot_id", sa.Text, primary_key=True),
    sa.Column("model_id", sa.Text, sa.ForeignKey("meter_models.model_id"), nullable=False),
    sa.Column("supplier", sa.Text, nullable=False),
    sa.Column("ordered_on", sa.Text, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.CheckConstraint("quantity > 0", name="procurement_lots_quantity"),
)
asset_meters = sa.Table(
    "asset_meters",
    metadata,
    sa.Column("meter_id", KEY, primary_key=True, autoincrement=False),
    sa.Column("model_id", sa.Text, sa.ForeignKey("meter_models.model_id"), nullable=False),
    sa.Column("lot_id", sa.Text, sa.ForeignKey("procurement_lots.lot_id")),
    sa.Column("serial", sa.Text, nullable=False),
)
asset_states = sa.Table(
    "asset_states",
    metadata,
    sa.Column("meter_id", KEY, sa.ForeignKey("asset_meters.meter_id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("effective_from", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("recorded_by", sa.Text, nullable=False),
    sa.Column("recorded_at", EPOCH_S, nullable=False),
)
certifications = sa.Table(
    "certifications",
    metadata,
    sa.Column("certificate_no", sa.Text, primary_key=True),
    sa.Column("meter_id", KEY, sa.ForeignKey("asset_meters.meter_id"), nullable=False),
    sa.Column("certified_on", sa.Text, nullable=False),
    sa.Column("validity_years", sa.Integer, nullable=False),
    sa.Column("rule_source", sa.Text, nullable=False),
    sa.Column("expires_on", sa.Text, nullable=False),
    sa.Column("recorded_at", EPOCH_S, nullable=False),
    sa.CheckConstraint("validity_years BETWEEN 1 AND 20", name="certifications_validity"),
    sa.Index("certifications_meter", "meter_id"),
)
work_orders = sa.Table(
    "work_orders",
    metadata,
    sa.Column("work_order_id", KEY, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("supply_point_id", sa.Text, nullable=False),
    sa.Column("old_meter_id", KEY),
    sa.Column("new_meter_id", KEY),
    sa.Column("requested_at", EPOCH_S, nullable=False),
    sa.Column("target_days", sa.Integer, nullable=False),
    sa.Column("assigned_to", sa.Text),
    sa.Column("completed_at", EPOCH_S),
    sa.Column("old_final_import_wh", sa.BigInteger),
    sa.Column("new_initial_import_wh", sa.BigInteger),
    sa.Column("fault_ticket_id", KEY),
    sa.Column("note", sa.Text, nullable=False),
    sa.Index("work_orders_state", "state"),
    sqlite_autoincrement=True,
)
work_order_events = sa.Table(
    "work_order_events",
    metadata,
    sa.Column("work_order_id", KEY, sa.ForeignKey("work_orders.work_order_id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("at", EPOCH_S, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
)
fault_tickets = sa.Table(
    "fault_tickets",
    metadata,
    sa.Column("ticket_id", KEY, primary_key=True, autoincrement=True),
    sa.Column("meter_id", KEY, nullable=False),
    sa.Column("cause", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("opened_at", EPOCH_S, nullable=False),
    sa.Column("closed_at", EPOCH_S),
    sa.Column("open_key", sa.Text, unique=True),
    sa.Column("work_order_id", KEY),
    sqlite_autoincrement=True,
)
