"""Rules for meters installed by parties other than the utility (seed section 2, the four
types of reference third-party-meters.md), on top of :class:`ThirdPartyStore`:

- (iii) a model chosen among the utility's approved ones: the chooser is charged the extra
  price over the standard model (never negative);
- (ii) a third-party metering part needs an entry in the type-approval register, valid on
  the installation day and against a version of the published interface the utility's
  communication part supports: otherwise the installation is refused (``E_UNAPPROVED_TYPE``);
- (i) a meter operator's own meter: readings arrive through the operator data-submission
  route, from the meter's owner only;
- (i)-2 a sub-meter beside the utility's meter: its reads are stored and shown to its owner,
  and never enter billing or settlement.

Who is responsible for each lifecycle stage and who pays which cost is data (the tables
seeded by revision 0010_thirdparty), read through :meth:`ThirdPartyMeters.responsible` and
:meth:`ThirdPartyMeters.payer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from openami.storage.repositories.third_party import (
    STAGES,
    ThirdPartyMeter,
    ThirdPartyStore,
    TypeApproval,
)
from openami.storage.sql import StorageError

__all__ = [
    "PUBLISHED_INTERFACE_VERSIONS",
    "STAGES",
    "ChooserCharge",
    "ThirdPartyError",
    "ThirdPartyMeters",
]

#: versions of the published metering-part interface (how the metering part hands data to
#: the communication part, docs/third-party-meters.md) the utility's communication part speaks
PUBLISHED_INTERFACE_VERSIONS = ("1.0",)


class ThirdPartyError(ValueError):
    """A refused request, with a machine-readable code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ChooserCharge:
    """An extra cost billing outputs charge to the party that chose a (iii) model."""

    meter_id: int
    chooser_party_id: str
    chosen_model: str
    extra_cost_yen: int


