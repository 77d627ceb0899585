"""`openami assets`: the meter asset register (issue #17 §1) from the command line.

- ``assets models list|add``: the catalogue of meter models;
- ``assets lots add|list``: procurement lots;
- ``assets meters receive|list|move|history``: meters and their lifecycle;
- ``assets certify METER``: record a certification (検定), expiry computed;
- ``assets expiring``: installed meters whose certification expires by a day, and the
  replacement forecast per fiscal year and area (``--forecast``);
- ``assets work-orders …``: work orders (:mod:`openami.cli.assets_work_orders`).

The store is the data directory's database (or ``--db``). A refusal prints its code and
message and exits 1, changing nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from openami.cli import assets_work_orders
from openami.cli.options import DATA_DIR, DB, cli_actor, open_store
from openami.registry import Registry
from openami.registry.assets import PHASE_WIRES, AssetError, Assets, MeterModel, ProcurementLot
from openami.registry.certification import METER_KINDS
from openami.registry.lifecycle import STATES

console = Console()
DAY = click.DateTime(formats=["%Y-%m-%d"])


actor = cli_actor


@contextmanager
def open_assets(data_dir: Path, db_url: str | None) -> Iterator[tuple[Assets, Registry]]:
    database = open_store(data_dir, db_url)
    try:
        yield Assets(database), Registry(database)
    except AssetError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    finally:
        database.close()


@click.group()
def command() -> None:
    """Meter assets: models, lots, meters' lifecycle, certification, work orders."""


@command.group()
def models() -> None:
    """The catalogue of meter models."""


@models.command("list")
@DATA_DIR
@DB
def list_models(data_dir: Path, db_url: str | None) -> None:
    """Every model in the catalogue."""
    with open_assets(data_dir, db_url) as (assets, _):
        rows = assets.models()
    table = Table("model_id", "maker", "model", "rated A", "phase/wires", "comm units", "spec")
    for m in rows:
        table.add_row(
            m.model_id, m.maker, m.model, str(m.rated_current_a), m.phase_wires,
            ",".join(m.comm_unit_options), m.utility_spec,
        )  # fmt: skip
    console.print(table)


@models.command("add")
@click.argument("model_id")
@click.option("--maker", required=True)
@click.option("--model", "model_name", required=True)
@click.option("--rated-current", type=click.Choice(["30", "60", "120"]), required=True)
@click.option("--phase-wires", type=click.Choice(PHASE_WIRES), default="1P3W", show_default=True)
@click.option("--comm-units", default="mesh", show_default=True, help="e.g. mesh,plc")
@click.option("--spec", required=True, help="The utility spec the model follows.")
@click.option("--kind", type=click.Choice(METER_KINDS), default="single_electronic")
@DATA_DIR
@DB
def add_model(
    model_id: str,
    maker: str,
    model_name: str,
    rated_current: str,
    phase_wires: str,
    comm_units: str,
    spec: str,
    kind: str,
    data_dir: Path,
    db_url: str | None,
) -> None:
    """Add MODEL_ID to the catalogue."""
    options = tuple(o.strip() for o in comm_units.split(",") if o.strip())
    row = MeterModel(
        model_id, maker, model_name, int(rated_current), phase_wires, options, spec, kind
    )
    with open_assets(data_dir, db_url) as (assets, _):
        assets.add_model(row)
    console.print(f"model {model_id} added")


@command.group()
def lots() -> None:
    """Procurement lots."""


@lots.command("add")
@click.argument("lot_id")
@click.option("--model", "model_id", required=True)
@click.option("--supplier", required=True)
@click.option("--ordered-on", type=DAY, required=True)
@click.option("--quantity", type=click.IntRange(1), required=True)
@DATA_DIR
@DB
def add_lot(
    lot_id: str,
    model_id: str,
    supplier: str,
    ordered_on: datetime,
    quantity: int,
    data_dir: Path,
    db_url: str | None,
) -> None:
    """Add the procurement lot LOT_ID."""
    day = ordered_on.date()
    with open_assets(data_dir, db_url) as (assets, _):
        assets.add_lot(ProcurementLot(lot_id, model_id, supplier, day, quantity))
    console.print(f"lot {lot_id} added")


@command.group()
def meters() -> None:
    """Meters in the asset register and their lifecycle."""


