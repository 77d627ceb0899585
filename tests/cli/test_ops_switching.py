"""`ops halt|resume|held|approve` act on a data directory's store (issue #15 §1: emergency
stop and four-eyes approval from the command line)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from openami.cli.ops_switching import approve, halt, held, resume
from openami.storage.repositories import open_in_data_dir
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


def test_halt_resume_and_approve_from_the_command_line(tmp_path: Path) -> None:
    run = CliRunner().invoke
    rid = _held_request(tmp_path)
    common = ["--data-dir", str(tmp_path)]
    refused = run(halt, ["--operator", "vic", "--role", "viewer", *common])
    assert refused.exit_code != 0 and "E_NOT_OPERATOR" in refused.output
    assert run(halt, ["--operator", "ops", "--role", "operator", *common]).exit_code == 0
    store = SwitchingStore(open_in_data_dir(tmp_path))
    assert store.stop_flag().halted and store.stop_flag().changed_by == "ops"
    listing = run(held, common)
    assert "HALTED by ops" in listing.output and rid in listing.output
    assert run(resume, ["--operator", "ops", "--role", "operator", *common]).exit_code != 0
    assert run(resume, ["--operator", "ann", "--role", "approver", *common]).exit_code == 0
    assert not store.stop_flag().halted

    first = run(approve, [rid, "--operator", "ann", "--role", "approver", *common])
    assert first.exit_code == 0 and "held" in first.output
    twice = run(approve, [rid, "--operator", "ann", "--role", "approver", *common])
    assert twice.exit_code != 0 and "E_ALREADY_APPROVED" in twice.output
    second = run(approve, [rid, "--operator", "bob", "--role", "approver", *common])
    assert second.exit_code == 0 and "accepted" in second.output
    unknown = run(approve, ["rq-nope", "--operator", "bob", "--role", "approver", *common])
    assert unknown.exit_code != 0 and "E_UNKNOWN_REQUEST" in unknown.output
