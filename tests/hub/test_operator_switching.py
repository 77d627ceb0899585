"""A retailer's disconnect of a type (i) meter, end to end: the request is accepted and
scheduled like any other, the command goes to the meter operator's endpoint (a real HTTP
subscriber on loopback, HMAC-signed, with the hub's authorisation payload) instead of the
HES, and the operator's outcome callback completes the request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.hub.test_requests import DAY1, DAY4, Rig, make_rig, post
from tests.hub.test_webhooks import Subscriber

from openami.clock import jst_day_start_s
from openami.hub.operator_commands import OperatorRoutedPort
from openami.hub.requests import request_service
from openami.hub.third_party_services import third_party_meters
from openami.hub.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from openami.storage.repositories.clients import ApiClient

OPERATOR_SECRET = "meter-operator-secret-1"
HOOK_SECRET = "meter-operator-hook-secret"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from make_rig(tmp_path)


def operator_token(rig: Rig) -> dict[str, str]:
    resp = rig.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("mo1", OPERATOR_SECRET),
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def test_a_disconnect_of_an_operator_meter_goes_to_the_operator(rig: Rig) -> None:
    pos = 3
    sp, key = rig.city.supply_point_ids[pos], rig.city.supply_point_keys[pos]
    meter = rig.registry.current_meter(key)
    assert meter is not None
    third_party_meters(rig.context).register_operator_meter(meter, "MO1", DAY1)
    rig.context.clients.register(ApiClient("mo1", "meter_operator", "MO1"), OPERATOR_SECRET)
    port = OperatorRoutedPort(rig.context.command_port, rig.context)
    rig.context.command_port = port
    request_service(rig.context).commands = port
    subscriber = Subscriber(rig.context.clock.timestamp)
    try:
        sub = rig.http.post(
            "/v1/subscriptions",
            json={"callback_url": subscriber.url, "secret": HOOK_SECRET},
            headers=operator_token(rig),
        )
        assert sub.status_code == 201, sub.text
        owner = rig.registry.retailer_on(key, DAY1)
        assert owner is not None
        resp = post(rig, owner, kind="disconnect", supply_point_id=sp, effective_date="2026-11-04")
        assert resp.status_code == 201 and resp.json()["status"] == "accepted", resp.text
        rid = resp.json()["request_id"]
        rig.sim.run_until(jst_day_start_s(DAY4) + 1800)
        got = rig.http.get(f"/v1/retailer-requests/{rid}", headers=rig.token(owner)).json()
        assert got["status"] == "scheduled", got
        assert rig.city.fleet.switch_connected[pos]  # the HES never touched the meter
        delivered = [r for r in subscriber.received if r[2] == 200]
        assert len(delivered) == 1, subscriber.received  # after one refused try
        headers, body, _, at_s = delivered[0]
        assert verify_signature(
            HOOK_SECRET, body, headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER), at_s
        )
        command = json.loads(body)
        assert command["event"] == "meter.command" and command["command"] == "disconnect"
        assert command["meter_id"] == meter
        assert command["correlation_id"] == got["command_id"]
        answer = rig.http.post(
            command["outcome_url"], json={"state": "confirmed"}, headers=operator_token(rig)
        )
        assert answer.status_code == 200, answer.text
        done = rig.http.get(f"/v1/retailer-requests/{rid}", headers=rig.token(owner)).json()
        assert done["status"] == "completed", done
        assert [h["status"] for h in done["history"]] == [
            "received",
            "accepted",
            "scheduled",
            "completed",
        ]
        assert port.switch_connected(meter) is False
    finally:
        subscriber.close()
