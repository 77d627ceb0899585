"""`openami ops requests`: the back office lists and shows retailer requests."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from openami.cli.main import cli
from openami.storage.repositories import open_in_data_dir
from openami.storage.repositories.requests import RequestRow, RequestStore


def _row(request_id: str, kind: str, status: str, at: float, result: str | None) -> RequestRow:
    return RequestRow(
        request_id, "client-1", "R1", kind, 7, "0312345678901234567890", "2026-11-02", None,
        status, None, None, None, at, at, None, result,
    )  # fmt: skip


def _data_dir(tmp_path: Path) -> Path:
    database = open_in_data_dir(tmp_path)
    store = RequestStore(database)
    reading = json.dumps({"import_wh": 1234567, "export_wh": 0})
    store.add_request(_row("rq-old", "on_demand_read", "received", 1.0, None))
    store.set_status("rq-old", "completed", 5.0, expect="received")
    store.set_result("rq-old", reading)
    store.add_request(_row("rq-new", "suspend", "received", 9.0, None))
    database.close()
    return tmp_path


def test_list_newest_first_and_filtered(tmp_path: Path) -> None:
    data_dir = _data_dir(tmp_path)
    run = CliRunner().invoke
    out = run(cli, ["ops", "requests", "list", "--data-dir", str(data_dir), "--json"])
    assert out.exit_code == 0, out.output
    ids = [json.loads(line)["request_id"] for line in out.output.splitlines()]
    assert ids == ["rq-new", "rq-old"]
    only = run(
        cli,
        ["ops", "requests", "list", "--status", "completed", "--json", "--data-dir", str(data_dir)],
    )
    assert [json.loads(x)["request_id"] for x in only.output.splitlines()] == ["rq-old"]
    table = run(cli, ["ops", "requests", "list", "--data-dir", str(data_dir)])
    assert table.exit_code == 0 and "rq-new" in table.output and "suspend" in table.output
    bad = run(cli, ["ops", "requests", "list", "--status", "nonsense", "--data-dir", str(data_dir)])
    assert bad.exit_code == 2 and "nonsense" in bad.output


def test_show_gives_the_result_and_the_history(tmp_path: Path) -> None:
    data_dir = _data_dir(tmp_path)
    out = CliRunner().invoke(
        cli, ["ops", "requests", "show", "rq-old", "--data-dir", str(data_dir)]
    )
    assert out.exit_code == 0, out.output
    shown = json.loads(out.output)
    assert shown["result"] == {"import_wh": 1234567, "export_wh": 0}
    assert [h["status"] for h in shown["history"]] == ["received", "completed"]
    missing = CliRunner().invoke(
        cli, ["ops", "requests", "show", "rq-none", "--data-dir", str(data_dir)]
    )
    assert missing.exit_code == 1 and "no request 'rq-none'" in missing.output


def test_no_store_is_a_clear_error(tmp_path: Path) -> None:
    out = CliRunner().invoke(cli, ["ops", "requests", "list", "--data-dir", str(tmp_path / "x")])
    assert out.exit_code == 1 and "no store in" in out.output
