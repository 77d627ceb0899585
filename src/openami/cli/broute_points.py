"""`openami broute serve --supply-point ID`: serve the meter a registry has at a point.

A high-voltage point (voltage class ``high``) gets the high-voltage smart meter 0x028A01
with its CT/VT multiplier as coefficient D3; a low-voltage point the 0x028801 meter. A point
with a conventional meter, or without a meter, has no B route.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from openami.protocols.echonet.high_voltage_meter import HighVoltageScale
from openami.registry import InvalidSupplyPointId, Registry
from openami.storage.repositories import DATA_DIR_FILE


@dataclass(frozen=True)
class ServedPoint:
    meter_id: int
    high_voltage: HighVoltageScale | None  # None: a low-voltage meter


def served_point(data_dir: Path, supply_point_id: str) -> ServedPoint:
    """What to serve for the supply point; a clear error when there is nothing to serve."""
    path = data_dir / DATA_DIR_FILE
    if not path.exists():
        raise click.ClickException(f"no registry at {path}")
    registry = Registry.open(path)
    try:
        try:
            point = registry.supply_point(supply_point_id)
        except InvalidSupplyPointId as exc:
            raise click.BadParameter(str(exc), param_hint="--supply-point") from None
        if point is None:
            raise click.ClickException(f"unknown supply point {supply_point_id}")
        key = point.supply_point_key
        meter = registry.current_meter(key)
        if meter is None:
            raise click.ClickException(f"no meter is installed at {supply_point_id}")
        kind = registry.kinds.meter_kinds([meter]).to_pylist()[0]
        if kind["meter_type"] != "smart":
            raise click.ClickException(
                f"meter {meter} at {supply_point_id} is a conventional meter: it has no B route"
            )
        voltage = registry.kinds.point_classes([key]).column("voltage_class")[0].as_py()
    finally:
        registry.close()
    scale = HighVoltageScale(coefficient=int(kind["multiplier"])) if voltage == "high" else None
    return ServedPoint(meter, scale)
