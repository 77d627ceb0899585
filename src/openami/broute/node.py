"""The ECHONET Lite smart meter as a UDP node (IPv4 and IPv6), on top of MeterResponder.

One :class:`MeterNode` is one ECHONET node (node profile + meter 0x028801) listening on one
or more local addresses. It

- answers every request from the address it was asked on: sockets bound to a specific
  address reply from it; wildcard sockets (0.0.0.0, ::) read the destination address of each
  datagram (IP_PKTINFO / IPV6_PKTINFO) and send the reply from that address;
- replies to the node's own port (3610: the spec uses 3610 as source and destination), or
  to the sender's port with ``reply_to_sender_port`` (clients on other ports, tests);
- joins 224.0.23.0 (IPv4) and ff02::1 (IPv6) where the host allows it, and logs when not;
- announces itself with the instance-list INF (0xD5) at start (to the group on the node's
  own port, 3610 by default, and to ``notify_targets``);
- sends the fixed-time INF (EA, and EB with export) once per :00/:30 boundary, ``inf_delay_s``
  after it (within the 5 minutes the AIF allows), to the multicast group and to every peer
  that has sent it a request.

Nothing here parses ECHONET frames: bytes go to the responder and its replies go back out.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from openami.broute.responder import ResponderStats
from openami.clock import Clock, slot_at_s, slot_start_s

log = logging.getLogger(__name__)

ECHONET_PORT = 3610
MULTICAST_V4 = "224.0.23.0"
MULTICAST_V6 = "ff02::1"
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Linux value; Python 3.11 lacks the name
MAX_DATAGRAM = 65_535
ANC_BUFSIZE = socket.CMSG_SPACE(20) * 2
MAX_PEERS = 64
FIXED_TIME_WINDOW_S = 300  # AIF §3.2.1: within 5 minutes after :00 and :30

Address = tuple[str, int]


@dataclass
class _Endpoint:
    """One bound socket and how to reply through it."""

    sock: socket.socket
    family: int
    wildcard: bool
    reply_sock: socket.socket  # where replies go out (the unicast socket for multicast ones)
    reply_wildcard: bool
    multicast_only: bool = False


@dataclass
class NodeStats:
    datagrams: int = 0
    replies_sent: int = 0
    send_errors: int = 0
    notifications_sent: int = 0
    errors: list[str] = field(default_factory=list)


def _is_wildcard(host: str) -> bool:
    return ipaddress.ip_address(host.split("%")[0]).is_unspecified


class Responder(Protocol):
    """What a node serves: a meter (:class:`~openami.broute.responder.MeterResponder`) or a
    home's appliances (:class:`openami.home.node.ApplianceResponder`)."""

    clock: Clock
    stats: ResponderStats

    def respond(self, frame: bytes) -> list[bytes]: ...

    def instance_list_inf(self) -> bytes: ...

    def fixed_time_inf(self, now: datetime | None = None) -> bytes | None: ...


R = TypeVar("R", bound=Responder)


