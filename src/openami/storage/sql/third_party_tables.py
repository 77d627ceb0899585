"""Tables of meters installed by parties other than the utility (revision 0010_thirdparty).

The seed's four types (reference third-party-meters.md) are data, not code:

- ``installation_types``: one row per type (``utility`` for today's meters, ``i``, ``i-2``,
  ``ii``, ``iii``) with the route its readings take to the utility (``aroute`` over the
  utility's A route, ``operator_submission`` through the meter operators' data-submission
  API, ``none`` for a sub-meter) and whether its values may enter billing and settlement;
- ``lifecycle_responsibilities``: who is responsible for each of the seven stages of the
  meter's life per type (``utility`` or ``third_party``), the seed's matrix;
- ``cost_attributions``: who pays each cost item per type (``utility``, ``third_party``,
  ``chooser`` or ``open`` where the seed leaves it open), with the source;
- ``type_approvals``: the register of metering parts approved for type (ii) (型の認定), each
  against a version of the published interface, effective from ``approved_on`` until
  ``withdrawn_on`` (exclusive);
- ``third_party_meters``: a meter's type, owner and chooser, effective-dated (half-open
  ``valid_from``/``valid_to`` JST days), with the approval of its metering part (ii) or the
  chosen model's extra cost over the standard model (iii);
- ``operator_commands``: remote open/close (and ampere changes) of type (i) meters sent to
  their operator's endpoint instead of the HES: kind and argument as the HES's commands
  (``CommandKind``), the request it serves (``reference``, unique), a ``deadline_at`` after
  which it times out, and its ``state`` (``CommandState``) once the operator answered;
- ``sub_meter_readings``: register reads of type (i)-2 sub-meters: stored and shown to their
  owner and the customer, never read by billing or settlement (no interval store row).

Days are ISO ``YYYY-MM-DD`` text (as in ``retailer_requests``); instants Unix seconds.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from openami.storage.sql.tables import EPOCH_S, KEY, metadata

installation_types = sa.Table(
    "installation_types",
    metadata,
    sa.Column("installation_type", sa.Text, primary_key=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("readings_route", sa.Text, nullable=False),
    sa.Column("enters_settlement", sa.Boolean, nullable=False),
    sa.CheckConstraint(
        "readings_route IN ('aroute', 'operator_submission', 'none')",
        name="installation_types_route",
    ),
)
lifecycle_responsibilities = sa.Table(
    "lifecycle_responsibilities",
    metadata,
    sa.Column(
        "installation_type",
        sa.Text,
        sa.ForeignKey("installation_types.installation_type"),
        primary_key=True,
    ),
    sa.Column("stage", sa.Text, primary_key=True),
    sa.Column("responsible", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.CheckConstraint(
        "responsible IN ('utility', 'third_party')", name="lifecycle_responsibilities_who"
    ),
)
cost_attributions = sa.Table(
    "cost_attributions",
    metadata,
    sa.Column(
        "installation_type",
        sa.Text,
        sa.ForeignKey("installation_types.installation_type"),
        primary_key=True,
    ),
    sa.Column("cost_item", sa.Text, primary_key=True),
    sa.Column("payer", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.CheckConstraint(
        "payer IN ('utility', 'third_party', 'chooser', 'open')", name="cost_attributions_payer"
    ),
)
type_approvals = sa.Table(
    "type_approvals",
    metadata,
    sa.Column("approval_id", sa.Text, primary_key=True),
    sa.Column("maker", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("interface_version", sa.Text, nullable=False),
    sa.Column("approved_on", sa.Text, nullable=False),
    sa.Column("withdrawn_on", sa.Text),
    sa.UniqueConstraint("maker", "model", "interface_version", name="type_approvals_model"),
)
third_party_meters = sa.Table(
    "third_party_meters",
    metadata,
    sa.Column("meter_id", KEY, sa.ForeignKey("meters.meter_id"), primary_key=True),
    sa.Column("valid_from", sa.Text, primary_key=True),
    sa.Column("valid_to", sa.Text),
    sa.Column(
        "installation_type",
        sa.Text,
        sa.ForeignKey("installation_types.installation_type"),
        nullable=False,
    ),
    sa.Column("owner_party_id", sa.Text, nullable=False),
    sa.Column("chooser_party_id", sa.Text),
    sa.Column("supply_point_key", KEY, sa.ForeignKey("supply_points.supply_point_key")),
    sa.Column("approval_id", sa.Text, sa.ForeignKey("type_approvals.approval_id")),
    sa.Column("chosen_model", sa.Text),
    sa.Column("extra_cost_yen", sa.BigInteger, nullable=False, server_default="0"),
    sa.CheckConstraint("extra_cost_yen >= 0", name="third_party_meters_extra_cost"),
    sa.CheckConstraint(
        "valid_to IS NULL OR valid_to > valid_from", name="third_party_meters_period"
    ),
)
sub_meter_readings = sa.Table(
    "sub_meter_readings",
    metadata,
    sa.Column("meter_id", KEY, sa.ForeignKey("meters.meter_id"), primary_key=True),
    sa.Column("read_at", EPOCH_S, primary_key=True),
    sa.Column("import_register_wh", sa.BigInteger, nullable=False),
    sa.Column("received_at", EPOCH_S, nullable=False),
    sa.CheckConstraint("import_register_wh >= 0", name="sub_meter_readings_register"),
)

operator_commands = sa.Table(
    "operator_commands",
    metadata,
    sa.Column("command_id", KEY, primary_key=True, autoincrement=True),
    sa.Column("meter_id", KEY, sa.ForeignKey("meters.meter_id"), nullable=False),
    sa.Column("operator_party_id", sa.Text, nullable=False),
    sa.Column("kind", sa.SmallInteger, nullable=False),
    sa.Column("argument", sa.BigInteger, nullable=False),
    sa.Column("reference", sa.Text, unique=True),
    sa.Column("issued_at", EPOCH_S, nullable=False),
    sa.Column("deadline_at", EPOCH_S, nullable=False),
    sa.Column("state", sa.SmallInteger, nullable=False),
    sa.Column("completed_at", EPOCH_S),
    sqlite_autoincrement=True,
)


# -- reference rows (seed section 2), inserted when the tables are created -----------------
STAGES = (
    "selection",
    "procurement",
    "installation",
    "faults",
    "readings",
    "expiry_management",
    "replacement",
)
U, T = "utility", "third_party"
#: type → (description, readings route, enters settlement, responsible per stage)
TYPES = {
    "utility": ("today: the utility's own meter", "aroute", True, (U, U, U, U, U, U, U)),
    "i": (
        "meter operator's own meter and network; readings submitted to the utility",
        "operator_submission",
        True,
        (T, T, T, T, T, T, T),
    ),
    "i-2": (
        "third-party sub-meter beside the utility's meter; no readings duty",
        "none",
        False,
        (T, T, T, T, T, T, T),
    ),
    "ii": (
        "third-party metering part, utility communication part and A route",
        "aroute",
        True,
        (T, T, U, U, U, U, U),
    ),
    "iii": (
        "model chosen by a third party among the utility's approved models",
        "aroute",
        True,
        (T, U, U, U, U, U, U),
    ),
}
SRC = "seed section 2 (METI 2014-12), reference third-party-meters.md"
#: type → cost item → payer ("open" where the seed leaves it open)
COSTS = {
    "utility": {"meter": U, "installation": U, "expiry_management": U},
    "i": {
        "meter": T,
        "installation": T,
        "expiry_management": T,
        "utility_receiving_system": "open",
    },
    "i-2": {"meter": T, "installation": T, "expiry_management": T},
    "ii": {"metering_part": T, "type_approval_review": "open", "communication_part": U},
    "iii": {"meter": U, "extra_over_standard_model": "chooser", "offering_several_models": "open"},
}


def seed_types() -> list[dict[str, Any]]:
    return [
        {"installation_type": k, "description": d, "readings_route": r, "enters_settlement": s}
        for k, (d, r, s, _) in TYPES.items()
    ]


def seed_responsibilities() -> list[dict[str, Any]]:
    return [
        {"installation_type": k, "stage": stage, "responsible": who, "note": ""}
        for k, (*_, whos) in TYPES.items()
        for stage, who in zip(STAGES, whos, strict=True)
    ]


def seed_cost_attributions() -> list[dict[str, Any]]:
    return [
        {"installation_type": k, "cost_item": item, "payer": payer, "source": SRC}
        for k, items in COSTS.items()
        for item, payer in items.items()
    ]


def _insert_rows(rows: list[dict[str, Any]]) -> Any:
    def insert(table: sa.Table, connection: sa.Connection, **_: Any) -> None:
        connection.execute(table.insert(), rows)

    return insert


# a database created at head from these definitions gets the same rows as the revision
sa.event.listen(installation_types, "after_create", _insert_rows(seed_types()))
sa.event.listen(lifecycle_responsibilities, "after_create", _insert_rows(seed_responsibilities()))
sa.event.listen(cost_attributions, "after_create", _insert_rows(seed_cost_attributions()))
