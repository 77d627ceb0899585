"""The ECHONET Lite node machine: two nodes back to back in memory, timeouts on a manual
clock, and every illegal move raising the right error class."""

from __future__ import annotations

import pytest
from tests.protocols.peer_pair import PeerPair

from openami.protocols.echonet import CONTROLLER_EOJ, NODE_PROFILE_EOJ, SMART_METER_EOJ
from openami.protocols.echonet.errors import (
    EchonetError,
    LocalEchonetProtocolError,
    MalformedFrame,
    RemoteEchonetProtocolError,
)
from openami.protocols.echonet.frame import Esv, Frame, Property
from openami.protocols.echonet.node import (
    EchonetNode,
    NodeState,
    Notification,
    NotificationReceived,
    Request,
    RequestReceived,
    Response,
    ResponseReceived,
    TimedOut,
)
from openami.protocols.echonet.objects import DeviceObject
from openami.protocols.echonet.service import handle_request
from openami.protocols.peer import NEED_DATA

METER_CLASS = SMART_METER_EOJ & 0xFFFF00
SECOND_METER = SMART_METER_EOJ + 1


class Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def meter_objects() -> list[DeviceObject]:
    return [
        DeviceObject(eoj, getters={0xE7: lambda: b"\x00\x00\x01\x2c"}, setters={})
        for eoj in (SMART_METER_EOJ, SECOND_METER)
    ]


def get_e7(deoj: int = SMART_METER_EOJ) -> Request:
    return Request(CONTROLLER_EOJ, deoj, Esv.GET, (Property(0xE7),))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pair(clock: Clock) -> PeerPair:
    return PeerPair(EchonetNode(clock, timeout_s=5.0, first_tid=1), EchonetNode(clock))


def answer(pair: PeerPair, request: RequestReceived) -> list[object]:
    """The meter node answers by the service rules; the controller's events."""
    events: list[object] = []
    for reply in handle_request(request.frame, meter_objects()):
        events += pair.send(pair.server, Response(reply))
    return events


def test_get_is_answered_and_matched(pair: PeerPair) -> None:
    [received] = pair.send(pair.client, get_e7())
    assert isinstance(received, RequestReceived) and received.frame.tid == 1
    assert pair.server.state is NodeState.ANSWERING
    [response] = answer(pair, received)
    assert isinstance(response, ResponseReceived)
    assert response.request == received.frame and response.frame.esv == Esv.GET_RES
    assert response.frame.edt(0xE7) == b"\x00\x00\x01\x2c"
    assert pair.server.state is NodeState.ANSWERED and pair.client.waiting == []
    [second] = pair.send(pair.client, get_e7())
    assert second.frame.tid == 2


def test_class_wide_request_gets_one_answer_per_instance(pair: PeerPair) -> None:
    [received] = pair.send(pair.client, get_e7(METER_CLASS))
    replies = handle_request(received.frame, meter_objects())
    assert len(replies) == 2
    [first] = pair.send(pair.server, Response(replies[0]))
    assert isinstance(first, ResponseReceived)
    with pytest.raises(RemoteEchonetProtocolError, match="no request is waiting"):
        pair.send(pair.server, Response(replies[1]))  # the request was already answered


def test_timeout_on_the_injected_clock_and_a_late_answer(pair: PeerPair, clock: Clock) -> None:
    [received] = pair.send(pair.client, get_e7())
    assert pair.client.next_event() is NEED_DATA
    assert pair.client.next_deadline_s == clock.now_s + 5.0
    clock.now_s += 4.9
    assert pair.client.next_event() is NEED_DATA
    clock.now_s += 0.2
    timed_out = pair.client.next_event()
    assert timed_out == TimedOut(received.frame) and pair.client.waiting == []
    with pytest.raises(RemoteEchonetProtocolError, match="TID 0001"):
        answer(pair, received)  # too late: its TID is no longer waiting


def test_response_with_an_unknown_tid(pair: PeerPair) -> None:
    stray = Frame(0x4242, SMART_METER_EOJ, CONTROLLER_EOJ, Esv.GET_RES, (Property(0xE7, b"1"),))
    with pytest.raises(RemoteEchonetProtocolError, match="4242"):
        pair.deliver(pair.client, stray.encode())


