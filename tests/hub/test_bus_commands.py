"""The hub's command port over the bus (``BusCommandPort``): a submission is recorded, then
published once on ``hes.command_requests`` with the hub's signed authorisation; the HES's
outcome on ``hes.commands`` is recorded before the request service sees it (only the first
outcome counts) and tells the hub the meter's switch and limiter; a command never answered
times out after its deadline and a grace, published like an outcome of the HES. The store
is a real SQLite database (its file survives the port, as after a restart)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from openami.bus.inprocess import InProcessBus
from openami.bus.messages import (
    COMMAND_SCHEMA,
    TOPIC_COMMAND_REQUESTS,
    TOPIC_COMMANDS,
    CommandKind,
    CommandState,
    decode_authorisation,
)
from openami.hub.bus_commands import BusCommandPort, OutcomeTap
from openami.storage.repositories import open_in_data_dir
from openami.storage.repositories.bus_commands import BUS_CORRELATION_BASE
from openami.storage.repositories.command_signing import SignedCommand, load_signing_key

NOW_S = 1_800_000_000.0


def outcome(corr: int, meter: int, kind: CommandKind, state: CommandState) -> pa.Table:
    row = {"correlation_id": corr, "meter_id": meter, "kind": int(kind), "priority": 0}
    row |= {"state": int(state), "attempts": 1, "issued_at": NOW_S, "completed_at": NOW_S + 9}
    row |= {"import_register_wh": 1234, "export_register_wh": 0, "clock_offset_s": 0.5}
    return pa.Table.from_pylist([row], schema=COMMAND_SCHEMA)


def test_a_signed_disconnect_is_published_once_and_its_outcome_recorded(tmp_path: Path) -> None:
    bus = InProcessBus()
    asked: list[pa.Table] = []
    bus.subscribe(TOPIC_COMMAND_REQUESTS, asked.append)
    database = open_in_data_dir(tmp_path)
    port = BusCommandPort(database, bus)
    concluded: list[pa.Table] = []
    OutcomeTap(bus, port).subscribe(TOPIC_COMMANDS, concluded.append)
    signer = load_signing_key(tmp_path)
    signed = signer.sign(
        SignedCommand(int(CommandKind.DISCONNECT), 7, 0, NOW_S, "rq-1", ("op",), NOW_S + 3600)
    )
    corr = port.submit(CommandKind.DISCONNECT, 7, NOW_S, reference="rq-1", authorisation=signed)
    assert corr is not None and corr > BUS_CORRELATION_BASE
    # the same request again (a hub restarted before recording it): same command, not resent
    assert port.submit(CommandKind.DISCONNECT, 7, NOW_S + 5, reference="rq-1") == corr
    rows = pa.concat_tables(asked).to_pylist()
    assert len(rows) == 1
    assert rows[0]["correlation_id"] == corr and rows[0]["meter_id"] == 7
    assert rows[0]["deadline_at"] == NOW_S + 3600 and rows[0]["reference"] == "rq-1"
    fields = decode_authorisation(rows[0]["authorisation"])
    assert fields is not None and SignedCommand(**fields) == signed
    assert signer.verifier().valid(SignedCommand(**fields))
    assert port.switch_connected(7) is None  # nothing confirmed yet
    assert port.outcomes([corr]).num_rows == 0

    bus.publish(TOPIC_COMMANDS, outcome(corr, 7, CommandKind.DISCONNECT, CommandState.CONFIRMED))
    bus.publish(TOPIC_COMMANDS, outcome(corr, 7, CommandKind.DISCONNECT, CommandState.FAILED))
    assert len(concluded) == 2  # the request service sees both, and concludes once
    assert port.switch_connected(7) is False
    database.close()
    again = BusCommandPort(open_in_data_dir(tmp_path), bus)  # after a restart
    kept = again.outcomes([corr, 5]).to_pylist()  # 5: not a command of this port
    assert [(r["correlation_id"], r["state"]) for r in kept] == [
        (corr, int(CommandState.CONFIRMED))
    ]
    assert kept[0]["import_register_wh"] == 1234
    assert again.switch_connected(7) is False


def test_the_limiter_setting_is_known_once_confirmed(tmp_path: Path) -> None:
    bus = InProcessBus()
    database = open_in_data_dir(tmp_path)
    port = BusCommandPort(database, bus)
    OutcomeTap(bus, port).subscribe(TOPIC_COMMANDS, lambda _batch: None)
    first = port.submit(CommandKind.SET_AMPERAGE, 3, NOW_S, 40, reference="rq-a")
    second = port.submit(CommandKind.SET_AMPERAGE, 3, NOW_S + 60, 60, reference="rq-b")
    assert first is not None and second is not None and first != second
    bus.publish(TOPIC_COMMANDS, outcome(first, 3, CommandKind.SET_AMPERAGE, CommandState.CONFIRMED))
    assert port.contract_amperage_a(3) == 40
    bus.publish(TOPIC_COMMANDS, outcome(second, 3, CommandKind.SET_AMPERAGE, CommandState.FAILED))
    assert port.contract_amperage_a(3) == 40  # a failed setting changes nothing
    assert port.contract_amperage_a(4) is None
    database.close()


def test_a_command_never_answered_times_out_after_its_deadline_and_grace(tmp_path: Path) -> None:
    bus = InProcessBus()
    database = open_in_data_dir(tmp_path)
    port = BusCommandPort(database, bus, grace_s=600.0)
    concluded: list[pa.Table] = []
    OutcomeTap(bus, port).subscribe(TOPIC_COMMANDS, concluded.append)
    corr = port.submit(CommandKind.RECONNECT, 9, NOW_S, reference="rq-9", timeout_s=100.0)
    assert corr is not None
    assert port.sweep(NOW_S + 100 + 599) == 0  # within the grace: the HES may still answer
    assert port.sweep(NOW_S + 100 + 601) == 1
    assert port.sweep(NOW_S + 100 + 700) == 0  # once
    out = pa.concat_tables(concluded).to_pylist()
    assert [(r["correlation_id"], r["state"]) for r in out] == [(corr, int(CommandState.TIMED_OUT))]
    assert port.outcomes([corr]).column("state").to_pylist() == [int(CommandState.TIMED_OUT)]
    # a late confirmation changes nothing: the request concluded as timed out
    bus.publish(TOPIC_COMMANDS, outcome(corr, 9, CommandKind.RECONNECT, CommandState.CONFIRMED))
    assert port.switch_connected(9) is None
    database.close()
