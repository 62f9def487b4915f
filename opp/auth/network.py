"""Network policy (SPEC §4 step 5): the client address and CIDR allowlists.

The client IP is the socket peer. ``X-Forwarded-For`` is believed **only** when the peer is a
configured trusted proxy; then the client is the right-most address that is not itself a trusted
proxy [fix: the reference trusted the header from anyone].
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from opp.compile.plan import IpNetwork

__all__ = ["client_ip", "ip_allowed", "parse_networks", "peer_in"]

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=4096)
def _parse_ip(text: str) -> IpAddress | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IpAddress, proxies: Sequence[IpNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def peer_in(peer: str | None, networks: Sequence[IpNetwork]) -> bool:
    """Whether the socket peer is inside ``networks`` (an unparsable or missing peer never is)."""
    address = _parse_ip(peer) if peer else None
    return address is not None and _trusted(address, networks)


def client_ip(peer: str | None, forwarded_for: list[str], proxies: Sequence[IpNetwork]) -> str | None:
    """The address policies apply to; ``None`` when it cannot be determined (fails closed)."""
    address = _parse_ip(peer) if peer else None
    if address is None:
        return None
    if not proxies or not forwarded_for or not _trusted(address, proxies):
        return str(address)
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        hop_address = _parse_ip(hop)
        if hop_address is None:
            return None
        if not _trusted(hop_address, proxies):
            return str(hop_address)
        address = hop_address
    return str(address)


@lru_cache(maxsize=1024)
def parse_networks(cidrs: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    """Parse an app's allowlist once per distinct value (apps' policies change at runtime)."""
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def ip_allowed(ip: str | None, allowlist: tuple[str, ...]) -> bool:
    """True when the allowlist is empty or contains ``ip``; an unknown ip is never allowed."""
    return not allowlist or peer_in(ip, parse_networks(allowlist))
