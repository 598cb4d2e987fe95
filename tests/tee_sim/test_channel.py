"""Secure channel: replayed, reordered or altered records are refused; keys are per channel."""

from __future__ import annotations

import nacl.signing
import pytest

from tee_sim import CHANNEL_TA, ChannelCommand, Device, TeeStatus, wallet
from tee_sim.ta_channel import MAX_HELLOS_PER_KEY
from tests.tee_sim.issuer_side import IssuerChannel
from tests.tee_sim.support import as_bytes

pytestmark = pytest.mark.unit


@pytest.fixture
def link(
    bound_device: tuple[Device, dict[str, dict[str, object]]], issuer_key: nacl.signing.SigningKey
) -> tuple[Device, IssuerChannel]:
    device, keys = bound_device
    channel = IssuerChannel.start(
        issuer_key=issuer_key, device_public=as_bytes(keys["agreement"]["public_key"])
    )
    wallet.open_channel(device, hello=channel.hello)
    return device, channel


def _deliver(device: Device, record: bytes) -> tuple[TeeStatus, dict[str, object]]:
    result = device.open_session(CHANNEL_TA).invoke(ChannelCommand.DELIVER, {"record": record})
    return result.status, result.values


def test_records_in_order_are_accepted_both_ways(link: tuple[Device, IssuerChannel]) -> None:
    device, channel = link
    for i in range(3):
        status, values = _deliver(device, channel.seal(b"\x10" + b"hello %d" % i))
        assert status is TeeStatus.TEEC_SUCCESS and values["data"] == b"hello %d" % i
    sealed = device.open_session(CHANNEL_TA).invoke(ChannelCommand.SEAL, {"data": b"from phone"})
    assert channel.open(as_bytes(sealed.values["record"])) == b"\x10from phone"


def test_replay_is_refused(link: tuple[Device, IssuerChannel]) -> None:
    device, channel = link
    record = channel.seal(b"\x10once")
    assert _deliver(device, record)[0] is TeeStatus.TEEC_SUCCESS
    status, values = _deliver(device, record)
    assert status is TeeStatus.TEE_ERROR_CHANNEL_SEQUENCE and "replay" in str(values["error"])


def test_reordering_is_refused_and_does_not_advance(link: tuple[Device, IssuerChannel]) -> None:
    device, channel = link
    first, second = channel.seal(b"\x10one"), channel.seal(b"\x10two")
    assert _deliver(device, second)[0] is TeeStatus.TEE_ERROR_CHANNEL_SEQUENCE
    assert _deliver(device, first)[0] is TeeStatus.TEEC_SUCCESS
    assert _deliver(device, second)[0] is TeeStatus.TEEC_SUCCESS


@pytest.mark.parametrize("position", [0, 7, 8, 20, -1])
def test_alteration_is_refused(link: tuple[Device, IssuerChannel], position: int) -> None:
    device, channel = link
    record = bytearray(channel.seal(b"\x10payload-bytes"))
    record[position] ^= 0x40
    status, _ = _deliver(device, bytes(record))
    assert status in (TeeStatus.TEE_ERROR_MAC_INVALID, TeeStatus.TEE_ERROR_CHANNEL_SEQUENCE)
    # The genuine record still goes through: the forgery did not consume the sequence number.
    record[position] ^= 0x40
    assert _deliver(device, bytes(record))[0] is TeeStatus.TEEC_SUCCESS


def test_a_record_from_the_device_direction_is_not_accepted_back(
    link: tuple[Device, IssuerChannel],
) -> None:
    device, _ = link
    reflected = (
        device.open_session(CHANNEL_TA).invoke(ChannelCommand.SEAL, {"data": b"x"}).values["record"]
    )
    assert _deliver(device, as_bytes(reflected))[0] is TeeStatus.TEE_ERROR_MAC_INVALID


