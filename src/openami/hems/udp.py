"""ECHONET Lite over plain UDP (a meter on a LAN, a Wi-SUN bridge, `openami broute serve`)."""

from __future__ import annotations

import ipaddress
import select
import socket
from typing import Any

from openami.broute.node import ECHONET_PORT


def parse_address(text: str, default_port: int = ECHONET_PORT) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address → (host, port)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else default_port
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = int(port_text)
    else:
        host, port = text, default_port
    ipaddress.ip_address(host.split("%")[0])  # raises ValueError for a bad address
    if not 0 < port < 65536:
        raise ValueError(f"bad port {port}")
    return host, port


class UdpTransport:
    """Sends to one meter and accepts datagrams only from that meter's address."""

    def __init__(
        self,
        host: str,
        port: int = ECHONET_PORT,
        *,
        local_port: int = ECHONET_PORT,
        sock: socket.socket | None = None,
    ):
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, _, _, _, target = infos[0]
        self.target: tuple[Any, ...] = tuple(target)
        self.owns_socket = sock is None
        if sock is None:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", local_port))
        self.sock = sock
        self.host = str(self.target[0])

    def peer(self, host: str, port: int = ECHONET_PORT) -> UdpTransport:
        """A transport to another node through the same socket (ECHONET Lite's one port:
        a HEMS talks to the meter and the appliances from 3610). Requests are sequential;
        a datagram from the other node while one waits is dropped."""
        return UdpTransport(host, port, sock=self.sock)

    @property
    def local_port(self) -> int:
        return int(self.sock.getsockname()[1])

    def send(self, frame: bytes) -> None:
        self.sock.sendto(frame, self.target)

    def receive(self, timeout_s: float) -> bytes | None:
        if not select.select([self.sock], [], [], max(0.0, timeout_s))[0]:
            return None
        data, addr = self.sock.recvfrom(65535)
        if ipaddress.ip_address(str(addr[0]).split("%")[0]) != ipaddress.ip_address(
            self.host.split("%")[0]
        ):
            return None
        return data

    def close(self) -> None:
        if self.owns_socket:
            self.sock.close()