def test_response_of_the_wrong_kind_or_from_the_wrong_object(pair: PeerPair) -> None:
    [received] = pair.send(pair.client, get_e7())
    tid = received.frame.tid
    set_res = Frame(tid, SMART_METER_EOJ, CONTROLLER_EOJ, Esv.SET_RES, (Property(0xE7),))
    with pytest.raises(RemoteEchonetProtocolError, match="does not answer"):
        pair.deliver(pair.client, set_res.encode())
    other = Frame(tid, SECOND_METER, CONTROLLER_EOJ, Esv.GET_RES, (Property(0xE7, b"1"),))
    with pytest.raises(RemoteEchonetProtocolError, match="answered a request to"):
        pair.deliver(pair.client, other.encode())
    assert [r.tid for r in pair.client.waiting] == [tid]  # still waiting for the real answer
    assert isinstance(answer(pair, received)[0], ResponseReceived)


def test_malformed_datagrams_and_notifications(pair: PeerPair) -> None:
    with pytest.raises(MalformedFrame):
        pair.deliver(pair.client, b"\x10\x81\x00")
    assert issubclass(MalformedFrame, RemoteEchonetProtocolError)
    inf = Notification(SMART_METER_EOJ, CONTROLLER_EOJ, (Property(0xEA, bytes(11)),))
    [notified] = pair.send(pair.server, inf)
    assert isinstance(notified, NotificationReceived) and notified.frame.esv == Esv.INF
    # an INF that answers our INF_REQ is its response, not a notification
    inf_req = Request(CONTROLLER_EOJ, NODE_PROFILE_EOJ, Esv.INF_REQ, (Property(0xD5),))
    [asked] = pair.send(pair.client, inf_req)
    reply = Frame(
        asked.frame.tid, NODE_PROFILE_EOJ, CONTROLLER_EOJ, Esv.INF, (Property(0xD5, b"\x01"),)
    )
    [answered] = pair.send(pair.server, Response(reply))
    assert isinstance(answered, ResponseReceived)


def test_tids_skip_requests_still_waiting(clock: Clock) -> None:
    node = EchonetNode(clock, first_tid=0xFFFF)
    node.send(get_e7())
    node.send(get_e7())
    assert [r.tid for r in node.waiting] == [0xFFFF, 0]
    node._next_tid = 0xFFFF  # wrap around onto the waiting ones
    node.send(get_e7())
    assert node.last_tid == 1


def test_answers_must_fit_the_request_received(pair: PeerPair) -> None:
    meter = pair.server
    reply = Frame(1, SMART_METER_EOJ, CONTROLLER_EOJ, Esv.GET_RES, (Property(0xE7, b"1"),))
    with pytest.raises(LocalEchonetProtocolError, match="Response in state idle"):
        meter.send(Response(reply))
    [received] = pair.send(pair.client, get_e7())
    tid = received.frame.tid
    wrong = [
        Frame(tid + 1, SMART_METER_EOJ, CONTROLLER_EOJ, Esv.GET_RES, ()),
        Frame(tid, SMART_METER_EOJ, CONTROLLER_EOJ, Esv.SET_RES, ()),
        Frame(tid, SECOND_METER, CONTROLLER_EOJ, Esv.GET_RES, ()),
        Frame(tid, SMART_METER_EOJ, NODE_PROFILE_EOJ, Esv.GET_RES, ()),
    ]
    for frame in wrong:
        with pytest.raises(LocalEchonetProtocolError):
            meter.send(Response(frame))
    assert meter.state is NodeState.ANSWERING
    good = Frame(tid, SMART_METER_EOJ, CONTROLLER_EOJ, Esv.GET_RES, (Property(0xE7, b"1"),))
    meter.send(Response(good))
    with pytest.raises(LocalEchonetProtocolError, match="already answered"):
        meter.send(Response(good))


def test_only_requests_and_notifications_can_be_sent(clock: Clock) -> None:
    node = EchonetNode(clock)
    with pytest.raises(LocalEchonetProtocolError, match="not a request"):
        node.send(Request(CONTROLLER_EOJ, SMART_METER_EOJ, Esv.GET_RES, ()))
    with pytest.raises(LocalEchonetProtocolError, match="not a notification"):
        node.send(Notification(SMART_METER_EOJ, CONTROLLER_EOJ, (), Esv.GET))
    with pytest.raises(LocalEchonetProtocolError):
        EchonetNode(clock, first_tid=0x10000)
    assert issubclass(LocalEchonetProtocolError, EchonetError)
    assert node.waiting == []
