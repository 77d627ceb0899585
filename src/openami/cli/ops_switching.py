"""Operator commands for remote switching: ``approve``, ``halt``, ``resume``, ``held``.

Click commands for the ``openami ops`` group (not registered there yet). The operator
logs in with an operator account (``ops user add``): ``--operator NAME``, the password from
``OPENAMI_OPERATOR_PASSWORD`` or a prompt; the role is the account's, never an option. They
work on the store of a data directory (or ``--db``), so they act while ``openami serve``
runs: the stop flag is read by the hub's workers and by the HES's guard before every remote
switching command, and an approved request is sent at the next worker round.
"""

from __future__ import annotations

import getpass
import os
import time
from pathlib import Path

import click

from openami.cli.options import DATA_DIR, DB
from openami.hub.operators import LockedOut, Operator, OperatorAccounts
from openami.hub.switching_errors import Rejected
from openami.hub.switching_ops import SwitchingOps
from openami.storage.repositories import DATA_DIR_FILE, Database, open_database
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.operators import OperatorStore
from openami.storage.secrets import use_key_dir

PASSWORD_ENV = "OPENAMI_OPERATOR_PASSWORD"

_OPERATOR = click.option("--operator", required=True, help="Your operator account name.")


def _database(data_dir: Path, db_url: str | None) -> Database:
    if db_url is None and not (data_dir / DATA_DIR_FILE).exists():
        raise click.ClickException(f"no store in {data_dir}")
    database = open_database(db_url or data_dir / DATA_DIR_FILE)
    use_key_dir(database, data_dir)  # the audit chain's keys live beside the data
    return database


def _ops(database: Database) -> SwitchingOps:
    return SwitchingOps(database, AuditLog(database), time.time)


def _login(database: Database, name: str) -> Operator:
    """The operator, authenticated with their account's password (role from the account)."""
    password = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"password for {name}: ")
    try:
        operator = OperatorAccounts(OperatorStore(database)).authenticate(
            name, password, time.time()
        )
    except LockedOut as exc:
        raise click.ClickException(f"{name} is locked out: {exc}") from None
    if operator is None:
        raise click.ClickException("wrong operator name or password")
    return operator


def _run(action: object) -> None:
    try:
        if callable(action):
            action()
    except Rejected as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None


@click.command()
@click.argument("request_id")
@_OPERATOR
@DATA_DIR
@DB
def approve(request_id: str, operator: str, data_dir: Path, db_url: str | None) -> None:
    """Approve a held request (two different approvers release it)."""
    database = _database(data_dir, db_url)
    who = _login(database, operator)
    try:
        row = _ops(database).approve(request_id, who.name, who.role)
    except Rejected as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    click.echo(f"{row.request_id} {row.status}")


@click.command()
@_OPERATOR
@click.option("--reason", default="", help="Why (audited).")
@DATA_DIR
@DB
def halt(operator: str, reason: str, data_dir: Path, db_url: str | None) -> None:
    """Emergency stop: no remote switching command is sent or admitted until resume."""
    database = _database(data_dir, db_url)
    who = _login(database, operator)
    _run(lambda: _ops(database).halt(who.name, who.role, reason))
    click.echo("remote switching halted")


@click.command()
@_OPERATOR
@DATA_DIR
@DB
def resume(operator: str, data_dir: Path, db_url: str | None) -> None:
    """Lift the emergency stop (approver or admin)."""
    database = _database(data_dir, db_url)
    who = _login(database, operator)
    _run(lambda: _ops(database).resume(who.name, who.role))
    click.echo("remote switching resumed")


@click.command()
@DATA_DIR
@DB
def held(data_dir: Path, db_url: str | None) -> None:
    """List held requests with why they are held and who approved them."""
    ops = _ops(_database(data_dir, db_url))
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
