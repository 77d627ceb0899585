"""`openami assets work-orders`: list, show, create, assign, cancel and complete work orders
(:mod:`openami.hub.work_orders`) on a data directory. Completing an exchange performs the
meter exchange in the data directory's MDMS; the steps are written to the audit log with
the local user as ``cli:<user>`` acting as an operator.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from openami.cli.options import DATA_DIR, cli_actor
from openami.clock import JST, RealClock
from openami.hub.faults import FaultTickets
from openami.hub.work_orders import KINDS, STATES, Completion, WorkOrderError, WorkOrders
from openami.mdms.service import Mdms
from openami.registry import Registry
from openami.storage.interval_files import IntervalStoreUnavailable, open_interval_store
from openami.storage.repositories import open_in_data_dir
from openami.storage.repositories.audit import AuditLog

console = Console()
ROLE = "operator"  # whoever may write the data directory acts as an operator


_actor = cli_actor


@contextmanager
def open_work_orders(data_dir: Path) -> Iterator[WorkOrders]:
    if not (data_dir / "registry.sqlite").exists():
        raise click.ClickException(f"no openami data directory at {data_dir}")
    database = open_in_data_dir(data_dir)
    registry = Registry(database)
    try:
        store = open_interval_store(data_dir / "interval.duckdb")
    except IntervalStoreUnavailable as exc:
        database.close()
        raise click.ClickException(str(exc)) from None
    clock = RealClock()
    audit = AuditLog(database)
    mdms = Mdms(store, registry, clock, None, audit=audit)
    try:
        yield WorkOrders(database, registry, mdms, audit, clock.timestamp)
    except WorkOrderError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    finally:
        store.close()
        database.close()


def _when(epoch_s: float | None) -> str:
    if epoch_s is None:
        return ""
    return datetime.fromtimestamp(epoch_s, JST).strftime("%Y-%m-%d %H:%M")


@click.group()
def command() -> None:
    """Work orders: installation, exchange at expiry, fault repair, removal."""


@command.command("list")
@click.option("--state", type=click.Choice(STATES), default=None)
@DATA_DIR
def list_orders(state: str | None, data_dir: Path) -> None:
    """Work orders, and the lead times per kind."""
    with open_work_orders(data_dir) as orders:
        rows, times = orders.listing(state, 1000), orders.lead_times()
    table = Table("id", "kind", "state", "supply point", "assigned", "requested", "completed")
    for r in rows:
        table.add_row(
            str(r.work_order_id), r.kind, r.state, r.supply_point_id, r.assigned_to or "",
            _when(r.requested_at), _when(r.completed_at),
        )  # fmt: skip
    console.print(table)
    for t in times:
        mean = f"{t.mean_lead_days:.1f}" if t.mean_lead_days is not None else "-"
        console.print(
            f"{t.kind}: {t.open_orders} open, {t.completed} completed, mean {mean} days, "
            f"{t.within_target} within the {t.target_days}-day target"
        )


@command.command()
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("supply_point_id")
@click.option("--note", default="")
@DATA_DIR
def create(kind: str, supply_point_id: str, note: str, data_dir: Path) -> None:
    """Create a work order of KIND at SUPPLY_POINT_ID."""
    with open_work_orders(data_dir) as orders:
        row = orders.create(kind, supply_point_id, _actor(), ROLE, note)
    console.print(f"work order {row.work_order_id} ({row.kind}) requested")


@command.command("order-expiring")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=10_000, show_default=True)
@DATA_DIR
def order_expiring(until: datetime, limit: int, data_dir: Path) -> None:
    """Exchange orders for the installed meters whose certification expires by --until."""
    with open_work_orders(data_dir) as orders:
        made = orders.order_expiry_exchanges(until.date(), _actor(), ROLE, limit)
    console.print(f"{made} exchange orders requested")


@command.command()
@click.argument("work_order_id", type=int)
@click.argument("assignee")
@DATA_DIR
def assign(work_order_id: int, assignee: str, data_dir: Path) -> None:
    """Assign a work order to a crew."""
    with open_work_orders(data_dir) as orders:
        orders.assign(work_order_id, assignee, _actor(), ROLE)
    console.print(f"work order {work_order_id} assigned to {assignee}")


@command.command()
@click.argument("work_order_id", type=int)
@DATA_DIR
def cancel(work_order_id: int, data_dir: Path) -> None:
    """Cancel a work order that is not completed."""
    with open_work_orders(data_dir) as orders:
        orders.cancel(work_order_id, _actor(), ROLE)
    console.print(f"work order {work_order_id} cancelled")


@command.command()
@click.argument("work_order_id", type=int)
@click.option("--at", "at", type=click.DateTime(), required=True, help="When (JST).")
@click.option("--new-meter", type=int, default=None)
@click.option("--old-final-wh", type=click.IntRange(0), default=None)
@click.option("--new-initial-wh", type=click.IntRange(0), default=None)
@DATA_DIR
def complete(
    work_order_id: int,
    at: datetime,
    new_meter: int | None,
    old_final_wh: int | None,
    new_initial_wh: int | None,
    data_dir: Path,
) -> None:
    """Complete a work order with the meters' final / initial import readings [Wh]."""
    done = Completion(at.replace(tzinfo=JST).timestamp(), new_meter, old_final_wh, new_initial_wh)
    with open_work_orders(data_dir) as orders:
        row = orders.complete(work_order_id, done, _actor(), ROLE)
    console.print(f"work order {row.work_order_id} completed")


@click.group()
def faults() -> None:
    """Fault tickets opened by meters' alarms, fault status and VEE flags."""


@faults.command("list")
@click.option("--all", "show_all", is_flag=True, help="Closed tickets too.")
@DATA_DIR
def list_faults(show_all: bool, data_dir: Path) -> None:
    """Fault tickets (open ones unless --all)."""
    with open_work_orders(data_dir) as orders:
        rows = FaultTickets(orders).tickets(open_only=not show_all)
    table = Table("ticket", "meter", "cause", "source", "opened", "closed", "work order")
    for t in rows:
        table.add_row(
            str(t.ticket_id), str(t.meter_id), t.cause, t.source, _when(t.opened_at),
            _when(t.closed_at), str(t.work_order_id or ""),
        )  # fmt: skip
    console.print(table)


@faults.command("repair")
@click.argument("ticket_id", type=int)
@DATA_DIR
def repair(ticket_id: int, data_dir: Path) -> None:
    """Spawn the repair work order of a fault ticket."""
    with open_work_orders(data_dir) as orders:
        row = FaultTickets(orders).spawn_repair(ticket_id, _actor(), ROLE)
    console.print(f"work order {row.work_order_id} (repair) requested for ticket {ticket_id}")
