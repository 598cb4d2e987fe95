"""SE payment applet: personalization only from the issuer, sealed to the SE; no secret out."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import nacl.signing
import pytest

from tee_sim import (
    KEYSTORE_TA,
    PIN_TA,
    Device,
    DeviceStore,
    KeystoreCommand,
    PinCommand,
    TeeStatus,
    wallet,
)
from tests.tee_sim.issuer_side import IssuerChannel, card_inner, perso_payload
from tests.tee_sim.support import as_bytes

pytestmark = pytest.mark.unit

SELECT = bytes.fromhex("00A4040008A000000333010102")
CARD_KEY = hashlib.sha256(b"card key").digest()
PAN, DPAN = "6250941234567890", "6250949876543210"


class Phone:
    """A bound genuine device and the issuer end of its secure channel."""

    def __init__(
        self,
        device: Device,
        keys: dict[str, dict[str, object]],
        issuer_key: nacl.signing.SigningKey,
    ) -> None:
        self.device, self.keys, self.issuer_key = device, keys, issuer_key
        agreement = keys["agreement"]["public_key"]
        assert isinstance(agreement, bytes)
        self.channel = IssuerChannel.start(issuer_key=issuer_key, device_public=agreement)
        wallet.open_channel(device, hello=self.channel.hello)

    @property
    def se_public(self) -> bytes:
        value = self.keys["se"]["public_key"]
        assert isinstance(value, bytes)
        return value

    def payload(
        self, *, challenge: bytes, signer: nacl.signing.SigningKey | None = None, **fields: object
    ) -> bytes:
        inner = card_inner(challenge=challenge, pan=PAN, dpan=DPAN, card_key=CARD_KEY, **fields)  # type: ignore[arg-type]
        return perso_payload(
            issuer_key=signer or self.issuer_key, se_public=self.se_public, inner=inner
        )

    def provision(self, payload: bytes) -> int:
        result = wallet.receive_provisioning(
            self.device, record=self.channel.seal(b"\x01" + payload)
        )
        reply = self.channel.open(result["response"])  # type: ignore[arg-type]
        assert reply[0] == 0x81
        sw = int.from_bytes(reply[1:], "big")
        assert sw == result["sw"]
        return sw


@pytest.fixture
def phone(make_device: Callable[[str], Device], issuer_key: nacl.signing.SigningKey) -> Phone:
    device = make_device("genuine")
    return Phone(device, wallet.bind(device, challenge=b"bind"), issuer_key)


def _sw(answer: bytes) -> int:
    return int.from_bytes(answer[-2:], "big")


def _get_data(device: Device, tag: int) -> bytes:
    return device.transmit(bytes([0x80, 0xCA, tag >> 8, tag & 0xFF, 0x00]))


def test_issuer_payload_personalizes_and_get_data_shows_only_public_fields(phone: Phone) -> None:
    assert phone.provision(phone.payload(challenge=wallet.se_challenge(phone.device))) == 0x9000
    summary = wallet.card_summary(phone.device)
    assert summary == {
        "personalized": True,
        "pan_last4": "7890",
        "dpan_last4": "3210",
        "expiry": "3011",
        "cardholder": "LI MING",
        "atc": 0,
    }
    for secret_tag in (0x5A, 0x57, 0xDF10):
        assert _sw(_get_data(phone.device, secret_tag)) == 0x6982
    every_answer = b"".join(_get_data(phone.device, tag) for tag in range(0x10000) if tag % 97 == 0)
    every_answer += b"".join(
        _get_data(phone.device, t) for t in (0x9F36, 0xDF01, 0xDF02, 0xDF03, 0xDF04, 0x5F20)
    )
    for secret in (CARD_KEY, PAN.encode(), DPAN.encode()):
        assert secret not in every_answer


def test_replayed_payload_is_refused(phone: Phone, make_device: Callable[[str], Device]) -> None:
    first = phone.payload(challenge=wallet.se_challenge(phone.device), cardholder="FIRST")
    wallet.se_challenge(phone.device)  # a newer challenge: the first payload is now stale
    assert phone.provision(first) == 0x6985
    assert wallet.card_summary(phone.device)["personalized"] is False
    # The challenge is consumed by any attempt, so a good payload for it cannot follow a bad one.
    challenge = wallet.se_challenge(phone.device)
    assert (
        phone.provision(
            phone.payload(challenge=challenge, signer=nacl.signing.SigningKey.generate())
        )
        == 0x6982
    )
    assert phone.provision(phone.payload(challenge=challenge)) == 0x6985
    good = phone.payload(challenge=wallet.se_challenge(phone.device))
    assert phone.provision(good) == 0x9000
    assert phone.provision(good) == 0x6985  # already personalized, and the challenge is spent


def test_ree_attacker_cannot_inject_card_data_with_raw_apdus(phone: Phone) -> None:
    device = phone.device
    attacker = nacl.signing.SigningKey.generate()
    assert _sw(device.transmit(SELECT)) == 0x9000
    challenge = device.transmit(bytes.fromhex("0084000010"))[:-2]
    forged = phone.payload(challenge=challenge, signer=attacker)
    assert (
        _sw(
            device.transmit(
                bytes([0x80, 0xE2, 0x80, 0x00, 0x00]) + len(forged).to_bytes(2, "big") + forged
            )
        )
        == 0x6982
    )
    # Sealed to some other X25519 key (e.g. the attacker's guess of the SE key): cannot open.
    challenge = device.transmit(bytes.fromhex("0084000010"))[:-2]
    inner = card_inner(challenge=challenge)
    other = nacl.signing.SigningKey.generate().to_curve25519_private_key().public_key
    wrong_box = perso_payload(issuer_key=phone.issuer_key, se_public=bytes(other), inner=inner)
    assert (
        _sw(
            device.transmit(
                bytes([0x80, 0xE2, 0x80, 0x00, 0x00])
                + len(wrong_box).to_bytes(2, "big")
                + wrong_box
            )
        )
        == 0x6982
    )
    assert _sw(_get_data(device, 0xDF04)) == 0x9000 and _get_data(device, 0xDF04)[3] == 0x07


def test_the_applet_accepts_the_payload_by_raw_chained_store_data(phone: Phone) -> None:
    device = phone.device
    device.transmit(SELECT)
    payload = phone.payload(challenge=device.transmit(bytes.fromhex("0084000010"))[:-2])
    blocks = [payload[i : i + 100] for i in range(0, len(payload), 100)]
    for n, block in enumerate(blocks):
        last = n == len(blocks) - 1
        assert (
            _sw(device.transmit(bytes([0x80, 0xE2, 0x80 if last else 0x00, n, len(block)]) + block))
            == 0x9000
        )
    assert wallet.card_summary(device)["personalized"] is True


def test_store_data_block_numbers_must_follow(phone: Phone) -> None:
    device = phone.device
    device.transmit(SELECT)
    assert _sw(device.transmit(bytes.fromhex("80E2000005") + b"abcde")) == 0x9000
    assert _sw(device.transmit(bytes.fromhex("80E2000205") + b"abcde")) == 0x6A86


def test_payments_need_a_fresh_pin_and_count_transactions(phone: Phone) -> None:
    phone.provision(phone.payload(challenge=wallet.se_challenge(phone.device)))
    wallet.set_pin(phone.device, pin="2580")
    device = phone.device
    data = bytes.fromhex("000000012345") + bytes.fromhex("0156") + bytes.fromhex("A1B2C3D4")
    generate_ac = bytes([0x80, 0xAE, 0x80, 0x00, len(data)]) + data + b"\x00"
    device.transmit(SELECT)
    assert _sw(device.transmit(generate_ac)) == 0x6982  # no PIN verified
    for expected_atc in (1, 2):
        answer = wallet.pay(
            device, pin="2580", amount_bcd=data[:6], currency_bcd=data[6:8], unpredictable=data[8:]
        )
        assert answer[:2] == b"\x77\x14"
        atc = int.from_bytes(answer[answer.index(b"\x9f\x36\x02") + 3 :][:2], "big")
        assert atc == expected_atc
        arqc = answer[answer.index(b"\x9f\x26\x08") + 3 :][:8]
        assert (
            arqc
            == hashlib.blake2b(data + atc.to_bytes(2, "big"), key=CARD_KEY, digest_size=8).digest()
        )
    assert _sw(device.transmit(generate_ac)) == 0x6982  # one verification, one transaction
    assert wallet.card_summary(device)["atc"] == 2
    wrong = device.open_session(PIN_TA).invoke(PinCommand.VERIFY_PIN, {"pin": "0000"})
    assert wrong.status is TeeStatus.TEE_ERROR_PIN_INCORRECT


def test_se_key_is_frozen_once_personalized(phone: Phone) -> None:
    phone.provision(phone.payload(challenge=wallet.se_challenge(phone.device)))
    ks = phone.device.open_session(KEYSTORE_TA)
    regen = ks.invoke(
        KeystoreCommand.GENERATE_KEY,
        {"alias": "other-se", "kind": "x25519", "challenge": b"c", "strongbox": True},
    )
    assert regen.status is TeeStatus.TEEC_ERROR_ACCESS_DENIED
    assert (
        ks.invoke(KeystoreCommand.DELETE_KEY, {"alias": wallet.SE_ALIAS}).status
        is TeeStatus.TEEC_ERROR_ACCESS_DENIED
    )


def test_device_without_issuer_key_refuses_personalization(
    make_device: Callable[[str], Device], store: DeviceStore
) -> None:
    device = store.open(store.create("genuine"))
    keys = wallet.bind(device, challenge=b"c")
    device.transmit(SELECT)
    challenge = device.transmit(bytes.fromhex("0084000010"))[:-2]
    payload = perso_payload(
        issuer_key=nacl.signing.SigningKey.generate(),
        se_public=as_bytes(keys["se"]["public_key"]),
        inner=card_inner(challenge=challenge),
    )
    assert (
        _sw(
            device.transmit(
                bytes([0x80, 0xE2, 0x80, 0x00, 0x00]) + len(payload).to_bytes(2, "big") + payload
            )
        )
        == 0x6982
    )
