"""A fleet of simulated smart meters held as columns (one NumPy array per quantity).

The fleet keeps, per meter: cumulative import and export registers [Wh], the remote
switch state, the contract amperage enforced by the limiter, and a half-hour log of the
register values at every :00 and :30 boundary for ``retention_days`` (default 45).

Time is the slot grid: the fleet stands at a *boundary* ``now_boundary`` (the start of the
slot in progress). ``advance_to(b)`` runs every slot before boundary ``b``: it adds each
slot's energy (zero while the switch is open) and logs the registers at each new boundary.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from openami.bus.messages import CONTRACT_AMPERAGES_A, SUPPLY_PLANS
from openami.clock.slots import SLOT_SECONDS, SLOTS_PER_DAY
from openami.meter.broute_credentials import MeterBrouteCredentials
from openami.meter.load import (
    HouseholdParams,
    hash_uniform,
    instantaneous_power_w,
    interval_energy_wh,
)

I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]

F64 = npt.NDArray[np.float64]

DEFAULT_RETENTION_DAYS = 45
MISSING = np.int64(-1)  # sentinel for a boundary outside the log


class ApplianceLoad(Protocol):
    """Appliances behind the meters (openami.home): their signed net power adds to the
    household model's (positive consumes, negative generates or discharges)."""

    def slot_net_wh(self, index: I64, slot: int) -> F64:
        """Net energy [Wh] of the appliances of meters ``index`` in ``slot``."""
        ...

    def power_w(self, index: I64, epoch_seconds: float) -> F64:
        """Net power [W] of the appliances of meters ``index`` at a moment."""
        ...