@meters.command("receive")
@click.option("--model", "model_id", required=True)
@click.option("--lot", "lot_id", default=None)
@click.option("--meter", "pairs", multiple=True, required=True, help="METER_ID:SERIAL")
@click.option("--day", type=DAY, required=True, help="Day delivered into stock.")
@DATA_DIR
@DB
def receive(
    model_id: str,
    lot_id: str | None,
    pairs: tuple[str, ...],
    day: datetime,
    data_dir: Path,
    db_url: str | None,
) -> None:
    """Meters delivered into stock."""
    rows = []
    for pair in pairs:
        meter_id, _, serial = pair.partition(":")
        if not meter_id.isdigit() or not serial:
            raise click.BadParameter(f"{pair!r}: give METER_ID:SERIAL", param_hint="--meter")
        rows.append((int(meter_id), model_id, lot_id, serial))
    with open_assets(data_dir, db_url) as (assets, _):
        assets.receive_meters(rows, day.date(), actor(), time.time())
    console.print(f"{len(rows)} meters in stock")


@meters.command("list")
@click.option("--state", type=click.Choice(STATES), default=None)
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000)
@DATA_DIR
@DB
def list_meters(state: str | None, limit: int, data_dir: Path, db_url: str | None) -> None:
    """Meters with their state and certification expiry."""
    with open_assets(data_dir, db_url) as (assets, _):
        rows = assets.meters(state, limit)
    table = Table("meter_id", "model", "lot", "serial", "state", "since", "expires")
    for m in rows:
        expires = m.expires_on.isoformat() if m.expires_on else "-"
        table.add_row(
            str(m.meter_id), m.model_id, m.lot_id or "", m.serial, m.state,
            m.state_since.isoformat(), expires,
        )  # fmt: skip
    console.print(table)


@meters.command("move")
@click.argument("meter_id", type=int)
@click.argument("state", type=click.Choice(STATES))
@click.option("--day", type=DAY, required=True)
@click.option("--reason", default="", show_default=False)
@DATA_DIR
@DB
def move(
    meter_id: int, state: str, day: datetime, reason: str, data_dir: Path, db_url: str | None
) -> None:
    """The meter's next lifecycle step (refused unless the transition table allows it)."""
    with open_assets(data_dir, db_url) as (assets, _):
        done = assets.move(meter_id, state, day.date(), reason, actor(), time.time())
    console.print(f"meter {meter_id} is {done.state} from {done.state_since}")


@meters.command("history")
@click.argument("meter_id", type=int)
@DATA_DIR
@DB
def history(meter_id: int, data_dir: Path, db_url: str | None) -> None:
    """The meter's lifecycle states and certifications."""
    with open_assets(data_dir, db_url) as (assets, _):
        states, certs = assets.history(meter_id), assets.certifications(meter_id)
    table = Table("state", "from", "reason", "by")
    for s in states:
        table.add_row(s.state, s.effective_from.isoformat(), s.reason, s.recorded_by)
    console.print(table)
    for c in certs:
        console.print(
            f"certificate {c.certificate_no}: {c.certified_on} + {c.validity_years} y → "
            f"expires {c.expires_on} ({c.rule_source})"
        )


@command.command()
@click.argument("meter_id", type=int)
@click.option("--certificate", "certificate_no", required=True)
@click.option("--on", "certified_on", type=DAY, required=True)
@DATA_DIR
@DB
def certify(
    meter_id: int, certificate_no: str, certified_on: datetime, data_dir: Path, db_url: str | None
) -> None:
    """Record a certification (検定) of METER_ID; its expiry (検満) is computed."""
    with open_assets(data_dir, db_url) as (assets, _):
        record = assets.certify(meter_id, certificate_no, certified_on.date(), time.time())
    console.print(
        f"meter {meter_id}: certificate {record.certificate_no}, {record.validity_years} years, "
        f"expires {record.expires_on}"
    )


@command.command()
@click.option("--until", type=DAY, default=None, help="Expiring on or before (default: today).")
@click.option("--forecast", is_flag=True, help="Replacements per fiscal year and area instead.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50)
@DATA_DIR
@DB
def expiring(
    until: datetime | None, forecast: bool, limit: int, data_dir: Path, db_url: str | None
) -> None:
    """Installed meters whose certification expires (検満), or the forecast."""
    day = until.date() if until is not None else date.today()
    with open_assets(data_dir, db_url) as (assets, registry):
        if forecast:
            table = Table("fiscal year", "area", "meters")
            for row in assets.expiry_forecast():
                table.add_row(str(row.fiscal_year), row.area_code, str(row.meters))
            console.print(table)
            return
        total, page = registry.expiring_meters(day, 0, limit)
    table = Table("meter_id", "supply point", "area", "expires")
    for r in page.to_pylist():
        table.add_row(
            str(r["meter_id"]), r["supply_point_id"], r["area_code"], r["certification_expiry"]
        )
    console.print(table)
    console.print(f"{total} installed meters expire on or before {day}")


command.add_command(assets_work_orders.command, name="work-orders")
command.add_command(assets_work_orders.faults, name="faults")
