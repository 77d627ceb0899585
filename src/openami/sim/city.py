"""Build a simulated city: meters, supply points, retailers, balancing groups, networks.

Meters get a communication method from the mix (mesh through concentrators of 250-500
meters, cellular, PLC through concentrators), a contract amperage from the load model, a
maker and serial, and a certification expiry 10 years after a seeded installation year.
Each supply point is supplied by one of the retailers from the start day on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import numpy.typing as npt

from openami.clock import JST, day_first_slot
from openami.clock.calendar import assign_reading_day_codes
from openami.meter.fleet import MeterFleet
from openami.meter.load import hash_uniform
from openami.network.model import METHOD_CODES, NetworkModel
from openami.registry import (
    AREAS,
    BalancingGroup,
    Meter,
    Registry,
    Retailer,
    make_supply_point_id,
)
from openami.registry.certification import expiry_day, validity_rule

MAKERS = ("Toshiba", "Mitsubishi", "Fuji", "Osaki", "GE-Fuji")

RETAILERS = (
    Retailer("R001", "Sakura Denki", "BG01"),
    Retailer("R002", "Fuji Energy Retail", "BG02"),
    Retailer("R003", "Minato Power", "BG03"),
)
BALANCING_GROUPS = (
    BalancingGroup("BG01", "Sakura BG"),
    BalancingGroup("BG02", "Fuji BG"),
    BalancingGroup("BG03", "Minato BG"),
)

#: validity of the simulated fleet's certification (household electronic meters)
VALIDITY_Y = validity_rule("single_electronic").validity_years


@dataclass(frozen=True)
class CityConfig:
    meters: int = 2000
    seed: int = 1
    areas: tuple[str, ...] = ("03",)
    start_day: date = date(2026, 11, 1)
    pv_share: float = 0.15
    method_mix: dict[str, float] = field(
        default_factory=lambda: {"mesh": 0.8, "cellular": 0.1, "plc": 0.1}
    )
    meters_per_concentrator: tuple[int, int] = (250, 500)
    retention_days: int = 45

    def __post_init__(self) -> None:
        if self.meters < 1:
            raise ValueError("a city needs at least one meter")
        for area in self.areas:
            if area not in AREAS:
                raise ValueError(f"unknown area code {area!r}; use 01 to 10")
        total = sum(self.method_mix.values())
        if abs(total - 1.0) > 1e-9 or set(self.method_mix) - set(METHOD_CODES):
            raise ValueError("method_mix must give shares of mesh/cellular/plc summing to 1")


@dataclass
class City:
    config: CityConfig
    registry: Registry
    fleet: MeterFleet
    network: NetworkModel
    supply_point_ids: list[str]
    supply_point_keys: list[int]
    method_codes: np.ndarray
    concentrator_of: np.ndarray  # concentrator number per meter, -1 for cellular

    @property
    def start_boundary(self) -> int:
        return day_first_slot(self.config.start_day)


@dataclass
class _Layout:
    """Everything a city's seed decides, before any of it is registered."""

    meter_ids: npt.NDArray[np.int64]
    method_codes: npt.NDArray[np.uint8]
    concentrator_of: npt.NDArray[np.int64]
    concentrators: list[tuple[str, str]]
    fleet: MeterFleet
    supply_point_ids: list[str]


def _layout(config: CityConfig) -> _Layout:
    n, seed = config.meters, config.seed
    meter_ids = np.arange(1, n + 1, dtype=np.int64)
    start_boundary = day_first_slot(config.start_day)

    # communication method per meter
    u = hash_uniform(seed, 601, meter_ids)
    edges = np.cumsum([config.method_mix.get(m, 0.0) for m in METHOD_CODES])
    method_codes = np.searchsorted(edges, u, side="right").astype(np.uint8)
    method_codes = np.minimum(method_codes, len(METHOD_CODES) - 1).astype(np.uint8)
    area_of_meter = np.array(config.areas)[(meter_ids - 1) % len(config.areas)]

    # concentrators: mesh and PLC meters of an area are grouped 250-500 per unit
    concentrator_of = np.full(n, -1, dtype=np.int64)
    concentrators: list[tuple[str, str]] = []
    lo, hi = config.meters_per_concentrator
    for area in config.areas:
        for method in ("mesh", "plc"):
            members = np.flatnonzero(
                (area_of_meter == area) & (method_codes == METHOD_CODES[method])
            )
            pos = 0
            while pos < len(members):
                size = int(lo + (hi - lo) * hash_uniform(seed, 602, len(concentrators))[0])
                concentrator_of[members[pos : pos + size]] = len(concentrators)
                concentrators.append((f"C{area}-{method}-{len(concentrators):05d}", area))
                pos += size

    fleet = MeterFleet(
        meter_ids,
        start_boundary,
        seed=seed,
        pv_share=config.pv_share,
        retention_days=config.retention_days,
    )
    sp_ids = [
        make_supply_point_id(str(area), 10_000_000 + int(m))
        for area, m in zip(area_of_meter, meter_ids, strict=True)
    ]
    return _Layout(meter_ids, method_codes, concentrator_of, concentrators, fleet, sp_ids)


