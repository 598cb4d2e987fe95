"""Secure channel and card personalization between the issuer and real tee_sim phones."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from issuer.devicetrust import (
    RECORD_APP_DATA,
    ChannelError,
    IssuerChannel,
    PersonalizationError,
    seal_personalization,
)
from issuer.devicetrust.personalization import personalization_tlvs
from tee_sim import CHANNEL_TA, ChannelCommand, Device, TeeStatus, wallet
from tests.issuer.devicetrust.conftest import CHALLENGE, Phones
from tests.tee_sim.support import as_bytes

pytestmark = pytest.mark.unit

CARD: Mapping[str, str] = {
    "pan": "6250941234567890",
    "dpan": "6250949876543210",
    "expiry": "2906",
    "cardholder": "ZHANG WEI 张伟",
    "card_key": "11" * 32,
    "card_ref": "card-0001",
}


class Phone:
    """One freshly bound genuine phone and the issuer's channel to it."""

    def __init__(self, phones: Phones, profile: str = "genuine") -> None:
        self.issuer_key = phones.issuer_key
        self.device: Device = phones.new_device(profile)
        binding = wallet.bind(self.device, challenge=CHALLENGE)
        agreement_key = binding["agreement"]["public_key"]
        se_key = binding["se"]["public_key"]
        assert isinstance(agreement_key, bytes) and isinstance(se_key, bytes)
        self.agreement_key = agreement_key
        self.se_key = se_key
        started = IssuerChannel.begin(
            device_public_key=self.agreement_key, issuer_signing_key=self.issuer_key
        )
        wallet.open_channel(self.device, hello=started.hello)
        self.channel = started.channel

    def payload(self, card: Mapping[str, str] = CARD, **overrides: object) -> bytes:
        kwargs: dict[str, object] = {
            "card_fields": card,
            "se_public_key": self.se_key,
            "se_challenge": wallet.se_challenge(self.device),
            "issuer_signing_key": self.issuer_key,
        }
        kwargs.update(overrides)
        return seal_personalization(**kwargs)  # type: ignore[arg-type]

    def deliver(self, payload: bytes) -> int:
        """Send one PROVISION record; return the SE status word the issuer reads back."""
        self.channel, record = self.channel.provision(sealed_payload=payload)
        answer = wallet.receive_provisioning(self.device, record=record)
        response = answer["response"]
        assert isinstance(response, bytes)
        self.channel, sw = self.channel.open_provision_result(response)
        assert sw == answer["sw"]
        return sw


@pytest.fixture()
def phone(phones: Phones) -> Phone:
    return Phone(phones)


def test_card_is_provisioned_over_the_channel(phone: Phone) -> None:
    assert phone.deliver(phone.payload()) == 0x9000
    summary = wallet.card_summary(phone.device)
    assert summary["personalized"] is True
    assert summary["pan_last4"] == "7890" and summary["dpan_last4"] == "3210"
    assert summary["expiry"] == "2906" and summary["cardholder"] == CARD["cardholder"]
    assert phone.channel.send_seq == 1 and phone.channel.receive_seq == 1


def test_channel_state_survives_serialisation_between_requests(phone: Phone) -> None:
    stored = phone.channel.to_bytes()
    phone.channel = IssuerChannel.from_bytes(stored)
    assert phone.deliver(phone.payload()) == 0x9000
    assert IssuerChannel.from_bytes(phone.channel.to_bytes()) == phone.channel
    assert "key" not in repr(phone.channel).replace("IssuerChannel", "")


def test_altered_payload_is_refused_by_the_se(phone: Phone) -> None:
    payload = bytearray(phone.payload())
    payload[40] ^= 0x01
    assert phone.deliver(bytes(payload)) == 0x6982
    assert wallet.card_summary(phone.device)["personalized"] is False
    # A correct payload afterwards still works: the refusal changed nothing.
    assert phone.deliver(phone.payload()) == 0x9000


def test_payload_signed_by_another_issuer_is_refused(phone: Phone) -> None:
    assert phone.deliver(phone.payload(issuer_signing_key=SigningKey.generate())) == 0x6982


def test_payload_sealed_to_the_tee_key_instead_of_the_se_key(phone: Phone) -> None:
    assert phone.deliver(phone.payload(se_public_key=phone.agreement_key)) == 0x6982


def test_payload_with_an_old_se_challenge_is_refused(phone: Phone) -> None:
    old = phone.payload()
    wallet.se_challenge(phone.device)  # a newer challenge replaces the one `old` binds
    assert phone.deliver(old) == 0x6985


def test_payload_replayed_after_success_is_refused(phone: Phone) -> None:
    payload = phone.payload()
    assert phone.deliver(payload) == 0x9000
    assert phone.deliver(payload) != 0x9000


def test_tampered_record_is_refused_and_does_not_advance(phone: Phone) -> None:
    next_channel, record = phone.channel.provision(sealed_payload=phone.payload())
    tampered = bytearray(record)
    tampered[-1] ^= 0x80
    with pytest.raises(wallet.WalletError) as caught:
        wallet.receive_provisioning(phone.device, record=bytes(tampered))
    assert caught.value.status == TeeStatus.TEE_ERROR_MAC_INVALID
    answer = wallet.receive_provisioning(phone.device, record=record)
    assert answer["sw"] == 0x9000
    next_channel.open_provision_result(answer["response"])  # type: ignore[arg-type]


