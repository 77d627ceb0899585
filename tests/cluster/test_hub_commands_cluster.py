"""The cluster's hub process (`openami serve hub`, no head-end inside) on one accelerated
clock with the DLMS field, `openami serve hes` and an MDMS worker.

Retailer requests across processes: the hub →
``hes.command_requests`` on NATS JetStream → `openami serve hes` → an emulated DLMS meter
(`openami dlms serve`), read back → the outcome on ``hes.commands`` → the request concluded.

An ampere change is filed over the hub's HTTP API (effective today: no notice); a
disconnect is filed three days ahead of its effective date (the notice the switching rules
ask), by the same request service on the same store, and becomes due today. Both are
signed by the hub and admitted by the HES's switching guard; each request completes only
from its command's read-back (the limiter threshold, the disconnector's control state).

Values: the worker publishes what it stores to the shared interval store, and the hub's
data API and dashboard serve them from there: the same values as in the worker's own store.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
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
from openami.bus.messages import CommandState, partition_of
from openami.cli.dlms import command as dlms
from openami.cli.dlms_field import FIELD_CREDENTIALS
from openami.clock import JST, ManualClock, slot_start_s
from openami.clock.slots import day_first_slot
from openami.hub.bus_commands import BusCommandPort
from openami.hub.context import HubContext
from openami.hub.requests import RequestService
from openami.mdms import Mdms
from openami.mdms.worker_partition import partition_dir
from openami.registry import Registry, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.repositories import open_in_data_dir
from openami.storage.repositories.bus_commands import BusCommandStore
from openami.storage.repositories.clients import ApiClient, ClientStore
from openami.storage.repositories.command_signing import load_signing_key

METERS = 12
CLIENT = "retailer-r001"
OPERATOR_PASSWORD = "op-pass-cluster"
SPEED = 20.0  # a slot in 90 s of wall time: the HES's first boundary comes soon
LEAD_S = 40.0  # that boundary this long from now


def start_hub(
    data: Path, js: JetStreamConfig, port: int, clock: SharedClock, log: Path, shared: Path
) -> subprocess.Popen[bytes]:
    args = ["serve", "hub", "--data-dir", str(data), "--bus", js.url, "--bus-prefix", js.prefix]
    args += ["--port", str(port), "--step", "0.5", "--operator-password", OPERATOR_PASSWORD]
    args += ["--shared-values", str(shared)]
    return subprocess.Popen(
        [*OPENAMI, *args, *clock.args()], stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def start_worker(
    data: Path, js: JetStreamConfig, stores: Path, shared: Path, log: Path
) -> subprocess.Popen[bytes]:
    """One MDMS worker holding every partition, publishing to the shared interval store."""
    env = {**os.environ, "OPENAMI_BUS_PREFIX": js.prefix, "OPENAMI_BUS_PARTITIONS": "64"}
    env["OPENAMI_SHARED_VALUES_URI"] = str(shared)
    args = ["serve", "mdms", "--worker", "w-a", "--bus", js.url]
    args += ["--db", f"sqlite:///{data / 'registry.sqlite'}", "--data-dir", str(stores)]
    args += ["--lease-ttl", "6", "--store-memory", "64MB"]
    return subprocess.Popen(
        [*OPENAMI, *args], stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env
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


def file_disconnect_ahead(data: Path, meter: int, now: datetime) -> str:
    """A disconnect filed three days before ``now``, effective that day (notice given)."""
    database = open_in_data_dir(data)
    registry = Registry(database)
    filed = ManualClock(now - timedelta(days=3))
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
    today = now.astimezone(JST).date()
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


def api_values(http: httpx.Client, headers: dict[str, str], days: list[str]) -> dict[str, int]:
    """Supply point 2's values the hub's data API serves: slot start → import Wh."""
    out = {}
    for day in days:
        resp = http.get(
            f"/v1/supply-points/{make_supply_point_id('03', 2)}/half-hour-values",
            params={"date": day},
            headers=headers,
        )
        assert resp.status_code == 200, resp.text
        for v in resp.json()["slots"]:
            if v["import_wh"] is not None and v["quality"] == "measured":
                out[v["slot_start"]] = int(v["import_wh"])
    return out


def stored_values(data: Path, stores: Path, days: list[str]) -> dict[str, int]:
    """Supply point 2's measured values in the worker's own store of its partition."""
    database = open_in_data_dir(data)
    registry = Registry(database)
    sp = registry.supply_point(make_supply_point_id("03", 2))
    assert sp is not None
    key = sp.supply_point_key
    part = int(partition_of(np.array([key]), 64)[0])
    store = DuckIntervalStore(partition_dir(stores, part) / "interval.duckdb")
    out = {}
    for day in days:
        first = day_first_slot(date.fromisoformat(day))
        mdms = Mdms(store, registry, ManualClock(datetime.now(JST)))
        for row in mdms.current_values(key, first, first + 47).to_pylist():
            if row["quality"] == "measured":
                start = datetime.fromtimestamp(slot_start_s(row["slot"]), JST).isoformat()
                out[start] = int(row["import_wh"])
    store.close()
    database.close()
    return out


def operator_page(base: str, path: str) -> httpx.Response:
    """``path`` of the dashboard, logged in through its login form as the operator."""
    with httpx.Client(base_url=base, timeout=30) as client:
        form = client.get("/login")
        found = re.search(r'id="login-form">\s*<input [^>]*value="([^"]+)"', form.text)
        assert found is not None, form.text[:300]
        done = client.post(
            "/login",
            data={"name": "operator", "password": OPERATOR_PASSWORD, "csrf_token": found[1]},
        )
        assert done.status_code == 303, done.text[:300]
        return client.get(path)


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout_s} s")
        time.sleep(1.0)


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None:
        return
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.cluster
@pytest.mark.timeout(900)
def test_retailer_requests_reach_dlms_meters_and_the_hub_serves_the_workers_values(
    js_config: JetStreamConfig, tmp_path: Path
) -> None:
    data, field_port, web_port = tmp_path / "data", free_port(), free_port()
    provision(data, METERS, field_port)
    secret = retailer_supplies_the_field(data, field_port)
    load_signing_key(data)  # made once, before the hub (signs) and the HES (verifies) start
    clock, _ = SharedClock.before_boundary(SPEED, LEAD_S)  # one accelerated clock for all
    logs = {n: tmp_path / f"{n}.log" for n in ("field", "hes", "hub", "worker")}
    shared, stores = tmp_path / "shared-values", tmp_path / "mdms"
    meters_dir = field_dir(data)
    field = start_field(meters_dir, METERS, field_port, clock, logs["field"])
    hes = hub = worker = None
    base = f"http://127.0.0.1:{web_port}"
    now = clock.clock().now().astimezone(JST)
    days = [(now.date() - timedelta(days=1)).isoformat(), now.date().isoformat()]
    try:
        wait_listening(field_port, field, logs["field"])
        worker = start_worker(data, js_config, stores, shared, logs["worker"])
        # at its first boundary the HES fetches the last 48 boundaries' reads (catch-up)
        hes = start_hes(data, js_config.url, js_config.prefix, clock, logs["hes"])
        hub = start_hub(data, js_config, web_port, clock, logs["hub"], shared)
        wait_http(base, hub, logs["hub"])
        with httpx.Client(base_url=base, timeout=30) as http:
            token = http.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=(CLIENT, secret)
            )
            assert token.status_code == 200, token.text
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            filed = http.post(
                "/v1/retailer-requests",
                headers=headers,
                json={
                    "kind": "ampere_change",
                    "supply_point_id": make_supply_point_id("03", 3),
                    "effective_date": now.date().isoformat(),
                    "amperage_a": 40,
                },
            )
            assert filed.status_code == 201, filed.text
            ampere = concluded(http, headers, filed.json()["request_id"])
            disconnect = concluded(
                http, headers, file_disconnect_ahead(data, 1, clock.clock().now())
            )
            tail = "\n".join(logs[n].read_text()[-2000:] for n in ("hub", "hes"))
            assert ampere["status"] == "completed", (ampere, tail)
            assert disconnect["status"] == "completed", (disconnect, tail)
            # the workers' values reach the hub's API through the shared interval store
            wait_until(lambda: len(api_values(http, headers, days)) >= 6, 240, "values")
            stop(worker)  # everything it stored is published before it stops
            worker = None
            time.sleep(2.0)  # the hub's reader looks for new commits every second
            served = api_values(http, headers, days)
            assert served == stored_values(data, stores, days)
        day = max(days, key=lambda d: sum(k.startswith(d) for k in served))
        page = operator_page(base, f"/supply-points/{make_supply_point_id('03', 2)}?date={day}")
        assert page.status_code == 200
        total = sum(v for k, v in served.items() if k.startswith(day))
        assert f'id="total-import">{total:,} Wh' in page.text  # the dashboard shows them
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
        for process in (hub, hes, worker):
            stop(process)
        field.terminate()
        field.wait(timeout=30)
        shutil.rmtree(meters_dir, ignore_errors=True)
