"""The HEMS client's request/response rules over a scripted transport and a manual clock:
retries with a new TID, late and stray answers dropped, notifications kept."""

from __future__ import annotations

from collections import deque

import pytest

from openami.hems.client import MeterClient, MeterTimeout
from openami.protocols.echonet import CONTROLLER_EOJ, SMART_METER_EOJ, Esv, Frame, Property
from openami.protocols.echonet.frame import decode_frame


class ManualClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


class ScriptedTransport:
    """Replies come from ``answer(request)``; waiting for nothing moves the clock on."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sent: list[Frame] = []
        self.inbox: deque[bytes] = deque()
        self.answer: dict[int, list[bytes]] = {}  # by attempt number (1-based)

    def send(self, frame: bytes) -> None:
        self.sent.append(decode_frame(frame))
        self.inbox.extend(self.answer.get(len(self.sent), []))

    def receive(self, timeout_s: float) -> bytes | None:
        if self.inbox:
            return self.inbox.popleft()
        self.clock.now_s += timeout_s  # nothing came: the whole wait passes
        return None

    def close(self) -> None:
        pass


def get_res(tid: int, seoj: int = SMART_METER_EOJ) -> bytes:
    power = Property(0xE7, (300).to_bytes(4, "big"))
    return Frame(tid, seoj, CONTROLLER_EOJ, Esv.GET_RES, (power,)).encode()


def test_timeouts_follow_the_injected_clock_and_retry_with_a_new_tid() -> None:
    clock = ManualClock()
    transport = ScriptedTransport(clock)
    client = MeterClient(transport, timeout_s=5.0, retries=3, clock=clock)
    with pytest.raises(MeterTimeout):
        client.get([0xE7])
    assert [f.tid for f in transport.sent] == [1, 2, 3]
    assert clock.now_s == pytest.approx(1015.0)  # three waits of 5 s on the clock, no sleeping


def test_late_stray_and_unasked_frames_are_dropped_or_kept() -> None:
    clock = ManualClock()
    transport = ScriptedTransport(clock)
    inf = Frame(0x7777, SMART_METER_EOJ, CONTROLLER_EOJ, Esv.INF, (Property(0xEA, bytes(11)),))
    transport.answer[2] = [
        get_res(1),  # the late answer to the first attempt: its TID no longer waits
        get_res(2, seoj=0x028802),  # from another meter object
        b"\x10\x81garbage",
        inf.encode(),  # a notification while waiting
        get_res(2),
    ]
    client = MeterClient(transport, timeout_s=5.0, retries=3, clock=clock)
    assert client.get([0xE7]) == {0xE7: (300).to_bytes(4, "big")}
    assert [f.tid for f in transport.sent] == [1, 2]
    assert list(client.notifications) == [inf]
    assert client.node.waiting == []