def test_replayed_and_reordered_records_are_refused_by_the_phone(phone: Phone) -> None:
    channel, first = phone.channel.seal(record_type=RECORD_APP_DATA, body=b"one")
    channel, second = channel.seal(record_type=RECORD_APP_DATA, body=b"two")
    session = phone.device.open_session(CHANNEL_TA)
    out_of_order = session.invoke(ChannelCommand.DELIVER, {"record": second})
    assert out_of_order.status == TeeStatus.TEE_ERROR_CHANNEL_SEQUENCE
    assert session.invoke(ChannelCommand.DELIVER, {"record": first}).values["data"] == b"one"
    replay = session.invoke(ChannelCommand.DELIVER, {"record": first})
    assert replay.status == TeeStatus.TEE_ERROR_CHANNEL_SEQUENCE
    assert session.invoke(ChannelCommand.DELIVER, {"record": second}).values["data"] == b"two"


def test_phone_records_replayed_reordered_or_altered_are_refused_by_the_issuer(
    phone: Phone,
) -> None:
    session = phone.device.open_session(CHANNEL_TA)
    records = [
        as_bytes(session.invoke(ChannelCommand.SEAL, {"data": data}).values["record"])
        for data in (b"alpha", b"beta")
    ]
    channel = phone.channel
    with pytest.raises(ChannelError) as caught:
        channel.open(records[1])
    assert caught.value.reason == "out_of_order_record"
    altered = bytearray(records[0])
    altered[12] ^= 0x01
    with pytest.raises(ChannelError) as caught:
        channel.open(bytes(altered))
    assert caught.value.reason == "altered_record"
    channel, record_type, body = channel.open(records[0])
    assert (record_type, body) == (RECORD_APP_DATA, b"alpha")
    with pytest.raises(ChannelError) as caught:
        channel.open(records[0])
    assert caught.value.reason == "replayed_record"
    channel, _, body = channel.open(records[1])
    assert body == b"beta"


def test_a_record_from_the_old_channel_is_refused_after_a_new_hello(phone: Phone) -> None:
    _, old_record = phone.channel.seal(record_type=RECORD_APP_DATA, body=b"old")
    fresh = IssuerChannel.begin(
        device_public_key=phone.agreement_key, issuer_signing_key=phone.issuer_key
    )
    wallet.open_channel(phone.device, hello=fresh.hello)
    refused = phone.device.open_session(CHANNEL_TA).invoke(
        ChannelCommand.DELIVER, {"record": old_record}
    )
    assert refused.status == TeeStatus.TEE_ERROR_MAC_INVALID


def test_hello_from_another_issuer_is_refused(phone: Phone) -> None:
    started = IssuerChannel.begin(
        device_public_key=phone.agreement_key, issuer_signing_key=SigningKey.generate()
    )
    with pytest.raises(wallet.WalletError) as caught:
        wallet.open_channel(phone.device, hello=started.hello)
    assert caught.value.status == TeeStatus.TEEC_ERROR_SECURITY


def test_hello_is_deterministic_given_the_ephemeral_key(phone: Phone) -> None:
    ephemeral = PrivateKey.generate()
    a = IssuerChannel.begin(
        device_public_key=phone.agreement_key,
        issuer_signing_key=phone.issuer_key,
        ephemeral_key=ephemeral,
    )
    b = IssuerChannel.begin(
        device_public_key=phone.agreement_key,
        issuer_signing_key=phone.issuer_key,
        ephemeral_key=ephemeral,
    )
    assert a == b and len(a.hello) == 97 and a.hello[1:33] == bytes(ephemeral.public_key)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"pan": "12345"}, "bad_card_field"),
        ({"pan": "62509412345678901234"}, "bad_card_field"),
        ({"dpan": "625094123456789a"}, "bad_card_field"),
        ({"expiry": "2913"}, "bad_card_field"),
        ({"expiry": "29061"}, "bad_card_field"),
        ({"cardholder": ""}, "bad_card_field"),
        ({"cardholder": "张" * 16}, "bad_card_field"),
        ({"card_key": "11" * 31}, "bad_card_field"),
        ({"card_ref": "caf\u00e9"}, "bad_card_field"),
        ({"cvv": "123"}, "bad_card_field"),
    ],
)
def test_bad_card_fields(change: dict[str, str], reason: str) -> None:
    with pytest.raises(PersonalizationError) as caught:
        seal_personalization(
            card_fields={**CARD, **change},
            se_public_key=bytes(PrivateKey.generate().public_key),
            se_challenge=bytes(16),
            issuer_signing_key=SigningKey.generate(),
        )
    assert caught.value.reason == reason


def test_missing_field_and_bad_challenge_or_key() -> None:
    key = bytes(PrivateKey.generate().public_key)
    signer = SigningKey.generate()
    without_pan = {k: v for k, v in CARD.items() if k != "pan"}
    with pytest.raises(PersonalizationError, match="pan"):
        seal_personalization(
            card_fields=without_pan,
            se_public_key=key,
            se_challenge=bytes(16),
            issuer_signing_key=signer,
        )
    with pytest.raises(PersonalizationError) as caught:
        seal_personalization(
            card_fields=CARD, se_public_key=key, se_challenge=bytes(15), issuer_signing_key=signer
        )
    assert caught.value.reason == "bad_se_challenge"
    with pytest.raises(PersonalizationError) as caught:
        seal_personalization(
            card_fields=CARD,
            se_public_key=key[:31],
            se_challenge=bytes(16),
            issuer_signing_key=signer,
        )
    assert caught.value.reason == "bad_se_key"


def test_card_ref_is_optional_and_tags_ascend() -> None:
    card = {k: v for k, v in CARD.items() if k != "card_ref"}
    inner = personalization_tlvs(card_fields=card, se_challenge=bytes(16))
    tags, position = [], 0
    while position < len(inner):
        tags.append(inner[position])
        position += 3 + int.from_bytes(inner[position + 1 : position + 3], "big")
    assert tags == [1, 2, 3, 4, 5, 6]
