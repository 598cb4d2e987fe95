"""Per-address limits count an IPv4 address alone and an IPv6 address by its /64."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.address_groups import address_group

pytestmark = pytest.mark.unit

ipv6 = st.integers(min_value=0, max_value=2**128 - 1).map(ipaddress.IPv6Address)


@pytest.mark.parametrize(("address", "group"), [
    ("192.0.2.1", "192.0.2.1"),
    ("2001:db8::1", "2001:db8::/64"),
    ("2001:DB8:0:0:ffff:1:2:3", "2001:db8::/64"),
    ("2001:db8:0:1::1", "2001:db8:0:1::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    ("fe80::1%eth0", "fe80::/64"),
    ("unknown", "unknown"),
    ("", ""),
])
def test_address_groups(address: str, group: str) -> None:
    assert address_group(address) == group


@given(ipv6, st.integers(min_value=0, max_value=2**64 - 1))
def test_every_address_of_a_64_counts_together(address: ipaddress.IPv6Address, host: int) -> None:
    if address.ipv4_mapped is not None:
        return
    neighbour = ipaddress.IPv6Address((int(address) >> 64 << 64) | host)
    assert address_group(str(address)) == address_group(str(neighbour))
    assert address_group(str(address)) == address_group(address.exploded)


@given(ipv6, ipv6)
def test_different_64s_count_apart(a: ipaddress.IPv6Address, b: ipaddress.IPv6Address) -> None:
    if a.ipv4_mapped is not None or b.ipv4_mapped is not None:
        return
    same_network = int(a) >> 64 == int(b) >> 64
    assert (address_group(str(a)) == address_group(str(b))) == same_network


@given(st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address))
def test_ipv4_alone_and_as_mapped_ipv6(address: ipaddress.IPv4Address) -> None:
    assert address_group(str(address)) == str(address)
    assert address_group(f"::ffff:{address}") == str(address)
