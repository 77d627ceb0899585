"""`openami ops`: operator accounts of the dashboard (``ops user add``, ``ops user list``).

The password comes from ``OPENAMI_OPERATOR_PASSWORD`` when set (scripts), else from a
prompt typed twice; it is never an argument (arguments end up in shell histories and process
lists). Accounts live in the data directory's database (or ``--db``), hashed with argon2id;
each account made is written to the audit log.
"""

from __future__ import annotations

import getpass
import os
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from openami.cli import ops_requests, ops_switching
from openami.cli.options import DATA_DIR, DB, open_store
from openami.hub.operators import ROLES, OperatorAccounts, OperatorError
from openami.storage.repositories.audit import AuditLog, AuditRecord
from openami.storage.repositories.operators import OperatorStore

PASSWORD_ENV = "OPENAMI_OPERATOR_PASSWORD"
console = Console()


_open = open_store


@click.group()
def command() -> None:
    """Operations: operator accounts, remote switching (held requests, four-eyes
    approval, emergency stop) and the retailer requests' back-office view."""


@command.group()
def user() -> None:
    """Operator accounts: viewer, operator, approver or admin."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may do.")
@DATA_DIR
@DB
def add(name: str, role: str, data_dir: Path, db_url: str | None) -> None:
    """Make the account NAME (password from $OPENAMI_OPERATOR_PASSWORD or a prompt)."""
    password = os.environ.get(PASSWORD_ENV) or click.prompt(
        f"Password for {name}", hide_input=True, confirmation_prompt=True
    )
    database = _open(data_dir, db_url)
    try:
        now_s = time.time()
        try:
            OperatorAccounts(OperatorStore(database)).add(name, role, password, now_s)
        except OperatorError as exc:
            raise click.ClickException(str(exc)) from None
        AuditLog(database).append(
            AuditRecord(
                at=now_s,
                kind="operator-action",
                actor=f"cli:{getpass.getuser()}",
                action="add operator",
                subject=name,
                purpose="operations: an operator of the system at work",
                detail={"role": role},
            )
        )
    finally:
        database.close()
    console.print(f"operator [bold]{name}[/bold] added with the role {role}")


@user.command("list")
@DATA_DIR
@DB
def list_users(data_dir: Path, db_url: str | None) -> None:
    """The operator accounts (name, role, whether disabled; never a hash)."""
    database = _open(data_dir, db_url)
    try:
        accounts = OperatorStore(database).all()
    finally:
        database.close()
    table = Table("name", "role", "disabled")
    for a in accounts:
        table.add_row(a.name, a.role, "yes" if a.disabled else "")
    console.print(table)


for _switching_command in (ops_switching.approve, ops_switching.halt, ops_switching.resume):
    command.add_command(_switching_command)
command.add_command(ops_switching.held)
command.add_command(ops_requests.requests_group)
