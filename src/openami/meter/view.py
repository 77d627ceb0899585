"""One meter of a fleet seen as a device: what protocol servers (B route, DLMS) read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from openami.clock import Clock
from openami.clock.slots import SLOT_SECONDS, day_first_slot
from openami.meter.fleet import MeterFleet


@dataclass
class MeterView:
    """A single meter, reading through to the fleet's columns at the clock's current time.

    Before each read it brings the fleet up to the clock's current slot, so values are
    consistent with the half-hour log.
    """

    fleet: MeterFleet
    index: int
    clock: Clock

    @property
    def meter_id(self) -> int:
        return int(self.fleet.meter_ids[self.index])

    def _sync(self) -> float:
        ts = self.clock.timestamp()
        boundary = int(ts // SLOT_SECONDS)
        if boundary > self.fleet.now_boundary:
            self.fleet.advance_to(boundary)
        return ts

    def import_register_wh(self) -> int:
        ts = self._sync()
        return int(self.fleet.live_registers_wh([self.index], ts)[0][0])

    def export_register_wh(self) -> int:
        ts = self._sync()
        return int(self.fleet.live_registers_wh([self.index], ts)[1][0])

    def power_w(self) -> float:
        ts = self._sync()
        return float(self.fleet.power_w([self.index], ts)[0])

    def currents_a(self) -> tuple[float, float]:
        """R- and T-phase currents [A] of a single-phase 3-wire supply (100/200 V)."""
        p = abs(self.power_w())
        return (p * 0.55 / 100.0, p * 0.45 / 100.0)

    @property
    def switch_connected(self) -> bool:
        return bool(self.fleet.switch_connected[self.index])

    @property
    def fault(self) -> bool:
        """Whether the meter's self-diagnosis reports a fault."""
        return bool(self.fleet.fault[self.index])

    @property
    def contract_amperage_a(self) -> int:
        return int(self.fleet.contract_amperage_a[self.index])

    def boundary_registers(self, boundary: int) -> tuple[int, int] | None:
        """Logged (import, export) registers [Wh] at a slot boundary, or None if not logged."""
        self._sync()
        imp, exp = self.fleet.registers_at([self.index], [boundary])
        if imp[0] < 0:
            return None
        return int(imp[0]), int(exp[0])

    def day_log(self, day: date) -> list[tuple[int, int] | None]:
        """The 48 logged (import, export) register pairs at 00:00, 00:30 … 23:30 JST of ``day``."""
        self._sync()
        first = day_first_slot(day)
        b = np.arange(first, first + 48, dtype=np.int64)
        imp, exp = self.fleet.registers_at(np.full(48, self.index), b)
        return [None if i < 0 else (int(i), int(e)) for i, e in zip(imp, exp, strict=True)]
