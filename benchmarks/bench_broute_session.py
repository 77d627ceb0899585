"""B-route session through the virtual Wi-SUN module: wall time of a full HEMS session.

A momonga session (open, 6 reads, close) runs against the pty module in both SKSTACK
dialects; the same reads with openami's own HEMS client follow for comparison. momonga's
open includes its fixed 2-second buffer drain (it waits for 2 s of silence on the serial
line), which no setting shortens; ``internal_xmit_interval`` (its pause between sends) is set
to 0.05 s, since the radio is virtual. Figures are the median over the repetitions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from openami.broute.responder import MeterResponder
from openami.broute.wisun import VirtualWisunModule
from openami.clock import ManualClock, slot_index
from openami.hems import MeterClient
from openami.hems.skstack import SkstackTransport
from openami.meter import MeterFleet, MeterView
from openami.protocols.skstack import Dialect

RBID = "00112233445566778899AABBCCDDEEFF"
PASSWORD = "0123456789AB"
FLEET_START = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)


def _responder() -> MeterResponder:
    clock = ManualClock(FLEET_START + timedelta(days=10, hours=4, minutes=10))
    fleet = MeterFleet(np.array([4242]), slot_index(FLEET_START), seed=7, pv_share=1.0)
    return MeterResponder(MeterView(fleet, 0, clock), clock)


def momonga_session(path: str) -> dict[str, float]:
    from momonga import Momonga  # a test-only peer: imported here, never by openami

    t0 = time.perf_counter()
    mo = Momonga(RBID, PASSWORD, path)
    mo.internal_xmit_interval = 0.05
    mo.open()
    t1 = time.perf_counter()
    mo.get_instantaneous_power()
    mo.get_instantaneous_current()
    mo.get_measured_cumulative_energy()
    mo.get_measured_cumulative_energy(reverse=True)
    mo.get_historical_cumulative_energy_1(day=1)
    mo.get_cumulative_energy_measured_at_fixed_time()
    t2 = time.perf_counter()
    mo.close()
    t3 = time.perf_counter()
    return {"open_s": t1 - t0, "reads_s": t2 - t1, "close_s": t3 - t2, "total_s": t3 - t0}


def hems_session(path: str) -> dict[str, float]:
    t0 = time.perf_counter()
    client = MeterClient(SkstackTransport(path, RBID, PASSWORD, drain_s=0.05).open())
    client.energy_scale()
    t1 = time.perf_counter()
    client.read_live()  # E7, E8, E0, E3 in one Get
    client.read_history(1, today=FLEET_START.date())  # E5 SetC, E2 + E4 Get
    client.get([0xEA])
    t2 = time.perf_counter()
    client.close()
    t3 = time.perf_counter()
    return {"open_s": t1 - t0, "reads_s": t2 - t1, "close_s": t3 - t2, "total_s": t3 - t0}


def measure(
    session: Callable[[str], dict[str, float]], dialect: Dialect, repeat: int
) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        with VirtualWisunModule.for_responder(
            _responder(), dialect=dialect, rbid=RBID, password=PASSWORD
        ) as module:
            runs.append(session(module.path))
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="one repetition (under ~15 s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    repeat = 1 if args.small else 3
    figures: dict[str, float] = {"repeat": repeat}
    for name, session in (("momonga", momonga_session), ("hems", hems_session)):
        for dialect in Dialect:
            for key, value in measure(session, dialect, repeat).items():
                figures[f"{name}_{dialect.value}_{key}"] = round(value, 4)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"B-route session through the virtual Wi-SUN module (median of {repeat})")
    print(f"{'client':<10}{'dialect':<9}{'open s':>9}{'6 reads s':>11}{'close s':>9}{'total s':>9}")
    for name in ("momonga", "hems"):
        for dialect in Dialect:
            p = f"{name}_{dialect.value}_"
            print(
                f"{name:<10}{dialect.value:<9}{figures[p + 'open_s']:>9.3f}"
                f"{figures[p + 'reads_s']:>11.3f}{figures[p + 'close_s']:>9.3f}"
                f"{figures[p + 'total_s']:>9.3f}"
            )


if __name__ == "__main__":
    main()
