"""`openami dlms register-field`: put a field of DLMS meters into the registry (their
endpoints, and optionally supply points, meters and installations), and the clock options
the field and the HES service share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console

from openami.cli.options import DATA_DIR, DB
from openami.clock import AnchoredClock, Clock, RealClock
from openami.registry import Meter, Registry, make_supply_point_id
from openami.storage.repositories import open_database, open_in_data_dir
from openami.storage.repositories.meter_endpoints import MeterEndpoints
from openami.storage.sql.database import Database

console = Console(stderr=True)
AREA = "03"  # TEPCO's area code, for the demo field's supply points

_clock_options = [
    click.option(
        "--speed",
        type=float,
        default=None,
        help="Run an accelerated clock this many times faster than real time (default: real).",
    ),
    click.option(
        "--clock-anchor",
        type=float,
        default=None,
        metavar="UNIX_S",
        help="With --speed: the wall-clock instant at which the accelerated clock reads "
        "--clock-at-anchor (default: now). Give the field and the HES the same three values.",
    ),
    click.option(
        "--clock-at-anchor",
        type=float,
        default=None,
        metavar="UNIX_S",
        help="With --speed: what the accelerated clock reads at --clock-anchor (default: it).",
    ),
]


def with_clock_options(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_clock_options):
        f = option(f)
    return f


def make_clock(speed: float | None, anchor_s: float | None, at_anchor_s: float | None) -> Clock:
    """The real clock, or an accelerated one that processes given the same values share."""
    if speed is None:
        if anchor_s is not None or at_anchor_s is not None:
            raise click.UsageError("--clock-anchor and --clock-at-anchor need --speed")
        return RealClock()
    if speed <= 0:
        raise click.BadParameter("must be positive", param_hint="--speed")
    import time

    anchor = time.time() if anchor_s is None else anchor_s
    return AnchoredClock(anchor if at_anchor_s is None else at_anchor_s, anchor, speed)


def open_db(data_dir: Path, db_url: str | None) -> Database:
    return open_database(db_url) if db_url else open_in_data_dir(data_dir)


@click.command("register-field")
@click.option("--meters", default=100, show_default=True, help="Meters of the field (≤ 65535).")
@click.option("--first-meter-id", default=1, show_default=True, help="Id of wPort 1's meter.")
@click.option("--host", default="127.0.0.1", show_default=True, help="The field's address.")
@click.option("--port", required=True, type=int, help="The field's TCP port.")
@click.option(
    "--with-registry/--endpoints-only",
    default=True,
    show_default=True,
    help="Also add a supply point, a meter and its installation per meter where missing.",
)
@DATA_DIR
@DB
def register_field(
    meters: int,
    first_meter_id: int,
    host: str,
    port: int,
    with_registry: bool,
    data_dir: Path,
    db_url: str | None,
) -> None:
    """Record where the HES reaches the meters of `openami dlms serve --meters N`: meter id
    first+i at HOST:PORT, logical device (wPort) i+1. Run again to move a field (the rows are
    replaced). For demos and tests; real meters get their endpoints from provisioning."""
    if not 1 <= meters <= 0xFFFF:
        raise click.BadParameter("1..65535 meters per endpoint", param_hint="--meters")
    ids = np.arange(first_meter_id, first_meter_id + meters, dtype=np.int64)
    database = open_db(data_dir, db_url)
    try:
        try:
            MeterEndpoints(database).put(ids, host, port, np.arange(1, meters + 1))
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        added = _add_to_registry(Registry(database), ids) if with_registry else 0
    finally:
        database.close()
    console.print(
        f"registered {meters} meter endpoints at {host}:{port} (wPort 1..{meters} = meter ids "
        f"{ids[0]}..{ids[-1]}); {added} meters newly installed at supply points"
    )


def _add_to_registry(registry: Registry, ids: np.ndarray) -> int:
    known = set(registry.meters_table().column("meter_id").to_pylist())
    new = [int(m) for m in ids if int(m) not in known]
    if not new:
        return 0
    keys = registry.add_supply_points([make_supply_point_id(AREA, m) for m in new])
    expiry = date(2036, 3, 31)
    registry.add_meters(
        [Meter(m, "openami", f"F{m:08d}", 30, "cellular", None, expiry) for m in new]
    )
    registry.install_meters(list(zip(keys, new, strict=True)), 0.0)
    return len(new)
