"""`openami thirdparty`: meters installed by parties other than the utility.

The responsibility matrix and cost attribution per type, the type-approval register of
metering parts (ii), each meter's type (i, i-2, ii, iii), the (iii) chooser charges and the
checks of meter operators' duties (docs/third-party-meters.md).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from openami.cli.options import DATA_DIR, DB, open_store
from openami.registry import Registry
from openami.registry.third_party import STAGES, ThirdPartyError, ThirdPartyMeters
from openami.registry.third_party_duties import DEFAULT_HORIZON_DAYS, duty_alerts
from openami.storage.repositories.third_party import (
    ThirdPartyDuties,
    ThirdPartyStore,
    TypeApproval,
)

console = Console()
DAY = click.DateTime(["%Y-%m-%d"])


_open = open_store


def _service(data_dir: Path, db_url: str | None) -> ThirdPartyMeters:
    return ThirdPartyMeters(ThirdPartyStore(_open(data_dir, db_url)))


def _day(value: datetime | None) -> date:
    return value.date() if value is not None else date.today()


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, default=str))


@click.group()
def command() -> None:
    """Meters installed by third parties: types i, i-2, ii and iii (seed section 2)."""


@command.command("matrix")
@DATA_DIR
@DB
@click.option("--json", "as_json", is_flag=True)
def matrix(data_dir: Path, db_url: str | None, as_json: bool) -> None:
    """Who is responsible for each lifecycle stage, and who pays what, per type."""
    service = _service(data_dir, db_url)
    duties, costs = service.store.responsibilities(), service.store.cost_attributions()
    if as_json:
        _echo_json({"responsibilities": duties, "costs": costs})
        return
    table = Table(title="Responsibility per lifecycle stage")
    table.add_column("type")
    for stage in STAGES:
        table.add_column(stage)
    for kind, row in duties.items():
        table.add_row(
            kind, *(row.get(s, "—").replace("third_party", "third party") for s in STAGES)
        )
    console.print(table)
    paid = Table(title="Cost attribution")
    for col in ("type", "cost item", "payer"):
        paid.add_column(col)
    for kind, items in costs.items():
        for item, (payer, _) in items.items():
            paid.add_row(kind, item, payer)
    console.print(paid)


@command.command("approve")
@DATA_DIR
@DB
@click.option("--id", "approval_id", required=True, help="Approval number.")
@click.option("--maker", required=True)
@click.option("--model", required=True)
@click.option("--interface", "interface_version", default="1.0", show_default=True)
@click.option("--from", "approved_on", type=DAY, required=True, help="Approved on (JST day).")
@click.option("--until", "withdrawn_on", type=DAY, default=None, help="Withdrawn from.")
def approve(
    data_dir: Path,
    db_url: str | None,
    approval_id: str,
    maker: str,
    model: str,
    interface_version: str,
    approved_on: datetime,
    withdrawn_on: datetime | None,
) -> None:
    """Add a metering part to the type-approval register (ii)."""
    approval = TypeApproval(
        approval_id,
        maker,
        model,
        interface_version,
        approved_on.date(),
        None if withdrawn_on is None else withdrawn_on.date(),
    )
    try:
        _service(data_dir, db_url).approve(approval)
    except ThirdPartyError as exc:
        raise click.ClickException(f"{exc.code}: {exc}") from None
    click.echo(f"approved {maker} {model} as {approval_id}")


@command.command("approvals")
@DATA_DIR
@DB
@click.option("--json", "as_json", is_flag=True)
def approvals(data_dir: Path, db_url: str | None, as_json: bool) -> None:
    """The type-approval register."""
    rows = _service(data_dir, db_url).store.approvals()
    if as_json:
        _echo_json([asdict(a) for a in rows])
        return
    table = Table(title="Type-approval register (metering parts, type ii)")
    for col in ("id", "maker", "model", "interface", "approved on", "withdrawn on"):
        table.add_column(col)
    for a in rows:
        table.add_row(
            a.approval_id,
            a.maker,
            a.model,
            a.interface_version,
            str(a.approved_on),
            str(a.withdrawn_on or "—"),
        )
    console.print(table)


@command.command("assign")
@DATA_DIR
@DB
@click.argument("meter_id", type=int)
@click.argument("kind", type=click.Choice(["i", "i-2", "ii", "iii"]))
@click.option("--owner", required=True, help="The owning party (iii: the chooser).")
@click.option("--on", "on_day", type=DAY, default=None, help="From this JST day (today).")
@click.option("--maker", default=None, help="(ii) the metering part's maker.")
@click.option("--model", default=None, help="(ii) metering part / (iii) chosen model.")
@click.option("--price-yen", type=int, default=None, help="(iii) chosen model's price.")
@click.option("--standard-price-yen", type=int, default=None, help="(iii) standard model's.")
@click.option("--supply-point-key", type=int, default=None, help="(i-2) where it sits.")
def assign(
    data_dir: Path,
    db_url: str | None,
    meter_id: int,
    kind: str,
    owner: str,
    on_day: datetime | None,
    maker: str | None,
    model: str | None,
    price_yen: int | None,
    standard_price_yen: int | None,
    supply_point_key: int | None,
) -> None:
    """Record METER_ID's type from a day on; (ii) is refused for an unapproved part."""
    service, day = _service(data_dir, db_url), _day(on_day)
    try:
        if kind == "ii":
            if maker is None or model is None:
                raise click.UsageError("type ii needs --maker and --model")
            service.install_metering_part(meter_id, owner, maker, model, day)
        elif kind == "iii":
            if model is None or price_yen is None or standard_price_yen is None:
                raise click.UsageError("type iii needs --model, --price-yen, --standard-price-yen")
            service.choose_model(meter_id, owner, model, price_yen, standard_price_yen, day)
        else:
            service.register_operator_meter(meter_id, owner, day, kind == "i-2", supply_point_key)
    except ThirdPartyError as exc:
        raise click.ClickException(f"{exc.code}: {exc}") from None
    click.echo(f"meter {meter_id} is type {kind} from {day}")


@command.command("charges")
@DATA_DIR
@DB
@click.option("--on", "on_day", type=DAY, default=None, help="JST day (today).")
def charges(data_dir: Path, db_url: str | None, on_day: datetime | None) -> None:
    """(iii) extra costs charged to choosers, as JSON lines for billing outputs."""
    for charge in _service(data_dir, db_url).chooser_charges(_day(on_day)):
        _echo_json(asdict(charge))


@command.command("check")
@DATA_DIR
@DB
@click.option("--on", "on_day", type=DAY, default=None, help="JST day (today).")
@click.option("--horizon-days", type=click.IntRange(0, 3650), default=DEFAULT_HORIZON_DAYS)
@click.option("--json", "as_json", is_flag=True)
def check(
    data_dir: Path, db_url: str | None, on_day: datetime | None, horizon_days: int, as_json: bool
) -> None:
    """Operators' duties: replacement before expiry, supply continuity (exit 1 on errors)."""
    database = _open(data_dir, db_url)
    alerts = duty_alerts(ThirdPartyDuties(database), Registry(database), _day(on_day), horizon_days)
    if as_json:
        _echo_json([asdict(a) for a in alerts])
    else:
        table = Table(title=f"Operator duty alerts ({len(alerts)})")
        for col in ("code", "meter", "owner", "message"):
            table.add_column(col)
        for a in alerts:
            table.add_row(a.code, str(a.meter_id), a.owner_party_id, a.message)
        console.print(table)
    if any(a.code.startswith("E_") for a in alerts):
        raise SystemExit(1)
