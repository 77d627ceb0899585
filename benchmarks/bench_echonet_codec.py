"""ECHONET Lite codec speed: frames decoded + encoded per second, openami against pychonet.

Both codecs handle the same B-route frame mix in the same run (Get requests of 1–6 EPCs,
Get_Res with live values, E2 day histories of 194 bytes, EA/EB INF, SetC of E5, the node
profile's D5 INF). openami: ``decode_frame`` then ``Frame.encode``. pychonet:
``decodeEchonetMsg`` then ``buildEchonetMsg`` on the decoded message (pychonet always writes
SEOJ 05FF01, so its output differs for frames not sent by a controller; the work is the same).
Also reported: requests answered per second by the full MeterResponder (meter values read
from the simulated fleet).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from pychonet.lib.functions import buildEchonetMsg, decodeEchonetMsg

from openami.broute.responder import MeterResponder
from openami.clock import ManualClock, slot_index
from openami.meter import MeterFleet, MeterView
from openami.protocols.echonet import Esv, Frame, Property, decode_frame
from openami.protocols.echonet import smart_meter as sm

CONTROLLER = 0x05FF01
METER = 0x028801


def frame_mix() -> list[bytes]:
    """Twelve frames typical of a B-route session."""

    def get(tid: int, *epcs: int) -> Frame:
        return Frame(tid, CONTROLLER, METER, Esv.GET, tuple(Property(e) for e in epcs))

    history = sm.DayHistory(1, tuple(range(270_000, 270_048))).encode()
    ea = sm.FixedTimeValue(datetime(2026, 11, 12, 3, 30), 270_657).encode()
    frames = [
        Frame(
            1, CONTROLLER, 0x0EF001, Esv.GET, tuple(Property(e) for e in (0x8A, 0x8C, 0x83, 0xD6))
        ),
        get(2, 0xE7),
        get(3, 0xE7, 0xE8, 0xE0, 0xE3, 0xE1, 0xD3),
        Frame(4, METER, CONTROLLER, Esv.GET_RES, (Property(0xE7, sm.encode_power_w(-812)),)),
        Frame(
            5,
            METER,
            CONTROLLER,
            Esv.GET_RES,
            (
                Property(0xE7, sm.encode_power_w(1520)),
                Property(0xE8, sm.encode_currents(8.4, 6.9)),
                Property(0xE0, sm.encode_u32(270_657)),
            ),
        ),
        Frame(6, CONTROLLER, METER, Esv.SETC, (Property(0xE5, b"\x01"),)),
        get(7, 0xE2),
        Frame(8, METER, CONTROLLER, Esv.GET_RES, (Property(0xE2, history),)),
        Frame(9, METER, CONTROLLER, Esv.INF, (Property(0xEA, ea), Property(0xEB, ea))),
        Frame(0, 0x0EF001, 0x0EF001, Esv.INF, (Property(0xD5, bytes.fromhex("01028801")),)),
        get(10, 0x9D, 0x9E, 0x9F),
        Frame(11, METER, CONTROLLER, Esv.SET_RES, (Property(0xE5),)),
    ]
    return [f.encode() for f in frames]


def openami_round_trip(raw: bytes) -> bytes:
    return decode_frame(raw).encode()


def pychonet_round_trip(raw: bytes) -> bytes:
    msg = decodeEchonetMsg(raw)
    opc: list[dict[str, Any]] = []
    for prop in msg["OPC"]:
        entry: dict[str, Any] = {"EPC": prop["EPC"], "PDC": prop["PDC"]}
        if prop["PDC"]:
            entry["EDT"] = int.from_bytes(prop["EDT"], "big")
        opc.append(entry)
    data = {
        "TID": msg["TID"],
        "DEOJGC": msg["DEOJGC"],
        "DEOJCC": msg["DEOJCC"],
        "DEOJCI": msg["DEOJCI"],
        "ESV": msg["ESV"],
        "OPC": opc,
    }
    return bytes(buildEchonetMsg(data))


def _timed(fn: Callable[[bytes], object], frames: list[bytes], rounds: int) -> float:
    t0 = time.perf_counter()
    for _ in range(rounds):
        for raw in frames:
            fn(raw)
    return time.perf_counter() - t0


def rate(fn: Callable[[bytes], object], frames: list[bytes], rounds: int) -> float:
    """Frames per second over ``rounds`` passes of the mix (best of three)."""
    best = min(_timed(fn, frames, rounds) for _ in range(3))
    return rounds * len(frames) / best


def rates_interleaved(
    fns: list[Callable[[bytes], object]], frames: list[bytes], rounds: int, repeats: int = 5
) -> list[float]:
    """Best frames/s of each codec, timed alternately so machine load hits both alike."""
    best = [float("inf")] * len(fns)
    chunk = max(1, rounds // repeats)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            best[i] = min(best[i], _timed(fn, frames, chunk))
    return [chunk * len(frames) / b for b in best]


def responder_rate(rounds: int) -> float:
    start = datetime(2026, 11, 1, 15, tzinfo=UTC)
    clock = ManualClock(start + timedelta(days=3, minutes=7))
    fleet = MeterFleet(np.array([1]), slot_index(start), seed=1, pv_share=1.0)
    responder = MeterResponder(MeterView(fleet, 0, clock), clock)
    requests = [raw for raw in frame_mix() if decode_frame(raw).esv in (Esv.GET, Esv.SETC)]
    return rate(responder.respond, requests, max(1, rounds // 10))


def run(rounds: int) -> dict[str, float]:
    frames = frame_mix()
    for raw in frames:  # both codecs must accept every frame before timing starts
        assert openami_round_trip(raw) == raw
        pychonet_round_trip(raw)
    ours, theirs = rates_interleaved([openami_round_trip, pychonet_round_trip], frames, rounds)
    return {
        "frames_per_round": len(frames),
        "rounds": rounds,
        "openami_frames_per_s": ours,
        "pychonet_frames_per_s": theirs,
        "ratio_openami_to_pychonet": ours / theirs,
        "responder_requests_per_s": responder_rate(rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20_000, help="passes over the frame mix")
    parser.add_argument("--small", action="store_true", help="2,000 rounds (make bench)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = run(2_000 if args.small else args.rounds)
    if args.json:
        print(json.dumps(result))
        return
    print(f"ECHONET Lite codec, {result['frames_per_round']} frames × {result['rounds']} rounds")
    print(f"{'codec':<34}{'frames/s (decode+encode)':>26}")
    print(f"{'openami.protocols.echonet':<34}{result['openami_frames_per_s']:>26,.0f}")
    print(f"{'pychonet 2.8 (decode+build)':<34}{result['pychonet_frames_per_s']:>26,.0f}")
    print(f"{'ratio openami / pychonet':<34}{result['ratio_openami_to_pychonet']:>26.2f}")
    print(f"{'MeterResponder requests/s':<34}{result['responder_requests_per_s']:>26,.0f}")


if __name__ == "__main__":
    main()