def _city(config: CityConfig, registry: Registry, layout: _Layout, keys: list[int]) -> City:
    network = NetworkModel(
        layout.meter_ids, layout.method_codes, config.seed, concentrator_of=layout.concentrator_of
    )
    return City(
        config,
        registry,
        layout.fleet,
        network,
        layout.supply_point_ids,
        keys,
        layout.method_codes,
        layout.concentrator_of,
    )


def attach_city(config: CityConfig, registry: Registry) -> City:
    """The city ``config`` built earlier in ``registry`` (after a restart): the same meters,
    networks and fleet, at the city's first slot, without registering anything again."""
    layout = _layout(config)
    found = registry.supply_point_key_of(layout.supply_point_ids)
    missing = len(layout.supply_point_ids) - len(found)
    if missing:
        raise ValueError(
            f"the registry lacks {missing} of this city's supply points: it was not built "
            "from this configuration"
        )
    return _city(config, registry, layout, [found[sp] for sp in layout.supply_point_ids])


def build_city(config: CityConfig, registry: Registry) -> City:
    """Build the city ``config`` and register its meters, supply points, retailers,
    balancing groups, concentrators and contracts in ``registry``."""
    layout = _layout(config)
    seed, meter_ids, fleet = config.seed, layout.meter_ids, layout.fleet
    names = np.array(list(METHOD_CODES))
    registry.add_balancing_groups(BALANCING_GROUPS)
    registry.add_retailers(RETAILERS)
    registry.add_concentrators(layout.concentrators)
    keys = registry.add_supply_points(layout.supply_point_ids)
    codes = assign_reading_day_codes(np.asarray(keys, dtype=np.int64))
    registry.set_reading_days(list(zip(keys, codes.tolist(), strict=True)))
    installed_year = 2018 + np.floor(hash_uniform(seed, 603, meter_ids) * 8).astype(np.int64)
    maker_idx = np.floor(hash_uniform(seed, 604, meter_ids) * len(MAKERS)).astype(np.int64)
    concentrator_of, concentrators = layout.concentrator_of, layout.concentrators
    meters = [
        Meter(
            meter_id=int(mid),
            maker=MAKERS[int(maker_idx[i])],
            serial=f"{int(installed_year[i])}{int(mid):09d}",
            contract_amperage_a=int(fleet.contract_amperage_a[i]),
            comm_method=str(names[layout.method_codes[i]]),  # type: ignore[arg-type]
            concentrator_id=concentrators[int(concentrator_of[i])][0]
            if concentrator_of[i] >= 0
            else None,
            # simulated certification: marked in October of the installation year, expiry
            # by the household meters' rule (the registry's own rule, not an assumption)
            certification_expiry=expiry_day(date(int(installed_year[i]), 10, 1), VALIDITY_Y),
        )
        for i, mid in enumerate(meter_ids)
    ]
    registry.add_meters(meters)
    since = datetime.combine(config.start_day, datetime.min.time(), JST) - timedelta(days=365)
    registry.install_meters(
        [(k, int(m)) for k, m in zip(keys, meter_ids, strict=True)], since.timestamp()
    )
    retailer_idx = np.floor(hash_uniform(seed, 605, meter_ids) * len(RETAILERS)).astype(np.int64)
    registry.add_supply_contracts(
        [
            (k, RETAILERS[int(r)].retailer_id, config.start_day - timedelta(days=365), None)
            for k, r in zip(keys, retailer_idx, strict=True)
        ]
    )
    return _city(config, registry, layout, list(keys))
