"""Remote open/close of type (i) meters through their meter operator: the command is queued
as a signed webhook to the operator's subscription (not the HES), the operator's outcome
callback over real HTTP publishes it on ``hes.commands`` like a read-back, a command left
unanswered times out, and other clients cannot answer it."""

from __future__ import annotations

import json
from datetime import date, datetime

import pyarrow as pa
from tests.hub.hubrig import SECRET, Rig, hub_rig
from tests.hub.test_meter_operator_api import bearer, setup

from openami.bus.inprocess import InProcessBus
from openami.bus.messages import TOPIC_COMMANDS, CommandKind, CommandState
from openami.clock import JST
from openami.hub.operator_commands import OPERATOR_COMMAND_TIMEOUT_S, OperatorRoutedPort
from openami.hub.third_party_services import third_party_tick
from openami.storage.repositories.operator_commands import CORRELATION_BASE
from openami.storage.repositories.webhooks import Subscription, WebhookStore


def subscribe(rig: Rig, client_id: str) -> str:
    sub_id = f"sub-{client_id}"
    WebhookStore(rig.database).add_subscription(
        Subscription(sub_id, client_id, "https://operator.example/cmd", SECRET * 2, 0.0)
    )
    return sub_id


def outcome(rig: Rig, client: str, corr: int, state: str) -> int:
    resp = rig.http.post(
        f"/v1/meter-operator/commands/{corr}/outcome",
        json={"state": state},
        headers=bearer(rig.http, client),
    )
    return resp.status_code


def test_a_disconnect_goes_to_the_operator_and_its_answer_to_the_bus() -> None:
    bus = InProcessBus()
    seen: list[pa.Table] = []
    bus.subscribe(TOPIC_COMMANDS, seen.append)
    with hub_rig(bus=bus) as rig:
        setup(rig)
        port = OperatorRoutedPort(None, rig.context)
        rig.context.command_port = port
        rig.clock.set(datetime(2026, 11, 2, 10, 0, tzinfo=JST))
        now = rig.clock.timestamp()
        assert (
            port.submit(CommandKind.DISCONNECT, 10, now, reference="req-1") is None
        )  # no endpoint
        sub = subscribe(rig, "mo1")
        corr = port.submit(CommandKind.DISCONNECT, 10, now, reference="req-2")
        assert corr is not None and corr >= CORRELATION_BASE
        assert port.submit(CommandKind.DISCONNECT, 10, now, reference="req-2") == corr  # idempotent
        assert port.submit(CommandKind.DISCONNECT, 12, now) is None  # the utility's meter: HES
        deliveries = WebhookStore(rig.database).deliveries(sub)
        assert len(deliveries) == 1
        body = json.loads(deliveries[0].body)
        assert body["event"] == "meter.command" and body["command"] == "disconnect"
        assert body["correlation_id"] == corr and body["meter_id"] == 10
        assert port.switch_connected(10) is None and port.outcomes([corr]).num_rows == 0
        # only its own operator answers, once
        assert outcome(rig, "mo2", corr, "confirmed") == 404
        assert outcome(rig, "r1", corr, "confirmed") == 403
        assert outcome(rig, "mo1", corr, "maybe") == 422
        assert outcome(rig, "mo1", corr, "confirmed") == 200
        assert outcome(rig, "mo1", corr, "failed") == 409
        assert port.switch_connected(10) is False
        published = pa.concat_tables(seen)
        assert published.column("correlation_id").to_pylist() == [corr]
        assert published.column("state").to_pylist() == [int(CommandState.CONFIRMED)]
        assert port.outcomes([corr]).column("state").to_pylist() == [int(CommandState.CONFIRMED)]


def test_an_unanswered_command_times_out() -> None:
    bus = InProcessBus()
    seen: list[pa.Table] = []
    bus.subscribe(TOPIC_COMMANDS, seen.append)
    with hub_rig(bus=bus) as rig:
        setup(rig)
        port = OperatorRoutedPort(None, rig.context)
        subscribe(rig, "mo1")
        rig.clock.set(datetime(2026, 11, 2, 10, 0, tzinfo=JST))
        corr = port.submit(CommandKind.RECONNECT, 10, rig.clock.timestamp(), reference="r")
        assert corr is not None
        rig.clock.advance(OPERATOR_COMMAND_TIMEOUT_S + 1)
        assert port.outcomes([corr]).column("state").to_pylist() == [int(CommandState.TIMED_OUT)]
        assert pa.concat_tables(seen).column("state").to_pylist() == [int(CommandState.TIMED_OUT)]
        assert outcome(rig, "mo1", corr, "confirmed") == 409  # too late: nothing changes
        assert port.switch_connected(10) is None
        assert port.operator_of(10, date(2026, 11, 2)) == "MO1"


def test_the_hub_worker_times_commands_out_and_checks_duties_once_a_day() -> None:
    bus = InProcessBus()
    seen: list[pa.Table] = []
    bus.subscribe(TOPIC_COMMANDS, seen.append)
    with hub_rig(bus=bus) as rig:
        setup(rig)  # meters 10 (MO1) and 11 (MO2): certifications expire on 2036-01-01
        port = OperatorRoutedPort(None, rig.context)
        rig.context.command_port = port
        subscribe(rig, "mo1")
        rig.clock.set(datetime(2035, 12, 1, 10, 0, tzinfo=JST))
        corr = port.submit(CommandKind.DISCONNECT, 10, rig.clock.timestamp(), reference="w")
        assert corr is not None
        assert third_party_tick(rig.context, rig.clock.timestamp()) == 2  # W_EXPIRY_DUE: 10, 11
        assert third_party_tick(rig.context, rig.clock.timestamp()) == 0  # once a day
        assert seen == []
        rig.clock.advance(OPERATOR_COMMAND_TIMEOUT_S)
        third_party_tick(rig.context, rig.clock.timestamp())
        assert pa.concat_tables(seen).column("state").to_pylist() == [int(CommandState.TIMED_OUT)]
