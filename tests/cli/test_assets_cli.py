"""`openami assets …` on a data directory: the catalogue, lots, meters through their
lifecycle, certification, the expiry list and forecast, and work orders to completion;
bad input (unknown model, refused steps, out-of-order work-order steps) is a clear error
that changes nothing."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import click
from click.testing import CliRunner, Result
from tests.mdms.vee_world import make_data_dir

from openami.cli.assets import command
from openami.clock import JST
from openami.registry import Registry
from openami.registry.assets import Assets
from openami.storage.repositories import open_in_data_dir


def _run(data_dir: Path, *args: str) -> Result:
    group = click.Group()
    group.add_command(command, name="assets")  # as cli/main.py registers it
    args_all = ["assets", *args, "--data-dir", str(data_dir)]
    return CliRunner().invoke(group, args_all, env={"COLUMNS": "200"})


def _model(data_dir: Path) -> None:
    done = _run(
        data_dir, "models", "add", "M60", "--maker", "Osaki", "--model", "SM-60",
        "--rated-current", "60", "--comm-units", "mesh,plc", "--spec", "KEPCO 2015",
    )  # fmt: skip
    assert done.exit_code == 0, done.output


def test_catalogue_lifecycle_and_certification(tmp_path: Path) -> None:
    ids = make_data_dir(tmp_path, 2)
    _model(tmp_path)
    assert "Osaki" in _run(tmp_path, "models", "list").output
    bad = _run(
        tmp_path,
        *[
            "models",
            "add",
            "X",
            "--maker",
            "m",
            "--model",
            "x",
            "--rated-current",
            "40",
            "--spec",
            "s",
        ],
    )
    assert bad.exit_code == 2 and "40" in bad.output
    lot = _run(
        tmp_path,
        *[
            "lots",
            "add",
            "L1",
            "--model",
            "M60",
            "--supplier",
            "Osaki",
            "--ordered-on",
            "2026-04-01",
            "--quantity",
            "2",
        ],
    )
    assert lot.exit_code == 0, lot.output
    unknown = _run(
        tmp_path,
        *["meters", "receive", "--model", "NOPE", "--meter", "5001:A", "--day", "2026-05-01"],
    )
    assert unknown.exit_code == 1 and "E_UNKNOWN_MODEL" in unknown.output
    got = _run(
        tmp_path,
        *[
            "meters",
            "receive",
            "--model",
            "M60",
            "--lot",
            "L1",
            "--meter",
            "5001:A",
            "--meter",
            "1000:N0",
            "--day",
            "2026-05-01",
        ],
    )
    assert got.exit_code == 0, got.output
    refused = _run(tmp_path, "meters", "move", "5001", "installed", "--day", "2026-05-02")
    assert refused.exit_code == 1 and "E_NOT_CERTIFIED" in refused.output
    cert = _run(tmp_path, "certify", "5001", "--certificate", "JEMIC-1", "--on", "2026-04-15")
    assert cert.exit_code == 0 and "expires 2036-04-30" in cert.output
    moved = _run(tmp_path, "meters", "move", "5001", "installed", "--day", "2026-05-02")
    assert moved.exit_code == 0, moved.output
    again = _run(tmp_path, "meters", "move", "5001", "in_stock", "--day", "2026-05-03")
    assert again.exit_code == 1 and "E_BAD_TRANSITION" in again.output
    history = _run(tmp_path, "meters", "history", "5001").output
    assert "in_stock" in history and "installed" in history and "JEMIC-1" in history
    assert "installed" in _run(tmp_path, "meters", "list", "--state", "installed").output
    # meter 1000 is installed at the first supply point: its certification reaches the list
    _run(tmp_path, "certify", "1000", "--certificate", "JEMIC-2", "--on", "2016-11-20")
    listed = _run(tmp_path, "expiring", "--until", "2027-01-01")
    assert ids[0] in listed.output and "2026-11-30" in listed.output
    forecast = _run(tmp_path, "expiring", "--forecast").output
    assert "2026" in forecast and "03" in forecast
    ordered = _run(tmp_path, "work-orders", "order-expiring", "--until", "2027-01-01")
    assert ordered.exit_code == 0 and "1 exchange orders" in ordered.output, ordered.output
    assert ids[0] in _run(tmp_path, "work-orders", "list", "--state", "requested").output


def test_work_orders_to_completion(tmp_path: Path) -> None:
    ids = make_data_dir(tmp_path, 1)
    _model(tmp_path)
    _run(
        tmp_path,
        *["meters", "receive", "--model", "M60", "--meter", "7001:B", "--day", "2026-01-01"],
    )
    _run(tmp_path, "certify", "7001", "--certificate", "C-7001", "--on", "2026-01-01")
    made = _run(tmp_path, "work-orders", "create", "exchange", ids[0], "--note", "expiry")
    assert made.exit_code == 0 and "work order 1" in made.output, made.output
    early = _run(
        tmp_path,
        *[
            "work-orders",
            "complete",
            "1",
            "--at",
            "2026-02-01T10:00:00",
            "--new-meter",
            "7001",
            "--old-final-wh",
            "10",
            "--new-initial-wh",
            "0",
        ],
    )
    assert early.exit_code == 1 and "E_BAD_STEP" in early.output
    assert _run(tmp_path, "work-orders", "assign", "1", "crew-2").exit_code == 0
    late = _run(
        tmp_path,
        *[
            "work-orders",
            "complete",
            "1",
            "--at",
            "2026-01-01T10:00:00",
            "--new-meter",
            "7001",
            "--old-final-wh",
            "10",
            "--new-initial-wh",
            "0",
        ],
    )
    assert late.exit_code == 1 and "E_BAD_TIME" in late.output  # before the request
    listed = _run(tmp_path, "work-orders", "list")
    assert "assigned" in listed.output and "crew-2" in listed.output
    database = open_in_data_dir(tmp_path)
    try:
        assert Registry(database).current_meter(1) == 1000  # nothing changed
        assert Assets(database).meter(7001).state == "in_stock"
    finally:
        database.close()
    cancelled = _run(tmp_path, "work-orders", "cancel", "1")
    assert cancelled.exit_code == 0
    assert _run(tmp_path, "work-orders", "cancel", "1").exit_code == 1
    _run(tmp_path, "work-orders", "create", "exchange", ids[0])
    _run(tmp_path, "work-orders", "assign", "2", "crew-2")
    time.sleep(1.1)  # the completion (to the second) comes after the request
    now = datetime.now(JST).strftime("%Y-%m-%d %H:%M:%S")
    done = _run(
        tmp_path,
        "work-orders",
        "complete",
        "2",
        "--at",
        now,
        "--new-meter",
        "7001",
        "--old-final-wh",
        "10",
        "--new-initial-wh",
        "0",
    )
    assert done.exit_code == 0, done.output
    database = open_in_data_dir(tmp_path)
    try:
        assert Registry(database).current_meter(1) == 7001
        assert Assets(database).meter(7001).state == "installed"
    finally:
        database.close()


def test_fault_tickets(tmp_path: Path) -> None:
    make_data_dir(tmp_path, 1)
    database = open_in_data_dir(tmp_path)
    try:
        from openami.hub.faults import FaultTickets
        from openami.hub.work_orders import WorkOrders

        orders = WorkOrders(database, Registry(database), None, None, time.time)
        FaultTickets(orders).on_fault_status(1000, b"\x41")
    finally:
        database.close()
    listed = _run(tmp_path, "faults", "list")
    assert "self_diagnosis" in listed.output and "1000" in listed.output
    done = _run(tmp_path, "faults", "repair", "1")
    assert done.exit_code == 0 and "(repair)" in done.output, done.output
    again = _run(tmp_path, "faults", "repair", "1")
    assert again.exit_code == 1 and "E_TICKET_HANDLED" in again.output
    assert _run(tmp_path, "faults", "repair", "99").exit_code == 1


def test_registered_in_the_openami_command() -> None:
    from openami.cli.main import cli

    done = CliRunner().invoke(cli, ["assets", "--help"])
    assert done.exit_code == 0
    for sub in ("models", "lots", "meters", "certify", "expiring", "work-orders", "faults"):
        assert sub in done.output
