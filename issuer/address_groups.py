"""Which client addresses count as one client for per-address limits and login throttles."""

from __future__ import annotations

import ipaddress

IPV6_GROUP_PREFIX = 64


def address_group(address: str) -> str:
    """The key under which a per-address limit counts requests from `address`.

    An IPv4 address is its own group. An IPv6 address counts as its /64 network: a subscriber
    or LAN is given at least a /64 and a host may pick any address inside it (privacy
    addresses, RFC 8981), so counting single IPv6 addresses would let one client rotate past
    every limit. An IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) counts as its IPv4
    address. A string that is not an IP address (a test client's ``unknown``) is its own group.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_GROUP_PREFIX), strict=False))
    return str(ip)