class ThirdPartyMeters:
    def __init__(self, store: ThirdPartyStore) -> None:
        self.store = store

    # -- the matrix as data ---------------------------------------------------------------
    def responsible(self, installation_type: str, stage: str) -> str:
        matrix = self.store.responsibilities()
        if installation_type not in matrix:
            raise ThirdPartyError(
                "E_UNKNOWN_TYPE", f"unknown installation type {installation_type!r}"
            )
        if stage not in matrix[installation_type]:
            raise ThirdPartyError("E_UNKNOWN_STAGE", f"unknown lifecycle stage {stage!r}")
        return matrix[installation_type][stage]

    def responsible_party(self, meter_id: int, stage: str, day: date) -> str:
        """Who does ``stage`` for this meter on ``day``: ``utility`` or the party that owns it
        (a meter with no third-party type is the utility's in every stage)."""
        row = self.type_of(meter_id, day)
        kind = "utility" if row is None else row.installation_type
        if self.responsible(kind, stage) == "utility" or row is None:
            return "utility"
        if kind == "iii":  # the chooser selects among the utility's models
            return row.chooser_party_id or row.owner_party_id
        return row.owner_party_id

    def payer(self, installation_type: str, cost_item: str) -> str:
        items = self.store.cost_attributions().get(installation_type)
        if items is None:
            raise ThirdPartyError(
                "E_UNKNOWN_TYPE", f"unknown installation type {installation_type!r}"
            )
        if cost_item not in items:
            raise ThirdPartyError("E_UNKNOWN_COST_ITEM", f"no cost item {cost_item!r}")
        return items[cost_item][0]

    # -- type approvals (ii) ----------------------------------------------------------------
    def approve(self, approval: TypeApproval) -> None:
        if approval.interface_version not in PUBLISHED_INTERFACE_VERSIONS:
            raise ThirdPartyError(
                "E_UNKNOWN_INTERFACE",
                f"interface {approval.interface_version!r} is not published; "
                f"published: {', '.join(PUBLISHED_INTERFACE_VERSIONS)}",
            )
        try:
            self.store.add_approval(approval)
        except StorageError as exc:
            raise ThirdPartyError("E_CONFLICT", str(exc)) from None

    def approval_for(self, maker: str, model: str, day: date) -> TypeApproval | None:
        for approval in self.store.approvals(maker, model):
            if (
                approval.valid_on(day)
                and approval.interface_version in PUBLISHED_INTERFACE_VERSIONS
            ):
                return approval
        return None

    # -- registering a meter's type -------------------------------------------------------
    def install_metering_part(
        self, meter_id: int, owner_party_id: str, maker: str, model: str, day: date
    ) -> ThirdPartyMeter:
        """Type (ii): refused unless the metering part is approved on ``day``."""
        approval = self.approval_for(maker, model, day)
        if approval is None:
            raise ThirdPartyError(
                "E_UNAPPROVED_TYPE",
                f"metering part {maker} {model} has no type approval valid on {day}; "
                "installation refused",
            )
        row = ThirdPartyMeter(meter_id, day, "ii", owner_party_id, approval_id=approval.approval_id)
        return self._assign(row)

    def choose_model(
        self,
        meter_id: int,
        chooser_party_id: str,
        chosen_model: str,
        chosen_price_yen: int,
        standard_price_yen: int,
        day: date,
    ) -> ThirdPartyMeter:
        """Type (iii): the utility owns the meter; the chooser pays the extra over standard."""
        if chosen_price_yen < 0 or standard_price_yen < 0:
            raise ThirdPartyError("E_BAD_VALUE", "prices must not be negative")
        extra = max(0, chosen_price_yen - standard_price_yen)
        row = ThirdPartyMeter(
            meter_id,
            day,
            "iii",
            "utility",
            chooser_party_id=chooser_party_id,
            chosen_model=chosen_model,
            extra_cost_yen=extra,
        )
        return self._assign(row)

    def register_operator_meter(
        self,
        meter_id: int,
        operator_party_id: str,
        day: date,
        sub_meter: bool = False,
        supply_point_key: int | None = None,
    ) -> ThirdPartyMeter:
        """Type (i) (the operator's own meter and network) or (i)-2 (a sub-meter beside the
        utility's meter at ``supply_point_key``, whose customer may see its reads)."""
        kind = "i-2" if sub_meter else "i"
        row = ThirdPartyMeter(
            meter_id,
            day,
            kind,
            operator_party_id,
            supply_point_key=supply_point_key if sub_meter else None,
        )
        return self._assign(row)

    def _assign(self, row: ThirdPartyMeter) -> ThirdPartyMeter:
        if not row.owner_party_id:
            raise ThirdPartyError("E_BAD_VALUE", "an owner is required")
        try:
            self.store.assign(row)
        except StorageError as exc:
            raise ThirdPartyError("E_UNKNOWN_METER", str(exc)) from None
        return row

    def type_of(self, meter_id: int, day: date) -> ThirdPartyMeter | None:
        rows = self.store.meters_on(day, meter_id=meter_id)
        return rows[0] if rows else None

    # -- outputs for billing and settlement -------------------------------------------------
    def chooser_charges(self, day: date) -> list[ChooserCharge]:
        """Extra costs of (iii) models in force on ``day``, for billing outputs."""
        return [
            ChooserCharge(
                r.meter_id, r.chooser_party_id or "", r.chosen_model or "", r.extra_cost_yen
            )
            for r in self.store.meters_on(day, "iii")
            if r.extra_cost_yen > 0
        ]

    def outside_settlement(self, day: date) -> list[int]:
        """Meters whose values never enter billing or settlement on ``day``."""
        return self.store.meters_outside_settlement(day)

    # -- sub-meters (i)-2 -----------------------------------------------------------------
    def record_sub_meter_reads(
        self,
        party_id: str,
        meter_id: int,
        read_at_s: npt.NDArray[np.float64],
        import_register_wh: npt.NDArray[np.int64],
        received_at_s: float,
        day: date,
    ) -> int:
        self._own_sub_meter(party_id, meter_id, day)
        if len(read_at_s) != len(import_register_wh):
            raise ThirdPartyError("E_BAD_VALUE", "one register value per instant")
        if len(import_register_wh) and int(np.min(import_register_wh)) < 0:
            raise ThirdPartyError("E_BAD_VALUE", "register values must not be negative")
        try:
            return self.store.add_sub_meter_reads(
                meter_id, read_at_s, import_register_wh, received_at_s
            )
        except StorageError as exc:
            raise ThirdPartyError("E_CONFLICT", str(exc)) from None

    def sub_meter_reads(
        self, party_id: str, meter_id: int, from_s: float, to_s: float, day: date
    ) -> pa.Table:
        self._own_sub_meter(party_id, meter_id, day)
        return self.store.sub_meter_reads(meter_id, from_s, to_s)

    def customer_sub_meter_reads(
        self, supply_point_keys: set[int], meter_id: int, from_s: float, to_s: float, day: date
    ) -> pa.Table:
        """A sub-meter's reads for the customer holding its supply point."""
        row = self.type_of(meter_id, day)
        if (
            row is None
            or row.installation_type != "i-2"
            or row.supply_point_key not in supply_point_keys
        ):
            raise ThirdPartyError("E_NOT_SUB_METER", f"meter {meter_id} is not a sub-meter")
        return self.store.sub_meter_reads(meter_id, from_s, to_s)

    def _own_sub_meter(self, party_id: str, meter_id: int, day: date) -> None:
        row = self.type_of(meter_id, day)
        if row is None or row.installation_type != "i-2":
            raise ThirdPartyError("E_NOT_SUB_METER", f"meter {meter_id} is not a sub-meter")
        if row.owner_party_id != party_id:
            # same answer as an unknown meter: no hint that the meter exists
            raise ThirdPartyError("E_NOT_SUB_METER", f"meter {meter_id} is not a sub-meter")
