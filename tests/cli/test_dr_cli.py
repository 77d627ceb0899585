"""`openami dr …` on a data directory: the CA and VTN certificate, VEN enrolment with its
certificate (private key 0600, fingerprint stored), events, refusals that change nothing,
revocation, results, and the audit entries."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta
from pathlib import Path

import click
from click.testing import CliRunner, Result
from tests.mdms.vee_world import make_data_dir

from openami.cli.dr import command
from openami.clock import JST
from openami.dr.pki import Issued
from openami.storage.repositories import open_in_data_dir
from openami.storage.repositories.audit import AuditLog
from openami.storage.repositories.dr import DrStore


def _run(data_dir: Path, *args: str) -> Result:
    group = click.Group()
    group.add_command(command, name="dr")  # as cli/main.py registers it
    return CliRunner().invoke(
        group, ["dr", *args, "--data-dir", str(data_dir)], env={"COLUMNS": "200"}
    )


def _start(hours: int) -> str:
    now = datetime.now(JST).replace(minute=0, second=0, microsecond=0)
    start = now + timedelta(hours=hours)
    if start.hour >= 21:  # keep the 60-minute event inside one JST day
        start += timedelta(hours=6)
    return start.isoformat()


def test_enrol_create_refuse_revoke(tmp_path: Path) -> None:
    ids = make_data_dir(tmp_path, 2)
    done = _run(tmp_path, "init")
    assert done.exit_code == 0, done.output
    assert "VTN fingerprint" in done.output
    assert _run(tmp_path, "init").exit_code != 0  # never overwrites a CA
    certs = tmp_path / "dr-certs"
    added = _run(tmp_path, "ven", "add", "home-1", "--aggregator", "AGG1", "--supply-point", ids[0])
    assert added.exit_code == 0, added.output
    assert stat.S_IMODE((certs / "home-1.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(certs.stat().st_mode) == 0o700
    database = open_in_data_dir(tmp_path)
    store = DrStore(database)
    cert = Issued(*((certs / "home-1.pem").read_bytes(), (certs / "home-1.key").read_bytes()))
    assert store.ven("home-1").cert_fingerprint == cert.fingerprint
    # refusals: a second home-1, a bad name, a malformed supply point ID
    for args in (
        ("home-1", "--supply-point", ids[1]),
        ("../x", "--supply-point", ids[1]),
        ("home-2", "--supply-point", "12345"),
    ):
        refused = _run(tmp_path, "ven", "add", args[0], "--aggregator", "AGG1", *args[1:])
        assert refused.exit_code != 0
    assert [v.ven_name for v in store.vens_of("AGG1")] == ["home-1"]
    created = _run(
        tmp_path, "event", "create", "--aggregator", "AGG1", "--start", _start(3),
        "--minutes", "60", "--level", "2",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    (event,) = store.events()
    assert (event.signal, event.value, event.status, event.duration_s) == (
        "level",
        2,
        "pending",
        3600,
    )
    for bad in (
        ("--start", _start(3), "--minutes", "45", "--level", "1"),  # not whole half-hours
        ("--start", _start(3), "--minutes", "60", "--level", "1", "--price", "30"),
        ("--start", "2020-01-01T13:00+09:00", "--minutes", "60", "--level", "1"),  # past
        ("--start", _start(3), "--minutes", "60", "--target-w", "-5"),
    ):
        assert _run(tmp_path, "event", "create", "--aggregator", "AGG1", *bad).exit_code != 0
    other = _run(
        tmp_path, "event", "create", "--aggregator", "AGG2", "--start", _start(3),
        "--minutes", "60", "--level", "1",
    )  # fmt: skip
    assert other.exit_code != 0 and "no active VEN" in other.output
    assert len(store.events()) == 1
    listed = _run(tmp_path, "event", "list")
    assert event.event_id in listed.output
    results = _run(tmp_path, "event", "results", event.event_id)
    assert results.exit_code == 0, results.output
    assert "insufficient_days" in results.output  # a data directory without history
    assert _run(tmp_path, "event", "cancel", event.event_id, "--aggregator", "AGG2").exit_code != 0
    assert _run(tmp_path, "event", "cancel", event.event_id, "--aggregator", "AGG1").exit_code == 0
    assert store.event(event.event_id).status == "cancelled"
    assert _run(tmp_path, "ven", "revoke", "home-1").exit_code == 0
    assert _run(tmp_path, "ven", "revoke", "home-1").exit_code != 0
    assert not store.ven("home-1").active
    actions = [e.action for e in AuditLog(database).entries()]
    assert {"dr.ven_enrolled", "dr.event_created", "dr.event_cancelled", "dr.ven_revoked"} <= set(
        actions
    )
    database.close()
