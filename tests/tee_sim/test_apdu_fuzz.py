"""The APDU interface survives random and mutated commands, answering only defined status words."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tee_sim import SW, Device, wallet
from tee_sim.apdu import ApduError, parse_apdu

pytestmark = pytest.mark.unit

DEFINED = {int(sw) for sw in SW}
VALID = [
    bytes.fromhex("00A4040008A000000333010102"),
    bytes.fromhex("00A4040008A00000033301010200"),
    bytes.fromhex("0084000010"),
    bytes.fromhex("80CA9F3600"),
    bytes.fromhex("80CADF0400"),
    bytes.fromhex("80CA005A00"),
    bytes.fromhex("80E2000003AABBCC"),
    bytes.fromhex("80E2800000000401020304"),
    bytes.fromhex("80AE80000C00000001234501560102030400"),
]
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    apdu = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "extend", "insert"]))
        if op == "flip" and apdu:
            i = draw(st.integers(0, len(apdu) - 1))
            apdu[i] = draw(st.integers(0, 255))
        elif op == "truncate":
            del apdu[draw(st.integers(0, len(apdu))) :]
        elif op == "extend":
            apdu += draw(st.binary(max_size=8))
        else:
            i = draw(st.integers(0, len(apdu)))
            apdu[i:i] = draw(st.binary(min_size=1, max_size=3))
    return bytes(apdu)


_DEVICES: dict[int, Device] = {}


def _device(make_device: Callable[[str], Device]) -> Device:
    if id(make_device) not in _DEVICES:
        device = make_device("genuine")
        wallet.bind(device, challenge=b"c")
        wallet.set_pin(device, pin="1234")
        _DEVICES[id(make_device)] = device
    return _DEVICES[id(make_device)]


def _check(answer: bytes) -> None:
    assert isinstance(answer, bytes) and len(answer) >= 2
    assert int.from_bytes(answer[-2:], "big") in DEFINED
    if answer[-2:] != b"\x90\x00":
        assert len(answer) == 2  # errors carry no data


@SETTINGS
@given(apdu=st.binary(max_size=300))
def test_random_bytes(make_device: Callable[[str], Device], apdu: bytes) -> None:
    _check(_device(make_device).transmit(apdu))


@SETTINGS
@given(apdus=st.lists(mutated(), min_size=1, max_size=4))
def test_mutated_valid_apdus(make_device: Callable[[str], Device], apdus: list[bytes]) -> None:
    device = _device(make_device)
    device.transmit(VALID[0])
    for apdu in apdus:
        _check(device.transmit(apdu))


@settings(max_examples=500, deadline=None)
@given(apdu=st.binary(max_size=70000))
def test_parser_only_raises_apdu_error(apdu: bytes) -> None:
    try:
        cmd = parse_apdu(apdu)
    except ApduError as exc:
        assert exc.sw in (SW.WRONG_LENGTH, SW.CLA_NOT_SUPPORTED)
        return
    assert len(cmd.data) <= len(apdu)


@pytest.mark.parametrize(
    ("apdu", "sw"),
    [
        (b"", 0x6700),
        (b"\x00\xa4\x04", 0x6700),
        (bytes.fromhex("00A4040009A000000333010102"), 0x6700),  # Lc says 9, 8 given
        (bytes.fromhex("00A4040008A000000333010103"), 0x6A82),
        (bytes.fromhex("00A4050008A000000333010102"), 0x6A86),
        (bytes.fromhex("FFA4040008A000000333010102"), 0x6E00),
        (bytes.fromhex("80A4040008A000000333010102"), 0x6E00),
        (bytes.fromhex("0001000000"), 0x6D00),
        (bytes.fromhex("00A404000000 08A000000333010102".replace(" ", "")), 0x9000),  # extended Lc
        (bytes.fromhex("00A40400000008A0000003330101020000"), 0x9000),  # case 4E
    ],
)
def test_specific_status_words(make_device: Callable[[str], Device], apdu: bytes, sw: int) -> None:
    device = _device(make_device)
    assert int.from_bytes(device.transmit(apdu)[-2:], "big") == sw


def test_commands_before_select_and_non_bytes(make_device: Callable[[str], Device]) -> None:
    device = make_device("genuine")
    assert device.transmit(bytes.fromhex("0084000010")) == bytes.fromhex("6985")
    assert device.transmit("00A4") == bytes.fromhex("6700")  # type: ignore[arg-type]
