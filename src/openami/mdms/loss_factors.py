"""Network loss factors (損失率) and voltage classes: which rate grosses up a point's
metered energy before it is compared with its balancing group's plan.

The TSO's tariff defines the energy delivered into its network for a balancing group as
the energy metered at its supply points × 1 / (1 − loss rate of their voltage class), per
area and 30 minutes (see docs/settlement.md). Rates are effective-dated configuration kept
in the transactional store (``loss_factors``), loaded from a CSV file; the shipped example
is ``config/loss_factors.csv``, every row with its source.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from openami.registry import AREAS
from openami.registry.kinds import VOLTAGE_CLASSES, MeterKinds
from openami.storage.repositories.loss_factors import (
    LossFactor,
    LossFactorStore,
    read_loss_factor_file,
)

LOW_VOLTAGE = VOLTAGE_CLASSES[0]


#: the rates in force on a day, by area and class
RATES_SCHEMA = pa.schema(
    [
        ("area_code", pa.string()),
        ("voltage_class", pa.string()),
        ("loss_rate", pa.float64()),
        ("valid_from", pa.date32()),
        ("source", pa.string()),
    ]
)


class LossFactorError(ValueError):
    """Loss factors that break a rule, or a day and area without one."""


def voltage_class_of(
    supply_point_keys: npt.NDArray[np.int64], kinds: MeterKinds | None = None
) -> npt.NDArray[np.object_]:
    """The voltage class of each supply point: the registry's (``supply_point_classes``,
    low voltage where none is stored), or low voltage for all without a registry. The one
    place that decides which loss rate a point's energy gets."""
    if kinds is None or len(supply_point_keys) == 0:
        return np.full(len(supply_point_keys), LOW_VOLTAGE, dtype=object)
    classes = kinds.point_classes(pa.array(supply_point_keys, pa.int64()))
    return np.asarray(classes.column("voltage_class").to_pylist(), dtype=object)


def check(rows: list[LossFactor]) -> list[LossFactor]:
    """``rows`` if every area code and voltage class is known and every rate in [0, 1)."""
    for r in rows:
        if r.area_code not in AREAS:
            raise LossFactorError(f"unknown area code {r.area_code!r}")
        if r.voltage_class not in VOLTAGE_CLASSES:
            raise LossFactorError(
                f"unknown voltage class {r.voltage_class!r}: one of {', '.join(VOLTAGE_CLASSES)}"
            )
        if not 0.0 <= r.loss_rate < 1.0:
            raise LossFactorError(f"loss rate {100 * r.loss_rate} % is not in [0, 100)")
        if not r.source:
            raise LossFactorError(f"{r.area_code}/{r.voltage_class}: every figure needs a source")
    return rows


class LossFactors:
    """The stored loss factors; the shipped example is loaded when none are stored."""

    def __init__(self, store: LossFactorStore) -> None:
        self.store = store

    def load_file(self, path: Path | None, now_s: float) -> int:
        """Check and store the rows of a loss factor file (the shipped one if None)."""
        return self.store.load(check(read_loss_factor_file(path)), now_s)

    def ensure_loaded(self, now_s: float) -> None:
        if self.store.count() == 0:
            self.load_file(None, now_s)

    def in_force(self, day: date) -> pa.Table:
        """Rates in force on ``day``: area_code, voltage_class, loss_rate, valid_from,
        source, by area and class."""
        rows = self.store.in_force(day)
        return pa.table(
            {
                "area_code": [r.area_code for r in rows],
                "voltage_class": [r.voltage_class for r in rows],
                "loss_rate": [r.loss_rate for r in rows],
                "valid_from": [r.valid_from for r in rows],
                "source": [r.source for r in rows],
            },
            schema=RATES_SCHEMA,
        )
