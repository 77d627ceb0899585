"""The UDP meter node with real sockets: addresses, ports, multicast, INF schedule, bad input."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from openami.broute.node import MULTICAST_V4, MeterNode
from openami.broute.responder import MeterResponder
from openami.clock import ManualClock, slot_index, slot_start
from openami.meter import MeterView
from openami.protocols.echonet import Esv, Frame, Property, decode_frame
from openami.protocols.echonet import smart_meter as sm
from openami.protocols.echonet.objects import CONTROLLER_EOJ, NODE_PROFILE_EOJ

GET_E7 = Frame(7, CONTROLLER_EOJ, sm.SMART_METER_EOJ, Esv.GET, (Property(0xE7),)).encode()


def _client(host: str, port: int = 0) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setblocking(False)
    sock.bind((host, port))
    return sock


async def _recv(sock: socket.socket, timeout_s: float = 2.0) -> tuple[Frame, Any]:
    data, addr = await asyncio.wait_for(
        asyncio.get_running_loop().sock_recvfrom(sock, 4096), timeout_s
    )
    return decode_frame(data), addr


def _run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(coro())  # type: ignore[arg-type]


def test_wildcard_bind_answers_from_the_address_asked(pv_responder: MeterResponder) -> None:
    async def scenario() -> None:
        node = MeterNode(pv_responder, ["0.0.0.0", "::"], 0, reply_to_sender_port=True)
        async with node:
            (v4_port, v6_port) = (node.bound[0][1], node.bound[1][1])
            for dest, port in (("127.0.0.2", v4_port), ("127.0.0.3", v4_port), ("::1", v6_port)):
                client = _client("::1" if ":" in dest else "127.0.0.1")
                with client:
                    client.sendto(GET_E7, (dest, port))
                    frame, addr = await _recv(client)
                assert addr[0] == dest and addr[1] == port
                assert frame.esv == Esv.GET_RES and frame.tid == 7

    _run(scenario)


def test_replies_go_to_the_nodes_own_port_by_default(pv_responder: MeterResponder) -> None:
    async def scenario() -> None:
        node = MeterNode(pv_responder, ["127.0.0.8"], 0, multicast=False)
        async with node:
            port = node.bound[0][1]
            stray = _client("127.0.0.9")  # a client on another port gets nothing back
            proper = _client("127.0.0.9", port)  # ECHONET: same port both ways
            with stray, proper:
                stray.sendto(GET_E7, ("127.0.0.8", port))
                frame, addr = await _recv(proper)
                assert addr == ("127.0.0.8", port) and frame.esv == Esv.GET_RES
                proper.sendto(GET_E7, ("127.0.0.8", port))
                frame, _ = await _recv(proper)
                assert frame.esv == Esv.GET_RES

    _run(scenario)


def test_bad_input_never_stops_the_node(pv_responder: MeterResponder) -> None:
    rng = random.Random(20261126)

    async def scenario() -> None:
        node = MeterNode(pv_responder, ["127.0.0.4"], 0, reply_to_sender_port=True, multicast=False)
        async with node:
            port = node.bound[0][1]
            with _client("127.0.0.1") as client:
                junk = [rng.randbytes(rng.randrange(0, 80)) for _ in range(300)]
                junk += [GET_E7[:cut] for cut in range(1, len(GET_E7))]  # every truncation
                junk.append(b"\x10\x81" + bytes(65_000))
                for i, datagram in enumerate(junk):
                    client.sendto(datagram, ("127.0.0.4", port))
                    if i % 20 == 0:  # let the node read: a full socket buffer would drop
                        await asyncio.sleep(0.001)
                sent = len(junk)
                client.sendto(GET_E7, ("127.0.0.4", port))
                frame, _ = await _recv(client)
                while frame.tid != 7:  # (a random datagram that happens to be a request)
                    frame, _ = await _recv(client)
                assert frame.esv == Esv.GET_RES
                assert node.stats.datagrams == sent + 1
                assert pv_responder.stats.malformed >= sent - 10  # random bytes rarely decode
                unknown = Frame(9, CONTROLLER_EOJ, sm.SMART_METER_EOJ, Esv.GET, (Property(0xF9),))
                client.sendto(unknown.encode(), ("127.0.0.4", port))
                sna, _ = await _recv(client)
                assert sna.esv == Esv.GET_SNA and sna.properties == (Property(0xF9),)

    _run(scenario)


def test_multicast_discovery_and_start_announcement(pv_responder: MeterResponder) -> None:
    async def scenario() -> None:
        # a controller that listens to the ECHONET group on the node's port
        listener = _client("127.0.0.1")
        port = listener.getsockname()[1]
        group = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        group.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        group.setblocking(False)
        group.bind((MULTICAST_V4, port))
        mreq = socket.inet_aton(MULTICAST_V4) + socket.inet_aton("127.0.0.1")
        group.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        node = MeterNode(pv_responder, ["127.0.0.6"], port, reply_to_sender_port=True)
        with listener, group:
            async with node:
                inf, addr = await _recv(group)
                assert addr[0] == "127.0.0.6"
                assert inf.esv == Esv.INF and inf.properties[0].epc == 0xD5
                assert inf.properties[0].edt == bytes.fromhex("01028801")
                search = Frame(3, NODE_PROFILE_EOJ, NODE_PROFILE_EOJ, Esv.GET, (Property(0xD6),))
                listener.setsockopt(
                    socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1")
                )
                listener.sendto(search.encode(), (MULTICAST_V4, port))
                reply, addr = await _recv(listener)
                assert addr == ("127.0.0.6", port)  # unicast answer from the node's address
                assert reply.esv == Esv.GET_RES and reply.edt(0xD6) == bytes.fromhex("01028801")

    _run(scenario)


def test_fixed_time_inf_after_each_boundary(
    pv_responder: MeterResponder, pv_view: MeterView, clock: ManualClock
) -> None:
    async def scenario() -> None:
        with _client("127.0.0.1") as hems:
            target = hems.getsockname()
            node = MeterNode(
                pv_responder,
                ["127.0.0.5"],
                0,
                multicast=False,
                announce=False,
                notify_targets=[target],
                inf_delay_s=30,
                poll_interval_s=0.01,
            )
            async with node:
                # the clock stands at :07 past a boundary: that boundary's window is running,
                # but the node started inside it and waits for the next one
                now = clock.now()
                boundary = slot_index(now) + 1
                clock.set(slot_start(boundary) + timedelta(seconds=10))
                await asyncio.sleep(0.1)
                assert node.stats.notifications_sent == 0  # not before inf_delay_s
                clock.advance(25)
                inf, addr = await _recv(hems)
                assert addr[0] == "127.0.0.5"
                assert inf.esv == Esv.INF and (inf.seoj, inf.deoj) == (0x028801, CONTROLLER_EOJ)
                ea = sm.FixedTimeValue.decode(inf.edt(0xEA) or b"")
                eb = sm.FixedTimeValue.decode(inf.edt(0xEB) or b"")
                regs = pv_view.boundary_registers(boundary)
                assert regs is not None
                assert ea.at == slot_start(boundary).replace(tzinfo=None)
                assert ea.value == pv_responder.scale.raw_from_wh(regs[0])
                assert eb.value == pv_responder.scale.raw_from_wh(regs[1])
                clock.advance(60)  # same boundary: no second INF
                await asyncio.sleep(0.1)
                assert node.stats.notifications_sent == 1
                # a clock that jumps past the 5-minute window skips that boundary
                clock.set(slot_start(boundary + 1) + timedelta(minutes=6))
                await asyncio.sleep(0.1)
                assert node.stats.notifications_sent == 1
                clock.set(slot_start(boundary + 2) + timedelta(seconds=31))
                inf2, _ = await _recv(hems)
                later = sm.FixedTimeValue.decode(inf2.edt(0xEA) or b"")
                assert later.at == slot_start(boundary + 2).replace(tzinfo=None)

    _run(scenario)


def test_ipv6_address_is_served_even_where_multicast_is_not(pv_responder: MeterResponder) -> None:
    async def scenario() -> None:
        node = MeterNode(pv_responder, ["::1"], 0, reply_to_sender_port=True)
        async with node:
            # ff02::1 cannot be joined on a loopback-only address: noted, not fatal
            assert any("multicast" in note for note in node.stats.errors)
            with _client("::1") as client:
                client.sendto(GET_E7, ("::1", node.bound[0][1]))
                frame, addr = await _recv(client)
            assert addr[:2] == ("::1", node.bound[0][1])
            assert frame.esv == Esv.GET_RES

    _run(scenario)
