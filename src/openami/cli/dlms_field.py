"""`openami dlms register-field`: put a field of DLMS meters into the registry (their
endpoints, and optionally supply points, meters and installations), and the clock options
the field and the HES service share."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console

from openami.cli.options import DATA_DIR, DB
from openami.clock import JST, AnchoredClock, Clock, RealClock
from openami.registry import BalancingGroup, Meter, Registry, Retailer, make_supply_point_id
from openami.storage.repositories import open_database, open_in_data_dir
from openami.storage.repositories.clients import ApiClient, ClientStore
from openami.storage.repositories.meter_endpoints import MeterEndpoints
from openami.storage.sql.database import Database

console = Console(stderr=True)
AREA = "03"  # TEPCO's area code, for the demo field's supply points
#: the field retailer's API client secret (``register-field --retailer``), owner-only
FIELD_CREDENTIALS = "field-credentials.json"

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
@click.option(
    "--retailer",
    default=None,
    metavar="ID",
    help="Also make retailer ID (e.g. R001) supply every field point without a supplier, "
    f"with an API client whose secret goes to DATA_DIR/{FIELD_CREDENTIALS} (demos, tests).",
)
@DATA_DIR
@DB
def register_field(
    meters: int,
    first_meter_id: int,
    host: str,
    port: int,
    with_registry: bool,
    retailer: str | None,
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
        if retailer is not None:
            supplied = _supply_field(database, retailer, ids, data_dir)
            console.print(f"retailer {retailer} supplies {supplied} more field points")
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


def _supply_field(database: Database, retailer_id: str, ids: np.ndarray, data_dir: Path) -> int:
    """Retailer ``retailer_id`` (made, with balancing group BG-<id>, where missing) supplies
    every field supply point nobody supplies, from yesterday (JST); its API client
    ``retailer-<id>`` is made once, its secret written owner-only to the credentials file."""
    registry = Registry(database)
    if registry.retailer_name(retailer_id) is None:
        group = f"BG-{retailer_id}"
        registry.add_balancing_groups([BalancingGroup(group, f"{retailer_id}'s group")])
        registry.add_retailers([Retailer(retailer_id, retailer_id, group)])
    since = datetime.now(JST).date() - timedelta(days=1)
    rows = []
    for meter_id in ids.tolist():
        sp = registry.supply_point(make_supply_point_id(AREA, int(meter_id)))
        if sp is not None and registry.retailer_on(sp.supply_point_key, since) is None:
            rows.append((sp.supply_point_key, retailer_id, since, None))
    registry.add_supply_contracts(rows)
    clients, client_id = ClientStore(database), f"retailer-{retailer_id.lower()}"
    if clients.get(client_id) is None:
        secret = secrets.token_urlsafe(24)
        clients.register(ApiClient(client_id, "retailer", retailer_id), secret)
        path = data_dir / FIELD_CREDENTIALS
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        known = json.loads(path.read_text()) if path.exists() else {"clients": []}
        known["clients"].append(
            {"client_id": client_id, "client_secret": secret, "retailer_id": retailer_id}
        )
        partial = path.with_name(path.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(known, fh, indent=2)
        os.replace(partial, path)
    return len(rows)
