"""`openami audit verify`: exit 0 on an intact log, 1 with the problem listed when tampered."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from openami.cli.main import cli
from openami.storage.repositories import DATA_DIR_FILE, open_in_data_dir
from openami.storage.repositories.audit import AuditLog, AuditRecord


def _make_log(data_dir: Path) -> None:
    database = open_in_data_dir(data_dir)
    AuditLog(database).append_many(
        [
            AuditRecord(float(i), "request", f"client-{i % 3}", f"GET /v1/x/{i}", "api-access")
            for i in range(10)
        ]
    )
    database.close()


def test_verify_ok_then_tampered(tmp_path: Path) -> None:
    _make_log(tmp_path)
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert ok.exit_code == 0, ok.output
    assert "audit log OK" in ok.output and "10 entries" in ok.output
    as_json = runner.invoke(cli, ["audit", "verify", "--data-dir", str(tmp_path), "--json"])
    body = json.loads(as_json.output)
    assert body["ok"] is True and body["entries"] == 10 and body["head"].startswith("10:")
    head = body["head"]

    shown = runner.invoke(cli, ["audit", "show", "--data-dir", str(tmp_path), "--last", "3"])
    assert shown.exit_code == 0 and "GET /v1/x/9" in shown.output

    before = (tmp_path / DATA_DIR_FILE).read_bytes()
    assert runner.invoke(cli, ["audit", "verify", "--data-dir", str(tmp_path)]).exit_code == 0
    assert (tmp_path / DATA_DIR_FILE).read_bytes() == before  # checking writes nothing
    with sqlite3.connect(tmp_path / DATA_DIR_FILE) as con:
        con.execute("DROP TRIGGER audit_log_no_update")
        con.execute("UPDATE audit_log SET action = 'GET /v1/x/innocent' WHERE seq = 7")
    bad = runner.invoke(cli, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 1
    assert "TAMPERED" in bad.output and "entry 7" in bad.output
    assert "audit_log_no_update is missing" in bad.output

    anchored = runner.invoke(
        cli, ["audit", "verify", "--data-dir", str(tmp_path), "--expect-head", head, "--json"]
    )
    assert anchored.exit_code == 1 and json.loads(anchored.output)["ok"] is False


def test_verify_errors_are_clear(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["audit", "verify", "--data-dir", str(tmp_path / "none")])
    assert missing.exit_code != 0 and "no audit log" in missing.output
    _make_log(tmp_path)
    bad_head = runner.invoke(
        cli, ["audit", "verify", "--data-dir", str(tmp_path), "--expect-head", "nonsense"]
    )
    assert bad_head.exit_code == 2 and "SEQ:HASH" in bad_head.output
    unreachable = runner.invoke(
        cli, ["audit", "verify", "--db", "postgresql://nobody:pw@127.0.0.1:1/none"]
    )
    assert unreachable.exit_code == 1 and "cannot open" in unreachable.output
    assert "pw@" not in unreachable.output  # no password in the message
    helptext = runner.invoke(cli, ["audit", "--help"])
    assert "hash" in helptext.output and "verify" in helptext.output


def test_checkpoint_then_a_cut_off_tail_is_caught(tmp_path: Path) -> None:
    """Issue #15 §4: removing the newest entries no longer leaves an "OK" log."""
    _make_log(tmp_path)
    runner = CliRunner()
    made = runner.invoke(cli, ["audit", "checkpoint", "--data-dir", str(tmp_path)])
    assert made.exit_code == 0, made.output
    assert "checkpoint at entry 10:" in made.output
    assert json.loads(made.output.strip().splitlines()[-1])["seq"] == 10
    ok = runner.invoke(cli, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert ok.exit_code == 0 and "newest at entry 10" in ok.output, ok.output
    with sqlite3.connect(tmp_path / DATA_DIR_FILE) as con:
        con.execute("DROP TRIGGER audit_log_no_delete")
        con.execute("DELETE FROM audit_log WHERE seq > 5")
    cut = runner.invoke(cli, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert cut.exit_code == 1 and "TAMPERED" in cut.output
    assert "checkpoint at entry 10" in cut.output and "cut off" in cut.output
    empty = tmp_path / "empty"
    open_in_data_dir(empty).close()
    nothing = runner.invoke(cli, ["audit", "checkpoint", "--data-dir", str(empty)])
    assert nothing.exit_code == 1 and "empty" in nothing.output
