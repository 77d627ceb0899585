"""Operator commands for remote switching: ``approve``, ``halt``, ``resume``, ``held``.

Click commands for the ``openami ops`` group (the lead adds them there once operator
accounts exist); until then the operator's name and role are options. They work on the
store of a data directory (or ``--db``), so they act while ``openami serve`` runs: the stop
flag is read by the hub's workers and by the HES's guard before every remote switching
command, and an approved request is sent at the next worker round.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from openami.hub.switching_errors import Rejected
from openami.hub.switching_ops import SwitchingOps
from openami.storage.repositories import DATA_DIR_FILE, Database, open_database
from openami.storage.repositories.audit import AuditLog

_DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("openami-data"),
    show_default=True,
    help=f"Directory holding {DATA_DIR_FILE}.",
)
_DB = click.option("--db", "db_url", default=None, metavar="URL", help="The database URL.")
_OPERATOR = click.option("--operator", required=True, help="The operator's account name.")
_ROLE = click.option(
    "--role",
    type=click.Choice(["viewer", "operator", "approver", "admin"]),
    required=True,
    help="The operator's role.",
)


def _ops(data_dir: Path, db_url: str | None) -> SwitchingOps:
    if db_url is None and not (data_dir / DATA_DIR_FILE).exists():
        raise click.ClickException(f"no store in {data_dir}")
    database: Database = open_database(db_url or data_dir / DATA_DIR_FILE)
    return SwitchingOps(database, AuditLog(database), time.time)


def _run(action: object) -> None:
    try:
        if callable(action):
            action()
    except Rejected as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None


@click.command()
@click.argument("request_id")
@_OPERATOR
@_ROLE
@_DATA_DIR
@_DB
def approve(request_id: str, operator: str, role: str, data_dir: Path, db_url: str | None) -> None:
    """Approve a held request (two different approvers release it)."""
    ops = _ops(data_dir, db_url)
    try:
        row = ops.approve(request_id, operator, role)
    except Rejected as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    click.echo(f"{row.request_id} {row.status}")


@click.command()
@_OPERATOR
@_ROLE
@click.option("--reason", default="", help="Why (audited).")
@_DATA_DIR
@_DB
def halt(operator: str, role: str, reason: str, data_dir: Path, db_url: str | None) -> None:
    """Emergency stop: no remote switching command is sent or admitted until resume."""
    ops = _ops(data_dir, db_url)
    _run(lambda: ops.halt(operator, role, reason))
    click.echo("remote switching halted")


@click.command()
@_OPERATOR
@_ROLE
@_DATA_DIR
@_DB
def resume(operator: str, role: str, data_dir: Path, db_url: str | None) -> None:
    """Lift the emergency stop (approver or admin)."""
    ops = _ops(data_dir, db_url)
    _run(lambda: ops.resume(operator, role))
    click.echo("remote switching resumed")


@click.command()
@_DATA_DIR
@_DB
def held(data_dir: Path, db_url: str | None) -> None:
    """List held requests with why they are held and who approved them."""
    ops = _ops(data_dir, db_url)
    flag = ops.store.stop_flag()
    if flag.halted:
        click.echo(f"HALTED by {flag.changed_by}")
    for row, controls in ops.held():
        approvers = ",".join(a[0] for a in controls.approvals) if controls else ""
        reason = controls.hold_reason if controls else ""
        click.echo(
            f"{row.request_id}\t{row.kind}\t{row.retailer_id}\t{row.effective_date}\t"
            f"{reason}\tapproved by: {approvers or '-'}"
        )
