"""`kill -9` of `openami serve` mid-collection and mid-request, then a restart: nothing is
lost, the request completes, tokens still work and the audit chain verifies.

Real processes on real sockets, on SQLite (the data directory) and on PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.cli.serve_process import EXE, Server, free_port, server
from tests.storage.engines import empty_postgres, postgres_url

__all__ = ["postgres_url", "server"]


def _token(base: str, client: dict[str, Any]) -> str:
    response = httpx.post(
        base + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _intervals(base: str, token: str, sp: str, day: date) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{base}/v1/supply-points/{sp}/intervals",
        params={"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return [i for i in items if i["slot_start"].startswith(day.isoformat())]


def _file_request(base: str, token: str, sp: str, day: date) -> dict[str, Any]:
    for amps in (60, 40):
        response = httpx.post(
            base + "/v1/retailer-requests",
            json={
                "kind": "ampere_change",
                "supply_point_id": sp,
                "effective_date": day.isoformat(),
                "amperage_a": amps,
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        if response.status_code != 409:
            break
    assert response.status_code in (200, 201, 202), response.text
    return dict(response.json())


def _request(base: str, token: str, request_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{base}/v1/retailer-requests/{request_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _wait_for(condition: Any, timeout_s: float, what: str, every_s: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_kill_9_mid_collection_and_mid_request_loses_nothing(
    engine: str, tmp_path: Path, server: Server, request: pytest.FixtureRequest
) -> None:
    port, data_dir = free_port(), tmp_path / "data"
    lines = [
        "[openami]",
        f'data_dir = "{data_dir}"',
        f"port = {port}",
        "meters = 120",
        "days = 1",
        "speed = 300",  # one 5-minute tick per wall second
        "live_every_s = 1.0",
    ]
    db_args: list[str] = ["--data-dir", str(data_dir)]
    if engine == "postgresql":
        url = request.getfixturevalue("postgres_url")
        empty_postgres(url)
        lines.append(f'db_url = "{url}"')
        db_args = ["--db", url, "--data-dir", str(data_dir)]  # the keys stay in the data dir
    server.config.write_text("\n".join(lines) + "\n")
    base = f"http://127.0.0.1:{port}"
    server.start(base)

    creds = json.loads((data_dir / "demo-credentials.json").read_text())
    example = creds["example"]
    sp, first_day = example["supply_point_id"], date.fromisoformat(example["date"])
    client = next(c for c in creds["clients"] if c["retailer_id"] == example["retailer_id"])
    token = _token(base, client)
    day_one = _intervals(base, token, sp, first_day)
    assert len(day_one) == 48

    # a request whose command is queued at the HES when the process is killed
    filed = _file_request(base, token, sp, first_day + timedelta(days=1))
    rid = filed["request_id"]
    scheduled = _wait_for(
        lambda: (r := _request(base, token, rid))["status"] == "scheduled" and r,
        60,
        "the request to be scheduled",
    )
    token = _token(base, client)  # (the city runs 300 times faster: tokens expire in 12 s)
    day_two_before = _intervals(base, token, sp, first_day + timedelta(days=1))
    server.kill_9()  # mid-request (command queued) and mid-collection (readings in flight)

    server.start(base)
    # the token issued before the kill still works; every value stored before is still there
    assert _intervals(base, token, sp, first_day) == day_one
    done = _wait_for(
        lambda: (
            (r := _request(base, _token(base, client), rid))["status"] in ("completed", "failed")
            and r
        ),
        120,
        "the request to complete after the restart",
        every_s=0.5,
    )
    assert done["status"] == "completed", done
    assert done["command_id"] == scheduled["command_id"]
    statuses = [h["status"] for h in done["history"]]
    assert statuses.count("scheduled") == 1 and statuses[-1] == "completed"

    # the city ran on past the kill: every slot up to it has a value, measured values kept
    killed_at = datetime.fromisoformat(scheduled["updated_at"])
    day_two = first_day + timedelta(days=1)

    def caught_up() -> list[dict[str, Any]] | None:
        items = _intervals(base, _token(base, client), sp, day_two)
        slots = [datetime.fromisoformat(i["slot_start"]) for i in items]
        return items if slots and max(slots) > killed_at + timedelta(hours=2) else None

    after = _wait_for(caught_up, 120, "the city to run two hours past the kill", every_s=1.0)
    starts = [i["slot_start"] for i in after]
    assert len(starts) == len(set(starts))
    up_to_kill = [i for i in after if datetime.fromisoformat(i["slot_start"]) < killed_at]
    expected = int(
        (killed_at - datetime.fromisoformat(after[0]["slot_start"])) // timedelta(minutes=30)
    )
    assert len(up_to_kill) >= expected
    by_slot = {i["slot_start"]: i for i in after}
    for item in day_two_before:
        if item["quality"] == "measured":
            assert by_slot[item["slot_start"]]["import_wh"] == item["import_wh"]

    assert server.stop() == 0
    verify = subprocess.run(
        [str(EXE), "audit", "verify", *db_args, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert json.loads(verify.stdout)["ok"] is True