class MeterFleet:
    """N meters as columns. ``meter_ids`` are int64 identifiers, unique in the fleet."""

    def __init__(
        self,
        meter_ids: npt.ArrayLike,
        start_boundary: int,
        seed: int = 1,
        pv_share: float = 0.15,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        params: HouseholdParams | None = None,
    ) -> None:
        ids = np.asarray(meter_ids, dtype=np.int64)
        if ids.ndim != 1 or len(np.unique(ids)) != len(ids):
            raise ValueError("meter_ids must be a one-dimensional array of unique ids")
        if retention_days < 1:
            raise ValueError(f"retention_days must be at least 1, got {retention_days}")
        self.seed = seed
        self.meter_ids = ids
        self.params = params or HouseholdParams.draw(ids, seed, pv_share)
        self.contract_amperage_a: I64 = self.params.contract_amperage_a.copy()
        self.switch_connected: BoolArr = np.ones(len(ids), dtype=np.bool_)
        # a fault of the metering part (self-diagnosis): ECHONET Lite 0x88 says 0x41 then
        self.fault: BoolArr = np.zeros(len(ids), dtype=np.bool_)
        # the supply plan whose time-of-use bands the meter keeps (code: SUPPLY_PLANS + 1)
        self.supply_plan_code = np.ones(len(ids), dtype=np.uint8)
        # the B-route ID and password each meter was provisioned with (sparse)
        self.broute = MeterBrouteCredentials()
        # registers start at a seeded value, as meters in the field are not new
        start_kwh = np.floor(hash_uniform(seed, 21, ids) * 30_000).astype(np.int64)
        self.import_register_wh: I64 = start_kwh * 1000
        self.export_register_wh: I64 = np.where(
            self.params.has_pv, np.floor(hash_uniform(seed, 22, ids) * 8_000_000), 0
        ).astype(np.int64)
        self.retention_slots = retention_days * SLOTS_PER_DAY
        self._ring = self.retention_slots + 1
        self._log_import = np.full((len(ids), self._ring), MISSING, dtype=np.int64)
        self._log_export = np.full((len(ids), self._ring), MISSING, dtype=np.int64)
        self.now_boundary = start_boundary
        self.first_logged_boundary = start_boundary
        self._write_log(start_boundary)
        self._index = {int(m): i for i, m in enumerate(ids)} if len(ids) <= 200_000 else None
        # the homes' controllable appliances, when modelled (see openami.home)
        self.appliances: ApplianceLoad | None = None

    def __len__(self) -> int:
        return len(self.meter_ids)

    # -- identity ---------------------------------------------------------------------------
    def index_of(self, meter_ids: npt.ArrayLike) -> I64:
        """Positions of ``meter_ids`` in the fleet (KeyError for unknown ids)."""
        wanted = np.asarray(meter_ids, dtype=np.int64)
        if self._index is not None:
            try:
                return np.fromiter(
                    (self._index[int(m)] for m in wanted.ravel()), dtype=np.int64
                ).reshape(wanted.shape)
            except KeyError as exc:
                raise KeyError(f"meter {exc.args[0]} is not in this fleet") from None
        order = np.argsort(self.meter_ids)
        pos = np.searchsorted(self.meter_ids, wanted, sorter=order)
        pos = np.clip(pos, 0, len(order) - 1)
        found = order[pos]
        bad = self.meter_ids[found] != wanted
        if bad.any():
            raise KeyError(f"meter {int(wanted[bad][0])} is not in this fleet")
        return found.astype(np.int64)

    # -- time -------------------------------------------------------------------------------
    def _write_log(self, boundary: int) -> None:
        col = boundary % self._ring
        self._log_import[:, col] = self.import_register_wh
        self._log_export[:, col] = self.export_register_wh

    def slot_energy_wh(self, slot: int, index: npt.ArrayLike | None = None) -> tuple[I64, I64]:
        """Import and export energy in ``slot`` with the current switch state, for the meters
        at positions ``index`` (all meters when None)."""
        idx = (
            np.arange(len(self.meter_ids), dtype=np.int64)
            if index is None
            else np.asarray(index, dtype=np.int64)
        )
        imp, exp = interval_energy_wh(self.params, idx, np.int64(slot), self.seed)
        if self.appliances is not None:
            net_wh = imp - exp + np.round(self.appliances.slot_net_wh(idx, slot)).astype(np.int64)
            imp, exp = np.clip(net_wh, 0, None), np.clip(-net_wh, 0, None)
        imp = np.minimum(imp, self.contract_amperage_a[idx] * 50)  # limiter: A × 100 V × 0.5 h
        connected = self.switch_connected[idx]
        return np.where(connected, imp, 0), np.where(connected, exp, 0)

    def advance_to(self, boundary: int) -> None:
        """Run all slots up to ``boundary`` (exclusive), logging registers at each boundary."""
        if boundary < self.now_boundary:
            raise ValueError("the fleet never runs backwards")
        while self.now_boundary < boundary:
            imp, exp = self.slot_energy_wh(self.now_boundary)
            self.import_register_wh = self.import_register_wh + imp
            self.export_register_wh = self.export_register_wh + exp
            self.now_boundary += 1
            self._write_log(self.now_boundary)
        self.first_logged_boundary = max(
            self.first_logged_boundary, self.now_boundary - self.retention_slots
        )

    # -- the log ----------------------------------------------------------------------------
    def logged(self, boundaries: npt.ArrayLike) -> BoolArr:
        b = np.asarray(boundaries, dtype=np.int64)
        return (b >= self.first_logged_boundary) & (b <= self.now_boundary)

    def registers_at(self, index: npt.ArrayLike, boundaries: npt.ArrayLike) -> tuple[I64, I64]:
        """Logged import/export registers [Wh] at boundaries; ``-1`` where not in the log."""
        idx = np.asarray(index, dtype=np.int64)
        b = np.asarray(boundaries, dtype=np.int64)
        idx, b = np.broadcast_arrays(idx, b)
        ok = self.logged(b)
        col = b % self._ring
        imp = np.where(ok, self._log_import[idx, col], MISSING)
        exp = np.where(ok, self._log_export[idx, col], MISSING)
        return imp.astype(np.int64), exp.astype(np.int64)

    # -- live values ------------------------------------------------------------------------
    def live_registers_wh(self, index: npt.ArrayLike, epoch_seconds: float) -> tuple[I64, I64]:
        """Registers at a moment inside the current slot (linear within the slot)."""
        idx = np.asarray(index, dtype=np.int64)
        frac = min(max(epoch_seconds / SLOT_SECONDS - self.now_boundary, 0.0), 1.0)
        imp, exp = self.slot_energy_wh(self.now_boundary, idx)
        return (
            self.import_register_wh[idx] + np.floor(imp * frac).astype(np.int64),
            self.export_register_wh[idx] + np.floor(exp * frac).astype(np.int64),
        )

    def power_w(self, index: npt.ArrayLike, epoch_seconds: float) -> npt.NDArray[np.float64]:
        """Signed instantaneous power [W]; zero while the switch is open."""
        idx = np.asarray(index, dtype=np.int64)
        p = instantaneous_power_w(self.params, idx, epoch_seconds, self.seed)
        if self.appliances is not None:
            p = p + self.appliances.power_w(idx, epoch_seconds)
        cap = self.contract_amperage_a[idx].astype(np.float64) * 100.0
        p = np.minimum(p, cap)
        return np.where(self.switch_connected[idx], p, 0.0)

    # -- control ----------------------------------------------------------------------------
    def disconnect(self, index: npt.ArrayLike) -> None:
        self.switch_connected[np.asarray(index, dtype=np.int64)] = False

    def reconnect(self, index: npt.ArrayLike) -> None:
        self.switch_connected[np.asarray(index, dtype=np.int64)] = True

    def set_fault(self, index: npt.ArrayLike, faulty: bool = True) -> None:
        """Mark meters as faulty (or repaired): their fault status reports it."""
        self.fault[np.asarray(index, dtype=np.int64)] = faulty

    def set_contract_amperage(self, index: npt.ArrayLike, amperage_a: int) -> None:
        if amperage_a not in CONTRACT_AMPERAGES_A:
            raise ValueError(f"unsupported contract amperage {amperage_a} A")
        self.contract_amperage_a[np.asarray(index, dtype=np.int64)] = amperage_a

    def set_supply_plan(self, index: npt.ArrayLike, plan_code: int) -> None:
        """The meters keep the time-of-use bands of plan ``plan_code`` (``SUPPLY_PLANS``)."""
        if not 1 <= plan_code <= len(SUPPLY_PLANS):
            raise ValueError(f"unknown supply plan code {plan_code}")
        self.supply_plan_code[np.asarray(index, dtype=np.int64)] = plan_code
