"""SET_BROUTE_CREDENTIALS through the HES queue: written and confirmed by read-back (ID and
password proof), a version the source no longer knows fails, version 0 clears; the pairs
come back to the meter models after a restart."""

from __future__ import annotations

import numpy as np
from tests.hes.hes_world import START_S, make_world

from openami.bus.messages import CommandKind, CommandState
from openami.hes import broute_provisioning
from openami.meter import MeterFleet
from openami.meter.broute_credentials import BrouteCredentials, password_proof
from openami.network import MethodParams

PERFECT = MethodParams(attempt_success=1.0, median_delay_s=20.0, delay_sigma=0.2)
PAIRS = {
    (1, 1): BrouteCredentials("0123456789ABCDEF0123456789ABCDEF", "K7Q2M9X4B1Z8"),
    (2, 1): BrouteCredentials("FEDCBA9876543210FEDCBA9876543210", "A1B2C3D4E5F6"),
}


def test_write_confirm_fail_and_clear() -> None:
    w = make_world(4, PERFECT)
    asked: list[tuple[int, int]] = []

    def source(meter_id: int, version: int) -> BrouteCredentials | None:
        asked.append((meter_id, version))
        return PAIRS.get((meter_id, version))

    w.hes.commands.credential_source = source
    t = START_S + 60
    ok = w.hes.submit(CommandKind.SET_BROUTE_CREDENTIALS, [0, 1], t, 1)
    stale = w.hes.submit(CommandKind.SET_BROUTE_CREDENTIALS, [2], t, 7)  # superseded version
    w.run_until(START_S + 1800, tick_s=60)
    clear = w.hes.submit(CommandKind.SET_BROUTE_CREDENTIALS, [1], START_S + 1800, 0)
    w.run_until(START_S + 3600, tick_s=60)
    out = w.table("hes.commands")
    corr, states = out.column("correlation_id").to_pylist(), out.column("state").to_pylist()
    state = dict(zip(corr, states, strict=True))
    assert [state[int(c)] for c in ok] == [CommandState.CONFIRMED] * 2
    assert state[int(stale[0])] == CommandState.FAILED
    assert state[int(clear[0])] == CommandState.CONFIRMED
    held = w.fleet.broute.of(0)
    assert held == PAIRS[(1, 1)] and w.fleet.broute.of(1) is None and w.fleet.broute.of(2) is None
    # the read-back proves the password without it: a proof over a challenge
    challenge = b"c" * 16
    assert w.fleet.broute.proof(0, challenge) == password_proof("K7Q2M9X4B1Z8", challenge)
    assert w.fleet.broute.proof(0, challenge) != password_proof("K7Q2M9X4B1Z9", challenge)
    assert (3, 7) in asked and all(v != 0 for _, v in asked)  # clearing asks for nothing


def test_pairs_come_back_after_a_restart() -> None:
    fleet = MeterFleet(np.array([11, 12, 13]), 0, seed=1)
    held = {12: PAIRS[(1, 1)], 99: PAIRS[(2, 1)]}  # 99 is not in this fleet
    assert broute_provisioning.restore(fleet, held) == 1
    assert fleet.broute.of(1) == PAIRS[(1, 1)] and len(fleet.broute) == 1
    assert "K7Q2" not in repr(fleet.broute.of(1))
