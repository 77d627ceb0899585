"""`openami ops user add`: operator accounts from the command line (password never an
argument), hashed with argon2id, audited; bad input is a clear error that changes nothing."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from openami.cli.ops import command
from openami.hub.operators import OperatorAccounts
from openami.storage.repositories import open_in_data_dir
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.operators import OperatorStore

PASSWORD = "a-long-operator-password"


def _cli() -> click.Group:
    group = click.Group()
    group.add_command(command, name="ops")  # as cli/main.py registers it
    return group


def test_user_add_from_env_then_login_works(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["ops", "user", "add", "alice", "--role", "approver", "--data-dir", str(tmp_path)]
    done = runner.invoke(_cli(), args, env={"OPENAMI_OPERATOR_PASSWORD": PASSWORD})
    assert done.exit_code == 0, done.output
    again = runner.invoke(_cli(), args, env={"OPENAMI_OPERATOR_PASSWORD": PASSWORD})
    assert again.exit_code == 1 and "exists already" in again.output
    listed = runner.invoke(_cli(), ["ops", "user", "list", "--data-dir", str(tmp_path)])
    assert "alice" in listed.output and "approver" in listed.output
    database = open_in_data_dir(tmp_path)
    try:
        store = OperatorStore(database)
        account = store.get("alice")
        assert account is not None and account.password_hash.startswith("$argon2id$")
        assert PASSWORD not in account.password_hash
        found = OperatorAccounts(store).authenticate("alice", PASSWORD, 0.0)
        assert found is not None and found.role == "approver"
        entries = [e for e in AuditLog(database).entries() if e.kind == "operator-action"]
        assert [(e.action, e.subject) for e in entries] == [("add operator", "alice")]
    finally:
        database.close()


def test_user_add_prompts_twice_and_refuses_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["ops", "user", "add", "bob", "--data-dir", str(tmp_path)]
    prompted = runner.invoke(_cli(), [*base, "--role", "viewer"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert prompted.exit_code == 0, prompted.output
    assert PASSWORD not in prompted.output  # hidden input
    short = runner.invoke(
        _cli(),
        ["ops", "user", "add", "carol", "--role", "viewer", "--data-dir", str(tmp_path)],
        env={"OPENAMI_OPERATOR_PASSWORD": "short"},
    )
    assert short.exit_code == 1 and "12 to 1024 characters" in short.output
    role = runner.invoke(
        _cli(), [*base, "--role", "root"], env={"OPENAMI_OPERATOR_PASSWORD": PASSWORD}
    )
    assert role.exit_code == 2 and "root" in role.output
    database = open_in_data_dir(tmp_path)
    try:
        assert [a.name for a in OperatorStore(database).all()] == ["bob"]
    finally:
        database.close()
