"""`openami thirdparty`: the matrix, the type-approval register, assigning types (an
unapproved metering part refused), chooser charges and the duty check's exit code."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from click.testing import CliRunner

from openami.cli.main import cli
from openami.cli.thirdparty import command
from openami.registry import Meter, Registry
from openami.storage.repositories import open_in_data_dir


def _data_dir(tmp_path: Path) -> list[str]:
    database = open_in_data_dir(tmp_path)
    registry = Registry(database)
    registry.add_supply_points(["0300000000000000000001"])
    registry.add_meters(
        [Meter(m, "M", f"S{m}", 30, "mesh", None, date(2026, 12, 1)) for m in (1, 2, 3)]
    )
    registry.install_meters([(1, 3)], 0.0)
    database.close()
    return ["--data-dir", str(tmp_path)]


def test_register_assign_charge_and_check(tmp_path: Path) -> None:
    where = _data_dir(tmp_path)
    run = CliRunner().invoke
    matrix = run(command, ["matrix", *where, "--json"])
    assert matrix.exit_code == 0, matrix.output
    assert json.loads(matrix.output)["responsibilities"]["ii"]["installation"] == "utility"
    refused = run(
        command,
        [
            "assign",
            "1",
            "ii",
            "--owner",
            "TP1",
            "--maker",
            "Acme",
            "--model",
            "X",
            "--on",
            "2026-11-02",
            *where,
        ],
    )
    assert refused.exit_code != 0 and "E_UNAPPROVED_TYPE" in refused.output
    approved = run(
        command,
        [
            "approve",
            "--id",
            "TA-1",
            "--maker",
            "Acme",
            "--model",
            "X",
            "--from",
            "2026-01-01",
            *where,
        ],
    )
    assert approved.exit_code == 0, approved.output
    listed = json.loads(run(command, ["approvals", "--json", *where]).output)
    assert [a["approval_id"] for a in listed] == ["TA-1"]
    ok = run(
        command,
        [
            "assign",
            "1",
            "ii",
            "--owner",
            "TP1",
            "--maker",
            "Acme",
            "--model",
            "X",
            "--on",
            "2026-11-02",
            *where,
        ],
    )
    assert ok.exit_code == 0, ok.output
    chosen = run(
        command,
        [
            "assign",
            "2",
            "iii",
            "--owner",
            "R1",
            "--model",
            "premium",
            "--price-yen",
            "15000",
            "--standard-price-yen",
            "12000",
            "--on",
            "2026-11-02",
            *where,
        ],
    )
    assert chosen.exit_code == 0, chosen.output
    charges = run(command, ["charges", "--on", "2026-11-02", *where])
    assert [json.loads(line)["extra_cost_yen"] for line in charges.output.splitlines()] == [3000]
    bad = run(command, ["assign", "2", "iii", "--owner", "R1", *where])
    assert bad.exit_code != 0 and "needs --model" in bad.output
    # meter 3: a type (i) meter past its certification expiry, still installed
    assert (
        run(command, ["assign", "3", "i", "--owner", "MO1", "--on", "2026-01-01", *where]).exit_code
        == 0
    )
    # through the top-level command, whose logs go to stderr: stdout is the JSON alone
    check = run(cli, ["thirdparty", "check", "--on", "2026-12-02", "--json", *where])
    assert check.exit_code == 1
    assert [a["code"] for a in json.loads(check.stdout)] == ["E_EXPIRED_NOT_REPLACED"]
    early = run(command, ["check", "--on", "2026-10-01", "--horizon-days", "30", *where])
    assert early.exit_code == 0, early.output
