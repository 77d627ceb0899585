"""Retailer requests across processes: `openami serve hub` (the hub without a head-end) →
``hes.command_requests`` on NATS JetStream → `openami serve hes` → an emulated DLMS meter
(`openami dlms serve`), read back → the outcome on ``hes.commands`` → the request concluded.

An ampere change is filed over the hub's HTTP API (effective today: no notice); a
disconnect is filed three days ahead of its effective date (the notice the switching rules
ask), by the same request service on the same store, and becomes due today. Both are
signed by the hub and admitted by the HES's switching guard; each request completes only
from its command's read-back (the limiter threshold, the disconnector's control state).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from tests.cluster.field import (
    OPENAMI,
    SharedClock,
    field_dir,
    free_port,
    provision,
    start_field,
    start_hes,
    wait_listening,
)

from openami.bus.inprocess import InProcessBus
from openami.bus.jetstream import JetStreamConfig
from openami.bus.messages import CommandState
from openami.cli.dlms import command as dlms
from openami.cli.dlms_field import FIELD_CREDENTIALS
from openami.clock import JST, ManualClock
from openami.hub.bus_commands import BusCommandPort
from openami.hub.context import HubContext
from openami.hub.requests import RequestService
from openami.mdms import Mdms
from openami.registry import Registry, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_in_data_dir
from openami.storage.repositories.bus_commands import BusCommandStore
from openami.storage.repositories.clients import ApiClient, ClientStore
from openami.storage.repositories.command_signing import load_signing_key

METERS = 12
CLIENT = "retailer-r001"


def start_hub(
    data: Path, js: JetStreamConfig, port: int, clock: SharedClock, log: Path
) -> subprocess.Popen[bytes]:
    args = ["serve", "hub", "--data-dir", str(data), "--bus", js.url, "--bus-prefix", js.prefix]
    args += ["--port", str(port), "--step", "0.5", "--operator-password", "op-pass-cluster"]
    return subprocess.Popen(
        [*OPENAMI, *args, *clock.args()], stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def wait_http(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/", timeout=1)
            return
        except httpx.HTTPError:
            if process.poll() is not None:
                raise RuntimeError(f"the hub stopped: {log.read_text()}") from None
            time.sleep(0.3)
    raise RuntimeError("the hub did not answer within 90 s")


def retailer_supplies_the_field(data: Path, field_port: int) -> str:
    """Retailer R001 supplies every supply point of the field (``register-field
    --retailer``); the secret of its API client ``retailer-r001``."""
    args = ["register-field", "--meters", str(METERS), "--port", str(field_port)]
    args += ["--retailer", "R001", "--data-dir", str(data)]
    result = CliRunner().invoke(dlms, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (data / FIELD_CREDENTIALS).stat().st_mode & 0o077 == 0  # owner-only
    clients = json.loads((data / FIELD_CREDENTIALS).read_text())["clients"]
    assert [c["client_id"] for c in clients] == [CLIENT]
    return str(clients[0]["client_secret"])


def file_disconnect_ahead(data: Path, meter: int) -> str:
    """A disconnect filed three days before today, effective today (the notice given)."""
    database = open_in_data_dir(data)
    registry = Registry(database)
    filed = ManualClock(datetime.now(JST) - timedelta(days=3))
    context = HubContext(
        registry,
        Mdms(DuckIntervalStore(), registry, filed),
        ClientStore(database),
        filed,
        "operator",
        "",
        command_port=BusCommandPort(database, InProcessBus()),  # the state of switches only
    )
    client = ApiClient(CLIENT, "retailer", "R001")
    today = datetime.now(JST).date()
    row = RequestService(context).submit(
        client, "disconnect", make_supply_point_id("03", meter), today
    )
    assert row.status == "accepted", row
    database.close()
    return row.request_id


def concluded(http: httpx.Client, headers: dict[str, str], request_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body: dict[str, object] = http.get(
            f"/v1/retailer-requests/{request_id}", headers=headers
        ).json()
        if body["status"] in ("completed", "failed", "rejected"):
            return body
        time.sleep(0.5)
    raise AssertionError(f"request {request_id} not concluded: {body}")


@pytest.mark.cluster
def test_retailer_requests_reach_dlms_meters_through_the_hes_service(
    js_config: JetStreamConfig, tmp_path: Path
) -> None:
    data, field_port, web_port = tmp_path / "data", free_port(), free_port()
    provision(data, METERS, field_port)
    secret = retailer_supplies_the_field(data, field_port)
    load_signing_key(data)  # made once, before the hub (signs) and the HES (verifies) start
    clock = SharedClock(1.0, time.time(), time.time())  # the wall clock, shared
    logs = {name: tmp_path / f"{name}.log" for name in ("field", "hes", "hub")}
    meters_dir = field_dir(data)
    field = start_field(meters_dir, METERS, field_port, clock, logs["field"])
    hes = hub = None
    base = f"http://127.0.0.1:{web_port}"
    try:
        wait_listening(field_port, field, logs["field"])
        hes = start_hes(data, js_config.url, js_config.prefix, clock, logs["hes"])
        hub = start_hub(data, js_config, web_port, clock, logs["hub"])
        wait_http(base, hub, logs["hub"])
        with httpx.Client(base_url=base, timeout=30) as http:
            token = http.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=(CLIENT, secret)
            )
            assert token.status_code == 200, token.text
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            today = datetime.now(JST).date().isoformat()
            filed = http.post(
                "/v1/retailer-requests",
                headers=headers,
                json={
                    "kind": "ampere_change",
                    "supply_point_id": make_supply_point_id("03", 3),
                    "effective_date": today,
                    "amperage_a": 40,
                },
            )
            assert filed.status_code == 201, filed.text
            ampere = concluded(http, headers, filed.json()["request_id"])
            disconnect = concluded(http, headers, file_disconnect_ahead(data, 1))
        tail = "\n".join(logs[n].read_text()[-2000:] for n in ("hub", "hes"))
        assert ampere["status"] == "completed", (ampere, tail)
        assert disconnect["status"] == "completed", (disconnect, tail)
        database = open_in_data_dir(data)
        commands = BusCommandStore(database)
        corr = [int(str(r["command_id"])) for r in (ampere, disconnect)]
        states = commands.outcomes(corr).column("state").to_pylist()
        assert states == [int(CommandState.CONFIRMED)] * 2
        port = BusCommandPort(database, InProcessBus())
        assert port.switch_connected(1) is False  # the meter's control state, read back
        assert port.contract_amperage_a(3) == 40  # its limiter threshold, read back
        sp3 = Registry(database).supply_point(make_supply_point_id("03", 3))
        assert sp3 is not None
        assert Registry(database).current_amperages([sp3.supply_point_key]) == {
            sp3.supply_point_key: 40
        }
        database.close()
    finally:
        started = [p for p in (hub, hes) if p is not None]
        for process in started:
            if process.poll() is None:
                process.terminate()
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        field.terminate()
        field.wait(timeout=30)
        shutil.rmtree(meters_dir, ignore_errors=True)
