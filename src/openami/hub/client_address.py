"""The address of the client behind a request, trusting forwarded headers only from
configured proxies (issue #15 §3).

``HubContext.trusted_proxies`` lists the addresses or networks (``"10.0.0.0/8"``) of reverse
proxies in front of the hub; it is empty by default, and then ``X-Forwarded-For`` is ignored
and the client is the peer of the TCP connection. When the peer is a trusted proxy, the
header is read from the right (each proxy appends the address it saw) and the first address
that is not itself a trusted proxy is the client. Malformed entries end the walk: the last
trusted hop is the answer, never a made-up value.

uvicorn must not rewrite the peer itself: :func:`openami.web.app.server_config` runs it with
``proxy_headers=False``.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from fastapi import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOPS = 16  # forwarded entries looked at, at most


@lru_cache(maxsize=32)
def parse_proxies(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    """The networks of ``trusted_proxies``; ValueError names a bad entry."""
    networks = []
    for entry in proxies:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"trusted_proxies: not an address or network: {entry!r}") from None
    return tuple(networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(text: str, networks: tuple[Network, ...]) -> bool:
    address = _ip(text)
    return address is not None and any(address in n for n in networks)


def resolve(peer: str | None, forwarded_for: str | None, proxies: tuple[str, ...]) -> str | None:
    """The client address for a connection from ``peer`` carrying ``forwarded_for``."""
    networks = parse_proxies(proxies)
    if peer is None or not networks or not forwarded_for or not _trusted(peer, networks):
        return peer
    client = peer
    for hop in reversed(forwarded_for.split(",")[-MAX_HOPS:]):
        address = _ip(hop)
        if address is None:
            break
        client = str(address)
        if not any(address in n for n in networks):
            break
    return client


def client_address(request: Request) -> str | None:
    """The client's address (see the module doc); remembered on the request."""
    known = getattr(request.state, "client_address", None)
    if known is not None:
        return str(known)
    context = getattr(request.app.state, "hub", None)
    proxies: tuple[str, ...] = tuple(getattr(context, "trusted_proxies", ()) or ())
    peer = request.client.host if request.client else None
    address = resolve(peer, request.headers.get("x-forwarded-for"), proxies)
    request.state.client_address = address
    return address


def is_https(request: Request) -> bool:
    """Whether the client reached the hub over HTTPS: TLS on this server, or a trusted
    proxy's ``X-Forwarded-Proto: https`` (its last value: the one that proxy set)."""
    if request.url.scheme == "https":
        return True
    context = getattr(request.app.state, "hub", None)
    networks = parse_proxies(tuple(getattr(context, "trusted_proxies", ()) or ()))
    peer = request.client.host if request.client else None
    if peer is None or not networks or not _trusted(peer, networks):
        return False
    proto = request.headers.get("x-forwarded-proto", "")
    return proto.rsplit(",", 1)[-1].strip().lower() == "https"