def test_hello_must_be_signed_by_the_installed_issuer(
    bound_device: tuple[Device, dict[str, dict[str, object]]],
) -> None:
    device, keys = bound_device
    impostor = IssuerChannel.start(
        issuer_key=nacl.signing.SigningKey.generate(),
        device_public=as_bytes(keys["agreement"]["public_key"]),
    )
    session = device.open_session(CHANNEL_TA)
    result = session.invoke(
        ChannelCommand.OPEN, {"hello": impostor.hello, "alias": wallet.AGREEMENT_ALIAS}
    )
    assert result.status is TeeStatus.TEEC_ERROR_SECURITY
    for bad, status in [
        (
            {"hello": impostor.hello[:-1], "alias": wallet.AGREEMENT_ALIAS},
            TeeStatus.TEEC_ERROR_BAD_PARAMETERS,
        ),
        (
            {"hello": b"\x02" + impostor.hello[1:], "alias": wallet.AGREEMENT_ALIAS},
            TeeStatus.TEEC_ERROR_BAD_FORMAT,
        ),
        ({"hello": impostor.hello, "alias": wallet.SE_ALIAS}, TeeStatus.TEEC_ERROR_BAD_PARAMETERS),
        (
            {"hello": impostor.hello, "alias": wallet.SIGNING_ALIAS},
            TeeStatus.TEEC_ERROR_BAD_PARAMETERS,
        ),
    ]:
        assert session.invoke(ChannelCommand.OPEN, bad).status is status
    assert (
        session.invoke(ChannelCommand.DELIVER, {"record": bytes(40)}).status
        is TeeStatus.TEEC_ERROR_BAD_STATE
    )


def test_a_new_hello_replaces_the_old_channel(
    link: tuple[Device, IssuerChannel],
    issuer_key: nacl.signing.SigningKey,
    bound_device: tuple[Device, dict[str, dict[str, object]]],
) -> None:
    device, old = link
    _, keys = bound_device
    new = IssuerChannel.start(
        issuer_key=issuer_key, device_public=as_bytes(keys["agreement"]["public_key"])
    )
    wallet.open_channel(device, hello=new.hello)
    assert _deliver(device, old.seal(b"\x10old"))[0] is TeeStatus.TEE_ERROR_MAC_INVALID
    assert _deliver(device, new.seal(b"\x10new"))[0] is TeeStatus.TEEC_SUCCESS


def test_a_replayed_hello_is_refused(link: tuple[Device, IssuerChannel]) -> None:
    # The hello carries no freshness from the device, so an eavesdropper who recorded one could
    # reopen the same channel: its old records would be accepted again (seq restarts at 0) and
    # the device would seal new records under the same key and nonce as before.
    device, channel = link
    record = channel.seal(b"\x10once")
    assert _deliver(device, record)[0] is TeeStatus.TEEC_SUCCESS
    session = device.open_session(CHANNEL_TA)
    first = as_bytes(session.invoke(ChannelCommand.SEAL, {"data": b"secret A"}).values["record"])
    replayed = session.invoke(
        ChannelCommand.OPEN, {"hello": channel.hello, "alias": wallet.AGREEMENT_ALIAS}
    )
    assert replayed.status is TeeStatus.TEEC_ERROR_SECURITY
    assert "replayed" in str(replayed.values["error"])
    # The channel that was open stays open and goes on where it was.
    assert _deliver(device, record)[0] is TeeStatus.TEE_ERROR_CHANNEL_SEQUENCE
    second = as_bytes(session.invoke(ChannelCommand.SEAL, {"data": b"secret B"}).values["record"])
    assert first[:8] != second[:8]
    assert channel.open(first) == b"\x10secret A" and channel.open(second) == b"\x10secret B"


def test_a_hello_stays_refused_after_the_channel_closes(
    link: tuple[Device, IssuerChannel],
) -> None:
    device, channel = link
    session = device.open_session(CHANNEL_TA)
    assert session.invoke(ChannelCommand.CLOSE, {}).ok
    reopened = session.invoke(
        ChannelCommand.OPEN, {"hello": channel.hello, "alias": wallet.AGREEMENT_ALIAS}
    )
    assert reopened.status is TeeStatus.TEEC_ERROR_SECURITY


@pytest.mark.slow  # a thousand sealed, fsynced writes
def test_an_agreement_key_opens_a_bounded_number_of_channels(
    bound_device: tuple[Device, dict[str, dict[str, object]]],
    issuer_key: nacl.signing.SigningKey,
) -> None:
    device, keys = bound_device
    device_public = as_bytes(keys["agreement"]["public_key"])
    for _ in range(MAX_HELLOS_PER_KEY):
        hello = IssuerChannel.start(issuer_key=issuer_key, device_public=device_public).hello
        wallet.open_channel(device, hello=hello)
    hello = IssuerChannel.start(issuer_key=issuer_key, device_public=device_public).hello
    result = device.open_session(CHANNEL_TA).invoke(
        ChannelCommand.OPEN, {"hello": hello, "alias": wallet.AGREEMENT_ALIAS}
    )
    assert result.status is TeeStatus.TEEC_ERROR_ACCESS_DENIED
    assert "generate a new one" in str(result.values["error"])
