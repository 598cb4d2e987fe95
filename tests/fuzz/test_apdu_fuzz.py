"""Hostile APDUs: the SE parser and applet answer a documented status word, never raise."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tee_sim import PAYMENT_AID, SW, Device, DeviceStore
from tee_sim.apdu import ApduError, parse_apdu

pytestmark = pytest.mark.unit

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
SELECT = bytes([0x00, 0xA4, 0x04, 0x00, len(PAYMENT_AID)]) + PAYMENT_AID
KNOWN_SW = {int(sw) for sw in SW}


@pytest.fixture(scope="module")
def device(tmp_path_factory: pytest.TempPathFactory) -> Device:
    store = DeviceStore(Path(tmp_path_factory.mktemp("apdu-devices")))
    return store.open(store.create("genuine"))


def encode_apdu(cla: int, ins: int, p1: int, p2: int, data: bytes, le: int | None,
                extended: bool) -> bytes:
    """ISO 7816-4 encoding of one command (cases 1 to 4, short or extended)."""
    header = bytes([cla, ins, p1, p2])
    if extended:
        body = b"\x00" + len(data).to_bytes(2, "big") + data if data else b""
        if le is not None:
            body += (le % 65536).to_bytes(2, "big") if data else b"\x00" + (
                le % 65536).to_bytes(2, "big")
        return header + body
    body = bytes([len(data)]) + data if data else b""
    if le is not None:
        body += bytes([le % 256])
    return header + body


@FUZZ
@given(raw=st.binary(max_size=300))
def test_parser_answers_a_command_or_a_status_word(raw: bytes) -> None:
    try:
        command = parse_apdu(raw)
    except ApduError as exc:
        assert int(exc.sw) in KNOWN_SW
    else:
        assert len(command.data) <= len(raw)


@FUZZ
@given(cla=st.integers(0, 0xFE), ins=st.integers(0, 255), p1=st.integers(0, 255),
       p2=st.integers(0, 255), extended=st.booleans(), data=st.binary(max_size=300),
       le=st.none() | st.integers(1, 65536))
def test_well_formed_apdus_round_trip(cla: int, ins: int, p1: int, p2: int, extended: bool,
                                      data: bytes, le: int | None) -> None:
    if not extended and len(data) > 255:
        data = data[:255]
    if not extended and le is not None:
        le = min(le, 256)
    command = parse_apdu(encode_apdu(cla, ins, p1, p2, data, le, extended))
    assert (command.cla, command.ins, command.p1, command.p2, command.data) == (
        cla, ins, p1, p2, data)
    assert command.le == le


@FUZZ
@given(raw=st.binary(max_size=300), select_first=st.booleans())
def test_device_transmit_always_ends_in_a_known_status_word(
    device: Device, raw: bytes, select_first: bool
) -> None:
    if select_first:
        assert device.transmit(SELECT)[-2:] == b"\x90\x00"
    answer = device.transmit(raw)
    assert len(answer) >= 2
    assert int.from_bytes(answer[-2:], "big") in KNOWN_SW
    # Secrets never leave the applet, whatever was sent.
    state = device.public_state()
    assert state["secure_element"]["pan_last4"] is None  # type: ignore[index]


@FUZZ
@given(ins=st.sampled_from([0xA4, 0x84, 0xE2, 0xCA, 0xAE]), p1=st.integers(0, 255),
       p2=st.integers(0, 255), data=st.binary(max_size=260))
def test_applet_commands_with_random_parameters_never_personalize(
    device: Device, ins: int, p1: int, p2: int, data: bytes
) -> None:
    cla = 0x00 if ins in (0xA4, 0x84) else 0x80
    device.transmit(SELECT)
    answer = device.transmit(encode_apdu(cla, ins, p1, p2, data, None, len(data) > 255))
    assert int.from_bytes(answer[-2:], "big") in KNOWN_SW
    # Random bytes cannot carry a valid issuer signature: the card stays unpersonalized.
    assert device.public_state()["secure_element"]["life_cycle"] == 0x07  # type: ignore[index]
