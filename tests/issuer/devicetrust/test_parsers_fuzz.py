"""Hostile bytes reach the issuer's parsers only as the package's own rejections."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from issuer.devicetrust import (
    AttestationRejected,
    ChannelError,
    ConfirmationRejected,
    DeviceTrustError,
    IssuerChannel,
    parse_revoked_serials,
    verify_confirmation,
    verify_key_attestation,
)
from issuer.devicetrust.key_description import parse_application_id, parse_key_description
from tests.issuer.devicetrust.forge import NOW, Attestation, forged_device

pytestmark = pytest.mark.unit

VALID = Attestation(confirmation=True).der()
DEVICE = forged_device()
LEAF_KEY = Ed25519PrivateKey.generate()
VALID_CHAIN = DEVICE.attest(Attestation(), leaf_key=LEAF_KEY)
VALID_KEY = LEAF_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@st.composite
def mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        choice = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        position = draw(st.integers(0, max(0, len(data) - 1)))
        if choice == "flip" and data:
            data[position] ^= draw(st.integers(1, 255))
        elif choice == "cut":
            del data[position:]
        elif choice == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=4))
        elif data:
            del data[position]
    return bytes(data)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), mutated(VALID)))
def test_key_description_parser_only_rejects_cleanly(data: bytes) -> None:
    try:
        parse_key_description(data)
    except AttestationRejected as exc:
        assert exc.reason == "malformed_attestation"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_application_id_parser_only_rejects_cleanly(data: bytes) -> None:
    try:
        parse_application_id(data)
    except AttestationRejected as exc:
        assert exc.reason == "malformed_attestation"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_chains_never_crash_and_never_change_the_key(data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(VALID_CHAIN) - 1))
    chain = list(VALID_CHAIN)
    chain[index] = data.draw(mutated(chain[index]))
    try:
        verified = verify_key_attestation(
            chain=chain,
            expected_challenge=Attestation().challenge,
            trust_anchors=[DEVICE.root.cert],
            revoked_serials=frozenset(),
            now=NOW,
            expected_kind="ed25519",
        )
    except AttestationRejected:
        return
    # Anything accepted must still be exactly the key the device certificate signed.
    assert verified.public_key == VALID_KEY


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_channel_open_only_rejects_cleanly(record: bytes) -> None:
    channel = IssuerChannel.begin(
        device_public_key=bytes(SigningKey.generate().verify_key.to_curve25519_public_key()),
        issuer_signing_key=SigningKey.generate(),
    ).channel
    with pytest.raises(ChannelError):
        channel.open(record)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40), st.text(max_size=20), st.binary(max_size=70), st.binary(max_size=80))
def test_confirmation_only_rejects_cleanly(
    key: bytes, prompt: str, nonce: bytes, signature: bytes
) -> None:
    with pytest.raises(ConfirmationRejected):
        verify_confirmation(
            public_key=key, prompt_text=prompt, nonce=nonce, message=b"x", signature=signature
        )


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=80), st.text(max_size=80).map(str.encode)))
def test_revocation_list_parser_only_rejects_cleanly(data: bytes) -> None:
    try:
        serials = parse_revoked_serials(data)
    except DeviceTrustError as exc:
        assert exc.reason == "bad_trust_material"
    else:
        assert all(isinstance(s, int) for s in serials)


ANY_INTEGER = st.one_of(
    st.integers(),
    st.integers(0, 6000).map(lambda digits: 10**digits + 6),
    st.integers(0, 6000).map(lambda digits: -(10**digits)),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from(["os_patch_level", "algorithm", "ec_curve", "origin", "purposes"]),
    number=ANY_INTEGER,
)
def test_any_integer_in_the_attestation_is_verified_or_rejected(field: str, number: int) -> None:
    attestation = (
        replace(Attestation(), purposes=(2, number))
        if field == "purposes"
        else replace(Attestation(), **{field: number})  # type: ignore[arg-type]
    )
    chain = DEVICE.attest(attestation)
    try:
        verify_key_attestation(
            chain=chain,
            expected_challenge=Attestation().challenge,
            trust_anchors=[DEVICE.root.cert],
            revoked_serials=frozenset(),
            now=NOW,
            expected_kind="ed25519",
        )
    except AttestationRejected as exc:
        assert exc.reason and exc.message and all(len(c.detail) < 1000 for c in exc.checks)
