"""Meter assets as a service (issue #17 §1): the model catalogue, procurement lots, each
meter's lifecycle (:mod:`.lifecycle`) and its certification (:mod:`.certification`).

Every refusal is an :class:`AssetError` with a machine-readable ``code``:
``E_UNKNOWN_MODEL``, ``E_UNKNOWN_METER``, ``E_BAD_TRANSITION``, ``E_DATE_ORDER`` (a step
dated before the current state's day), ``E_CERTIFICATION_EXPIRED`` / ``E_NOT_CERTIFIED``
(install of a meter without a valid certification), ``E_BAD_VALUE``, ``E_DUPLICATE``.
Nothing is changed by a refused call.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from openami.registry.certification import (
    CertificationError,
    expiry_day,
    fiscal_year,
    is_valid_on,
    validity_rule,
)
from openami.registry.lifecycle import INITIAL_STATE, LifecycleError, check_transition
from openami.storage.repositories import AlreadyExists, Database, StorageError
from openami.storage.repositories.assets import (
    AssetMeter,
    AssetStore,
    Certification,
    MeterModel,
    ProcurementLot,
    StateRow,
)

__all__ = [
    "AssetError",
    "AssetMeter",
    "Assets",
    "Certification",
    "MeterModel",
    "ProcurementLot",
    "StateRow",
]
RATED_CURRENTS_A = (30, 60, 120)
PHASE_WIRES = ("1P2W", "1P3W", "3P3W", "3P4W")


class AssetError(ValueError):
    """A refused asset change; ``code`` is machine-readable, ``message`` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ForecastRow:
    fiscal_year: int
    area_code: str
    meters: int


class Assets:
    def __init__(self, database: Database) -> None:
        self.store = AssetStore(database)

    # -- catalogue -------------------------------------------------------------------------
    def add_model(self, model: MeterModel) -> None:
        if model.rated_current_a not in RATED_CURRENTS_A:
            raise AssetError("E_BAD_VALUE", f"rated current is one of {RATED_CURRENTS_A} A")
        if model.phase_wires not in PHASE_WIRES:
            raise AssetError("E_BAD_VALUE", f"phase/wires is one of {', '.join(PHASE_WIRES)}")
        if not model.model_id or not model.maker or not model.model:
            raise AssetError("E_BAD_VALUE", "model ID, maker and model are required")
        try:
            validity_rule(model.meter_kind)
        except CertificationError as exc:
            raise AssetError(exc.code, exc.message) from None
        self._store(lambda: self.store.add_model(model))

    def models(self) -> list[MeterModel]:
        return self.store.models()

    def model(self, model_id: str) -> MeterModel:
        found = self.store.model(model_id)
        if found is None:
            raise AssetError("E_UNKNOWN_MODEL", f"no meter model {model_id!r}")
        return found

    def add_lot(self, lot: ProcurementLot) -> None:
        self.model(lot.model_id)
        if lot.quantity <= 0:
            raise AssetError("E_BAD_VALUE", "a lot has at least one meter")
        self._store(lambda: self.store.add_lot(lot))

    def lots(self) -> list[ProcurementLot]:
        return self.store.lots()

    # -- meters ----------------------------------------------------------------------------
    def receive_meters(
        self,
        rows: Sequence[tuple[int, str, str | None, str]],
        day: date,
        by: str,
        now_s: float,
    ) -> None:
        """Meters (meter_id, model_id, lot_id, serial) delivered into stock on ``day``."""
        for model_id in {r[1] for r in rows}:
            self.model(model_id)
        self._store(lambda: self.store.add_meters(list(rows), INITIAL_STATE, day, by, now_s))

    def meter(self, meter_id: int) -> AssetMeter:
        found = self.store.meters(meter_ids=[meter_id])
        if not found:
            raise AssetError("E_UNKNOWN_METER", f"no meter {meter_id} in the asset register")
        return found[0]

    def meters(self, state: str | None = None, limit: int = 1000) -> list[AssetMeter]:
        return self.store.meters(state=state, limit=limit)

    def history(self, meter_id: int) -> list[StateRow]:
        self.meter(meter_id)
        return self.store.history(meter_id)

    def move(
        self, meter_id: int, target: str, day: date, reason: str, by: str, now_s: float
    ) -> AssetMeter:
        """The meter's next lifecycle step to ``target`` from ``day`` on. Installing needs a
        certification valid on ``day``."""
        current = self.meter(meter_id)
        try:
            to = check_transition(current.state, target)
        except LifecycleError as exc:
            raise AssetError(exc.code, exc.message) from None
        if day < current.state_since:
            raise AssetError(
                "E_DATE_ORDER", f"meter {meter_id} is {current.state} since {current.state_since}"
            )
        if to == "installed":
            self.check_certified(current, day)
        seq = len(self.store.history(meter_id)) + 1
        self._store(lambda: self.store.append_state(meter_id, seq, to, day, reason, by, now_s))
        return self.meter(meter_id)

    def check_certified(self, meter: AssetMeter, day: date) -> None:
        """Refuse a meter that may not meter on ``day`` (no or an expired certification)."""
        if meter.expires_on is None:
            raise AssetError("E_NOT_CERTIFIED", f"meter {meter.meter_id} has no certification")
        if not is_valid_on(meter.expires_on, day):
            raise AssetError(
                "E_CERTIFICATION_EXPIRED",
                f"meter {meter.meter_id}'s certification expired on {meter.expires_on}",
            )

    # -- certification ---------------------------------------------------------------------
    def certify(
        self, meter_id: int, certificate_no: str, certified_on: date, now_s: float
    ) -> Certification:
        """Record a certification; the validity comes from the model's kind, the expiry from
        :func:`openami.registry.certification.expiry_day`."""
        meter = self.meter(meter_id)
        if not certificate_no.strip():
            raise AssetError("E_BAD_VALUE", "a certificate number is required")
        rule = validity_rule(self.model(meter.model_id).meter_kind)
        record = Certification(
            certificate_no.strip(),
            meter_id,
            certified_on,
            rule.validity_years,
            rule.source,
            expiry_day(certified_on, rule.validity_years),
        )
        self._store(lambda: self.store.add_certification(record, now_s))
        return record

    def certifications(self, meter_id: int) -> list[Certification]:
        self.meter(meter_id)
        return self.store.certifications(meter_id)

    def expiries(self, meter_ids: Sequence[int]) -> dict[int, date]:
        return self.store.expiries(list(meter_ids))

    def expiry_forecast(self) -> list[ForecastRow]:
        """Installed meters whose certification expires, per Japanese fiscal year and area:
        the replacements (検満取替) due, by (fiscal year, area)."""
        counts: dict[tuple[int, str], int] = defaultdict(int)
        for area, year, month, n in self.store.expiry_months_by_area():
            counts[(fiscal_year(date(year, month, 1)), area)] += n
        return [ForecastRow(fy, area, n) for (fy, area), n in sorted(counts.items())]

    @staticmethod
    def _store(change: Callable[[], None]) -> None:
        try:
            change()
        except AlreadyExists as exc:
            raise AssetError("E_DUPLICATE", str(exc)) from None
        except StorageError as exc:
            raise AssetError("E_BAD_VALUE", str(exc)) from None