class MeterNode(Generic[R]):
    """An ECHONET Lite node on UDP serving one meter through a :class:`MeterResponder`
    (or any :class:`Responder`)."""

    def __init__(
        self,
        responder: R,
        hosts: Sequence[str] = ("0.0.0.0", "::"),
        port: int = ECHONET_PORT,
        *,
        reply_to_sender_port: bool = False,
        multicast: bool = True,
        announce: bool = True,
        notify_targets: Sequence[Address] = (),
        inf_delay_s: float = 60.0,
        poll_interval_s: float = 1.0,
    ) -> None:
        if not 0 <= inf_delay_s < FIXED_TIME_WINDOW_S:
            raise ValueError("the fixed-time INF must go out within 5 minutes of the boundary")
        if not hosts:
            raise ValueError("a node needs at least one address to bind")
        self.responder = responder
        self.hosts = tuple(hosts)
        self.port = port
        self.reply_to_sender_port = reply_to_sender_port
        self.multicast = multicast
        self.announce = announce
        self.notify_targets = tuple(notify_targets)
        self.inf_delay_s = inf_delay_s
        self.poll_interval_s = poll_interval_s
        self.stats = NodeStats()
        self.bound: list[Address] = []
        self._endpoints: list[_Endpoint] = []
        self._peers: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self.last_notified_boundary: int | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind every address, join the multicast groups, announce, start the INF schedule."""
        self._loop = asyncio.get_running_loop()
        try:
            for host in self.hosts:
                try:
                    self._open(host)
                except OSError as exc:
                    # a host without IPv6 (or IPv4) still serves the other family
                    if not (_is_wildcard(host) and len(self.hosts) > 1):
                        raise
                    self.stats.errors.append(f"{host} not served: {exc}")
                    log.warning("%s not served: %s", host, exc)
            if not self._endpoints:
                raise OSError(f"none of {', '.join(self.hosts)} could be bound")
        except OSError:
            self.close()
            raise
        for ep in self._endpoints:
            self._loop.add_reader(ep.sock.fileno(), self._on_readable, ep)
        if self.announce:
            self._notify(self.responder.instance_list_inf())
        # the boundary in progress at start is not announced: the node may start late in it
        self.last_notified_boundary = slot_at_s(self.responder.clock.timestamp())
        self._task = self._loop.create_task(self._fixed_time_loop())

    def close(self) -> None:
        """Stop the schedule and close every socket (idempotent)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        for ep in self._endpoints:
            if self._loop is not None and ep.sock.fileno() >= 0:
                self._loop.remove_reader(ep.sock.fileno())
            ep.sock.close()
        self._endpoints.clear()

    async def __aenter__(self) -> MeterNode[R]:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    # -- sockets --------------------------------------------------------------------------------
    def _open(self, host: str) -> None:
        infos = socket.getaddrinfo(
            host, self.port, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST
        )
        family, _, _, _, sockaddr = infos[0]
        wildcard = _is_wildcard(host)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        try:
            sock.bind(sockaddr)
        except OSError:
            sock.close()
            raise
        bound = sock.getsockname()
        self.bound.append((str(bound[0]), int(bound[1])))
        ep = _Endpoint(sock, family, wildcard, sock, wildcard)
        self._endpoints.append(ep)
        if self.multicast:
            self._join_multicast(ep, sockaddr, int(bound[1]))

    def _join_multicast(self, ep: _Endpoint, sockaddr: tuple[Any, ...], port: int) -> None:
        """Join the ECHONET group: on the wildcard socket itself, else on a group socket."""
        try:
            if ep.family == socket.AF_INET:
                local = str(sockaddr[0])
                ep.sock.setsockopt(
                    socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local)
                )
                target = ep.sock
                if not ep.wildcard:
                    target = self._group_socket(socket.AF_INET, (MULTICAST_V4, port), ep)
                mreq = socket.inet_aton(MULTICAST_V4) + socket.inet_aton(local)
                target.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
            else:
                scope = int(sockaddr[3]) if len(sockaddr) > 3 else 0
                target = ep.sock
                if not ep.wildcard:
                    target = self._group_socket(socket.AF_INET6, (MULTICAST_V6, port, 0, scope), ep)
                if scope:
                    ep.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, scope)
                mreq6 = socket.inet_pton(socket.AF_INET6, MULTICAST_V6) + struct.pack("@I", scope)
                target.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq6)
        except OSError as exc:
            note = f"multicast join on {sockaddr[0]} failed: {exc}"
            self.stats.errors.append(note)
            log.warning("%s (unicast still served)", note)

    def _group_socket(
        self, family: int, sockaddr: tuple[str, int] | tuple[str, int, int, int], ep: _Endpoint
    ) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            sock.bind(sockaddr)
        except OSError:
            sock.close()
            raise
        group_ep = _Endpoint(sock, family, False, ep.reply_sock, ep.reply_wildcard, True)
        self._endpoints.append(group_ep)
        return sock

    # -- receive / reply ------------------------------------------------------------------------
    def _on_readable(self, ep: _Endpoint) -> None:
        for _ in range(64):  # drain a burst, then let other callbacks run
            try:
                data, ancdata, _flags, addr = ep.sock.recvmsg(MAX_DATAGRAM, ANC_BUFSIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("receive failed: %s", exc)
                return
            self.stats.datagrams += 1
            try:
                self._handle(ep, data, ancdata, addr)
            except Exception:  # the node must keep serving whatever one datagram does
                log.exception("datagram from %s could not be handled", addr)

    def _handle(
        self, ep: _Endpoint, data: bytes, ancdata: list[tuple[int, int, bytes]], addr: Any
    ) -> None:
        replies = self.responder.respond(data)
        if not replies:
            return
        # ECHONET Lite uses one port both ways: reply to the node's own port (3610 normally)
        own_port = int(ep.reply_sock.getsockname()[1])
        port = int(addr[1]) if self.reply_to_sender_port else own_port
        target: tuple[Any, ...] = (str(addr[0]), port)
        if ep.family == socket.AF_INET6:
            target = (str(addr[0]), port, 0, int(addr[3]))
        self._remember_peer(target)
        cmsg = self._reply_cmsg(ep, ancdata) if ep.reply_wildcard else []
        for reply in replies:
            if self._send(ep.reply_sock, reply, target, cmsg):
                self.stats.replies_sent += 1

    @staticmethod
    def _reply_cmsg(
        ep: _Endpoint, ancdata: list[tuple[int, int, bytes]]
    ) -> list[tuple[int, int, bytes]]:
        """Ancillary data making a wildcard socket send from the address it was asked on."""
        for level, kind, payload in ancdata:
            if ep.family == socket.AF_INET and level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                ifindex, spec_dst, _dst = struct.unpack("@I4s4s", payload[:12])
                return [(level, kind, struct.pack("@I4s4s", ifindex, spec_dst, bytes(4)))]
            v6 = ep.family == socket.AF_INET6 and level == socket.IPPROTO_IPV6
            if v6 and kind == socket.IPV6_PKTINFO:
                dst, ifindex = struct.unpack("@16sI", payload[:20])
                if dst[0] == 0xFF:  # a multicast destination cannot be a source
                    dst = bytes(16)
                return [(level, kind, struct.pack("@16sI", dst, ifindex))]
        return []

    def _send(
        self,
        sock: socket.socket,
        payload: bytes,
        target: tuple[Any, ...],
        cmsg: list[tuple[int, int, bytes]] | None = None,
    ) -> bool:
        try:
            if cmsg:
                sock.sendmsg([payload], cmsg, 0, target)
            else:
                sock.sendto(payload, target)
        except OSError as exc:
            self.stats.send_errors += 1
            log.debug("send to %s failed: %s", target, exc)
            return False
        return True

    def _remember_peer(self, dest: tuple[Any, ...]) -> None:
        self._peers[str(dest[0])] = dest
        self._peers.move_to_end(str(dest[0]))
        while len(self._peers) > MAX_PEERS:
            self._peers.popitem(last=False)

    @property
    def peers(self) -> list[tuple[Any, ...]]:
        return list(self._peers.values())

    # -- notifications --------------------------------------------------------------------------
    def _notify(self, frame: bytes) -> None:
        """Send a node-originated frame to the groups, the known peers and extra targets."""
        sent = False
        for ep in self._endpoints:
            if ep.multicast_only or not self.multicast:
                continue
            port = int(ep.sock.getsockname()[1])  # the node's port: 3610 unless told otherwise
            address = MULTICAST_V4 if ep.family == socket.AF_INET else MULTICAST_V6
            group: tuple[Any, ...] = (address, port)
            sent |= self._send(ep.sock, frame, group)
        unicast: list[tuple[Any, ...]] = list(self.notify_targets)
        unicast += [p for p in self._peers.values() if p not in unicast]
        for target in unicast:
            for ep in self._endpoints:
                is_v6 = ":" in str(target[0])
                if ep.multicast_only or (ep.family == socket.AF_INET6) != is_v6:
                    continue
                sent |= self._send(ep.sock, frame, target)
                break
        if sent:
            self.stats.notifications_sent += 1

    def notify_fixed_time(self) -> bool:
        """Send the fixed-time INF for the current boundary now (if not sent yet)."""
        boundary = slot_at_s(self.responder.clock.timestamp())
        if boundary == self.last_notified_boundary:
            return False
        frame = self.responder.fixed_time_inf(self.responder.clock.now())
        if frame is None:
            return False
        self.last_notified_boundary = boundary
        self._notify(frame)
        return True

    async def _fixed_time_loop(self) -> None:
        clock = self.responder.clock
        while True:
            await asyncio.sleep(self.poll_interval_s)
            now_s = clock.timestamp()
            boundary = slot_at_s(now_s)
            since = now_s - slot_start_s(boundary)
            late = since >= FIXED_TIME_WINDOW_S
            if boundary != self.last_notified_boundary and since >= self.inf_delay_s and not late:
                try:
                    self.notify_fixed_time()
                except Exception:  # keep the schedule alive; the next boundary tries again
                    log.exception("fixed-time notification failed")
            elif late and boundary != self.last_notified_boundary:
                # the window was missed (clock jumped): skip rather than send a late INF
                self.last_notified_boundary = boundary
