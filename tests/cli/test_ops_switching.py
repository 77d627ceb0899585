"""`ops halt|resume|held|approve` act on a data directory's store (issue #15 §1: emergency
stop and four-eyes approval from the command line)."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from openami.cli.ops_switching import approve, halt, held, resume
from openami.hub.operators import OperatorAccounts
from openami.storage.repositories import open_in_data_dir
from openami.storage.repositories.operators import OperatorStore
from openami.storage.repositories.requests import RequestRow, RequestStore
from openami.storage.repositories.switching import SwitchingStore


def _held_request(data_dir: Path) -> str:
    database = open_in_data_dir(data_dir)
    row = RequestRow("rq-held-1", "c-R001", "R001", "disconnect", None,
                     "0300000000000000000001", "2026-11-04", None, "held", "E_CAP_HIT",
                     "retailer cap R001: 4 > 3", None, 1.0, 1.0)  # fmt: skip
    RequestStore(database).add_request(row)
    SwitchingStore(database).set_controls(row.request_id, hold_reason="retailer cap",
                                          approvals_needed=2)  # fmt: skip
    return row.request_id


PASSWORDS = {name: f"long-password-of-{name}" for name in ("vic", "ops", "ann", "bob")}
ROLES = {"vic": "viewer", "ops": "operator", "ann": "approver", "bob": "approver"}


def test_halt_resume_and_approve_from_the_command_line(tmp_path: Path) -> None:
    rid = _held_request(tmp_path)
    accounts = OperatorAccounts(OperatorStore(open_in_data_dir(tmp_path)))
    for name, role in ROLES.items():
        accounts.add(name, role, PASSWORDS[name], 0.0)
    common = ["--data-dir", str(tmp_path)]

    def run(command: click.Command, name: str, *args: str, password: str | None = None):  # type: ignore[no-untyped-def]
        env = {"OPENAMI_OPERATOR_PASSWORD": password or PASSWORDS[name]}
        return CliRunner().invoke(command, [*args, "--operator", name, *common], env=env)

    refused = run(halt, "vic")
    assert refused.exit_code != 0 and "E_NOT_OPERATOR" in refused.output
    wrong = run(halt, "ops", password="not-the-password")
    assert wrong.exit_code != 0 and "wrong operator name or password" in wrong.output
    assert run(halt, "ops").exit_code == 0
    store = SwitchingStore(open_in_data_dir(tmp_path))
    assert store.stop_flag().halted and store.stop_flag().changed_by == "ops"
    listing = CliRunner().invoke(held, common)
    assert "HALTED by ops" in listing.output and rid in listing.output
    assert run(resume, "ops").exit_code != 0  # an operator may halt, only an approver resumes
    assert run(resume, "ann").exit_code == 0
    assert not store.stop_flag().halted

    assert run(approve, "ops", rid).exit_code != 0  # not an approver
    first = run(approve, "ann", rid)
    assert first.exit_code == 0 and "held" in first.output
    twice = run(approve, "ann", rid)
    assert twice.exit_code != 0 and "E_ALREADY_APPROVED" in twice.output
    second = run(approve, "bob", rid)
    assert second.exit_code == 0 and "accepted" in second.output
    unknown = run(approve, "bob", "rq-nope")
    assert unknown.exit_code != 0 and "E_UNKNOWN_REQUEST" in unknown.output
