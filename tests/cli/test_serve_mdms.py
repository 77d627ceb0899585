"""`openami serve mdms`: refused clearly before anything is opened when misused."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from openami.cli.main import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["serve", "mdms", *args], env={"OPENAMI_BUS_URL": None})
    return result.exit_code, result.output


def test_a_worker_name_must_be_a_plain_token(tmp_path: Path) -> None:
    code, out = run("--worker", "w1; rm -rf /", "--bus", "nats://127.0.0.1:4222")
    assert code == 2 and "Invalid value for '--worker'" in out
    assert not (tmp_path / "partitions").exists()


def test_a_worker_needs_the_bus(tmp_path: Path) -> None:
    code, out = run("--worker", "w1", "--data-dir", str(tmp_path / "d"))
    assert code == 2 and "needs the bus" in out
    assert not (tmp_path / "d").exists()  # nothing opened


def test_the_lease_step_must_leave_room_for_renewals(tmp_path: Path) -> None:
    code, out = run(
        "--worker",
        "w1",
        "--bus",
        "nats://127.0.0.1:1",
        "--data-dir",
        str(tmp_path / "d"),
        "--lease-ttl",
        "3",
        "--step",
        "2",
    )
    assert code == 2 and "third of the lease TTL" in out
