"""What the B-route commands share: options and set-up of the simulated meters behind them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import click
import numpy as np
import numpy.typing as npt

from openami.broute.responder import DEFAULT_RETENTION_DAYS
from openami.clock import Clock, RealClock, SimClock, slot_index
from openami.meter import MeterFleet
from openami.protocols.echonet.smart_meter import ENERGY_UNIT_KWH

F = TypeVar("F", bound=Callable[..., object])


def meter_history_options(func: F) -> F:
    """--seed, --history-days, --retention-days, --unit and --speed of a simulated meter."""
    options = [
        click.option("--seed", default=1, show_default=True, help="Seed of the load model."),
        click.option(
            "--history-days",
            default=DEFAULT_RETENTION_DAYS,
            show_default=True,
            help="Days of half-hour history simulated before now.",
        ),
        click.option(
            "--retention-days",
            default=DEFAULT_RETENTION_DAYS,
            show_default=True,
            help="Days of history the meter keeps (E5 0 … N-1; the spec allows up to 100).",
        ),
        click.option(
            "--unit",
            "unit_code",
            type=click.Choice([f"{c:#04x}" for c in ENERGY_UNIT_KWH]),
            default="0x01",
            show_default=True,
            help="E1 unit of E0/E3 (0x01 = 0.1 kWh, 0x02 = 0.01 kWh, 0x03 = 1 Wh …).",
        ),
        click.option(
            "--speed", default=1.0, show_default=True, help="Simulated time speed (1 = real)."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def clock_for_speed(speed: float) -> Clock:
    """The wall clock, or an accelerated one starting now."""
    return RealClock() if speed == 1.0 else SimClock(datetime.now(UTC), speed)


def simulated_fleet(
    meter_ids: npt.ArrayLike,
    clock: Clock,
    *,
    seed: int,
    pv_share: float,
    history_days: int,
    retention_days: int,
) -> MeterFleet:
    """A fleet started ``history_days`` before the clock's now and advanced to now."""
    start = slot_index(clock.now() - timedelta(days=history_days))
    ids = np.asarray(meter_ids, dtype=np.int64)
    fleet = MeterFleet(ids, start, seed=seed, pv_share=pv_share, retention_days=retention_days)
    fleet.advance_to(slot_index(clock.now()))
    return fleet
