"""Demand response over OpenADR 2.0b (revision 0016_dr).

- ``dr_vens``: the VENs (HEMS) an aggregator may enrol: the VEN's name, the ``ven_id`` the
  VTN hands out, the customer's supply point, the SHA-256 fingerprint of the VEN's client
  certificate (registration is refused to any other certificate), when it registered;
- ``dr_events``: events an aggregator created: a signal (``level`` 0–3, ``target_w`` or
  ``price`` in JPY/kWh), start and duration, status ``pending`` (not yet handed to the VTN),
  ``distributed`` or ``cancelled``;
- ``dr_participants``: which VEN (so which supply point) an event is for, its opt-in or
  opt-out and when;
- ``dr_reports``: the home's metered load the VENs report (TELEMETRY_USAGE), one row per
  VEN and instant.
"""

from __future__ import annotations

import sqlalchemy as sa

from openami.storage.sql.tables import EPOCH_S, metadata

EVENT_SIGNALS = ("level", "target_w", "price")
EVENT_STATES = ("pending", "distributed", "cancelled")
OPTS = ("none", "optIn", "optOut")

dr_vens = sa.Table(
    "dr_vens",
    metadata,
    sa.Column("ven_name", sa.Text, primary_key=True),
    sa.Column("ven_id", sa.Text, nullable=False, unique=True),
    sa.Column("aggregator_id", sa.Text, nullable=False),
    sa.Column("supply_point_id", sa.Text, nullable=False),
    sa.Column("cert_fingerprint", sa.Text, nullable=False),
    sa.Column("registration_id", sa.Text),
    sa.Column("registered_at", EPOCH_S),
    sa.Column("created_at", EPOCH_S, nullable=False),
    sa.Column("revoked_at", EPOCH_S),
)
dr_events = sa.Table(
    "dr_events",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("aggregator_id", sa.Text, nullable=False),
    sa.Column("signal", sa.Text, nullable=False),
    sa.Column("value", sa.Double, nullable=False),
    sa.Column("start_s", EPOCH_S, nullable=False),
    sa.Column("duration_s", EPOCH_S, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", EPOCH_S, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.CheckConstraint(f"signal IN {EVENT_SIGNALS}", name="dr_events_signal"),
    sa.CheckConstraint(f"status IN {EVENT_STATES}", name="dr_events_status"),
    sa.CheckConstraint("duration_s > 0", name="dr_events_duration"),
    sa.Index("dr_events_aggregator", "aggregator_id", "start_s"),
)
dr_participants = sa.Table(
    "dr_participants",
    metadata,
    sa.Column("event_id", sa.Text, sa.ForeignKey("dr_events.event_id"), primary_key=True),
    sa.Column("ven_name", sa.Text, sa.ForeignKey("dr_vens.ven_name"), primary_key=True),
    sa.Column("supply_point_id", sa.Text, nullable=False),
    sa.Column("opt", sa.Text, nullable=False),
    sa.Column("opt_at", EPOCH_S),
    sa.CheckConstraint(f"opt IN {OPTS}", name="dr_participants_opt"),
    sa.Index("dr_participants_point", "supply_point_id"),
)
dr_reports = sa.Table(
    "dr_reports",
    metadata,
    sa.Column("ven_name", sa.Text, sa.ForeignKey("dr_vens.ven_name"), primary_key=True),
    sa.Column("measured_at", EPOCH_S, primary_key=True),
    sa.Column("power_w", sa.Double, nullable=False),
    sa.Column("received_at", EPOCH_S, nullable=False),
)
