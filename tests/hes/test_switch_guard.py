"""The HES's own guard on remote switching (issue #15 §1 "commands authenticated end to
end", "the same caps apply to commands the HES receives from anywhere", emergency stop):
unsigned, altered, expired and replayed commands are refused and journaled as FAILED with a
reason; the fleet-wide cap refuses what operators did not approve; a halt refuses all."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tests.hes.hes_world import START_S, World, make_world

from openami.bus.messages import TOPIC_COMMANDS, CommandKind, CommandState
from openami.hes.command_port import HesCommandPort
from openami.hes.switch_guard import FleetCap, SwitchGuard
from openami.storage.repositories import open_database
from openami.storage.repositories.command_signing import CommandSigner, SignedCommand
from openami.storage.repositories.hes_guard import HesGuardStore
from openami.storage.repositories.switching import SwitchingStore

SIGNER = CommandSigner(bytes(range(32)))


@pytest.fixture
def guarded(tmp_path: Path) -> tuple[World, SwitchGuard, SwitchingStore]:
    world = make_world(40)
    database = open_database(tmp_path / "hes.sqlite")
    guard = SwitchGuard(HesGuardStore(database), SIGNER.verifier(), 40, FleetCap(3600.0, 4, 0.5, 1))
    world.hes.guard = guard
    return world, guard, SwitchingStore(database)


def signed(
    kind: CommandKind, meter: int, request: str, approvals: tuple[str, ...] = ()
) -> SignedCommand:
    return SIGNER.sign(
        SignedCommand(int(kind), meter, 0, START_S, request, approvals, START_S + 3600)
    )


def refused_outcomes(world: World) -> dict[int, int]:
    table = world.table(TOPIC_COMMANDS)
    if table.num_rows == 0:
        return {}
    return dict(
        zip(
            table.column("correlation_id").to_pylist(),
            table.column("state").to_pylist(),
            strict=True,
        )
    )


def test_unsigned_altered_expired_and_replayed_commands_are_refused(guarded) -> None:  # type: ignore[no-untyped-def]
    world, guard, _ = guarded
    port = HesCommandPort(world.hes)
    now = START_S + 60
    ok = port.submit(
        CommandKind.DISCONNECT,
        1,
        now,
        reference="rq-1",
        authorisation=signed(CommandKind.DISCONNECT, 1, "rq-1"),
    )
    assert ok is not None and port.refusal(ok) is None
    cases = {
        "unsigned": port.submit(CommandKind.DISCONNECT, 2, now),
        # signed for meter 3, sent to meter 4
        "altered": port.submit(
            CommandKind.DISCONNECT, 4, now, authorisation=signed(CommandKind.DISCONNECT, 3, "rq-2")
        ),
        "expired": port.submit(
            CommandKind.DISCONNECT,
            5,
            START_S + 7200,
            authorisation=signed(CommandKind.DISCONNECT, 5, "rq-3"),
        ),
    }
    tampered = replace(signed(CommandKind.RECONNECT, 6, "rq-4"), kind=int(CommandKind.DISCONNECT))
    cases["altered "] = port.submit(CommandKind.DISCONNECT, 6, now, authorisation=tampered)
    for reason, corr in cases.items():
        assert corr is not None and port.refusal(corr) == reason.strip(), reason
    # nothing refused is ever queued or reaches a meter
    assert set(world.hes.commands.corr.tolist()) == {ok}
    world.run_until(START_S + 1800)
    states = refused_outcomes(world)
    assert states[ok] == CommandState.CONFIRMED
    for corr in cases.values():
        assert states[corr] == CommandState.FAILED  # journaled and published as FAILED
    assert world.fleet.switch_connected[[1, 3, 4, 5]].all()  # meters 2, 4, 5, 6
    assert not world.fleet.switch_connected[0]
    # the same request again after completion: a replay, refused
    again = port.submit(
        CommandKind.DISCONNECT,
        1,
        START_S + 1900,
        reference="rq-1",
        authorisation=signed(CommandKind.DISCONNECT, 1, "rq-1"),
    )
    assert again is not None and again != ok and port.refusal(again) == "replay"
    # the signature replayed straight at the head-end (not through the port) too
    direct = world.hes.submit(
        CommandKind.RECONNECT,
        [0],
        START_S + 1900,
        authorisations=[signed(CommandKind.RECONNECT, 1, "rq-1")],
    )
    assert guard.refusal(int(direct[0])) == "replay"
    assert world.hes.journal.command_outcomes([again]).column("state").to_pylist() == [
        CommandState.FAILED
    ]


def test_fleet_cap_refuses_unapproved_commands_from_anywhere(guarded) -> None:  # type: ignore[no-untyped-def]
    world, guard, store = guarded
    now = START_S + 60
    positions = np.arange(10, 20)
    auths = [signed(CommandKind.DISCONNECT, int(p) + 1, f"rq-c{p}") for p in positions]
    corr = world.hes.submit(CommandKind.DISCONNECT, positions, now, authorisations=auths)
    reasons = [guard.refusal(int(c)) for c in corr]
    assert reasons[:4] == [None] * 4 and set(reasons[4:]) == {"fleet_cap"}
    assert store.alerts_total() == 1  # the cap hit is an alert
    # approved by operators (the approvals are signed): admitted over the cap
    approved = signed(CommandKind.DISCONNECT, 21, "rq-approved", ("ann", "bob"))
    more = world.hes.submit(CommandKind.DISCONNECT, [20], now, authorisations=[approved])
    assert guard.refusal(int(more[0])) is None


def test_halt_refuses_every_remote_operation(guarded) -> None:  # type: ignore[no-untyped-def]
    world, guard, store = guarded
    store.set_halted(True, START_S, "ann")
    now = START_S + 60
    for kind, arg in (
        (CommandKind.DISCONNECT, 0),
        (CommandKind.RECONNECT, 0),
        (CommandKind.SET_AMPERAGE, 40),
    ):
        corr = world.hes.submit(
            kind, [30], now, arg, authorisations=[signed(kind, 31, f"rq-h{int(kind)}", ("a", "b"))]
        )
        assert guard.refusal(int(corr[0])) == "halted"
    assert len(world.hes.commands) == 0
    read = world.hes.read_now([30], now)  # reads are not switching: still served
    assert guard.refusal(int(read[0])) is None and len(world.hes.commands) == 1
    store.set_halted(False, START_S + 120, "bob")
    corr = world.hes.submit(
        CommandKind.DISCONNECT,
        [30],
        now + 120,
        authorisations=[signed(CommandKind.DISCONNECT, 31, "rq-after")],
    )
    assert guard.refusal(int(corr[0])) is None
