"""Estimated charges of the customer portal: the customer's import priced with one
time-of-use tariff read from TOML (``web/data/portal_estimate_tariff.toml`` by default).

openami keeps no retail tariffs (retailers bill; the utility knows only wheeling tariffs),
so the portal shows an *estimate* under a configured example tariff, labelled as such: a
basic charge per 10 A of contract amperage and month, a day and a night energy rate (the
day band parsed by the billing determinants' own TOU rule, :mod:`openami.mdms.billing`) and
the renewable energy levy per kWh. Columnar: one NumPy pass over the period's values.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from openami.clock import slot_of_day
from openami.mdms.billing import _slot_of_day as band_slot

DEFAULT_TARIFF = Path(__file__).parent / "data" / "portal_estimate_tariff.toml"


class TariffFileError(ValueError):
    """A tariff file that breaks the layout (the message names the field)."""


@dataclass(frozen=True)
class EstimateTariff:
    name: str
    name_ja: str
    basic_yen_per_10a: float  # per month
    day_yen_per_kwh: float
    night_yen_per_kwh: float
    levy_yen_per_kwh: float
    day_band: tuple[str, str]  # JST "HH:MM" start (inclusive) and end (exclusive)

    def label(self, lang: str) -> str:
        return self.name_ja if lang == "ja" else self.name


def _number(raw: dict[str, Any], name: str) -> float:
    value = raw.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise TariffFileError(f"{name} must be a number >= 0")
    return float(value)


@lru_cache(maxsize=8)
def load_tariff(path: Path = DEFAULT_TARIFF) -> EstimateTariff:
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    band = raw.get("day_band")
    if not (isinstance(band, list) and len(band) == 2 and all(isinstance(b, str) for b in band)):
        raise TariffFileError('day_band must be two "HH:MM" times')
    try:
        if band_slot(band[0]) >= band_slot(band[1]):
            raise TariffFileError("day_band must start before it ends")
    except ValueError as exc:
        raise TariffFileError(str(exc)) from None
    return EstimateTariff(
        name=str(raw.get("name", "estimate")),
        name_ja=str(raw.get("name_ja", raw.get("name", "試算"))),
        basic_yen_per_10a=_number(raw, "basic_yen_per_10a"),
        day_yen_per_kwh=_number(raw, "day_yen_per_kwh"),
        night_yen_per_kwh=_number(raw, "night_yen_per_kwh"),
        levy_yen_per_kwh=_number(raw, "levy_yen_per_kwh"),
        day_band=(band[0], band[1]),
    )


@dataclass(frozen=True)
class Charges:
    basic_yen: float
    day_kwh: float
    night_kwh: float
    day_yen: float
    night_yen: float
    levy_yen: float

    @property
    def total_yen(self) -> float:
        return self.basic_yen + self.day_yen + self.night_yen + self.levy_yen


def estimate(
    tariff: EstimateTariff, values: pa.Table, amperage_a: int | None, months: float
) -> Charges:
    """The charges of the import in ``values`` (current values: slot, import_wh) plus
    ``months`` of basic charge at ``amperage_a`` (none without a contract amperage)."""
    slots = np.asarray(values.column("slot").to_numpy(), dtype=np.int64)
    wh = np.asarray(values.column("import_wh").fill_null(0).to_numpy(), dtype=np.int64)
    of_day = slot_of_day(slots)
    first, stop = band_slot(tariff.day_band[0]), band_slot(tariff.day_band[1])
    in_day = (of_day >= first) & (of_day < stop)
    day_kwh = float(wh[in_day].sum()) / 1000.0
    night_kwh = float(wh[~in_day].sum()) / 1000.0
    basic = tariff.basic_yen_per_10a * (amperage_a or 0) / 10.0 * months
    return Charges(
        basic_yen=basic,
        day_kwh=day_kwh,
        night_kwh=night_kwh,
        day_yen=day_kwh * tariff.day_yen_per_kwh,
        night_yen=night_kwh * tariff.night_yen_per_kwh,
        levy_yen=(day_kwh + night_kwh) * tariff.levy_yen_per_kwh,
    )


def portal_tariff(state: Any) -> EstimateTariff:
    """The app's tariff: ``state.portal_tariff`` (a path or a tariff) if the composition
    root set one, else the shipped example."""
    chosen = getattr(state, "portal_tariff", None)
    if isinstance(chosen, EstimateTariff):
        return chosen
    return load_tariff(Path(chosen) if chosen else DEFAULT_TARIFF)
