"""Hostile bytes reach the issuer's parsers only as the package's own rejections."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey
from pyasn1.codec.der import decoder as der_decoder
from pyasn1.codec.der import encoder as der_encoder

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
from issuer.devicetrust.asn1_schema import KeyDescription
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


Tlv = tuple[bytes, "bytes | list[Tlv]"]  # tag bytes, then primitive content or children


def parse_tlvs(der: bytes) -> list[Tlv]:
    """The TLV tree of DER bytes (the test's own walker, independent of pyasn1)."""
    nodes: list[Tlv] = []
    start = 0
    while start < len(der):
        position = start + 1
        if der[start] & 0x1F == 0x1F:  # high tag number: base-128 digits
            while der[position] & 0x80:
                position += 1
            position += 1
        tag, size, content = der[start:position], der[position], position + 1
        if size & 0x80:
            count = size & 0x7F
            size = int.from_bytes(der[content:content + count], "big")
            content += count
        body = der[content:content + size]
        nodes.append((tag, parse_tlvs(body) if tag[0] & 0x20 else body))
        start = content + size
    return nodes


def encode_tlvs(nodes: list[Tlv], long_form: int, counter: list[int]) -> bytes:
    """Encode again; the `long_form`-th node (pre-order) gets a 3-byte long-form length."""
    out = b""
    for tag, body in nodes:
        index = counter[0]
        counter[0] += 1
        content = body if isinstance(body, bytes) else encode_tlvs(body, long_form, counter)
        if index == long_form:
            length = b"\x83" + len(content).to_bytes(3, "big")
        elif len(content) < 0x80:
            length = bytes([len(content)])
        else:
            raw = len(content).to_bytes((len(content).bit_length() + 7) // 8, "big")
            length = bytes([0x80 | len(raw)]) + raw
        out += tag + length + content
    return out


def count_tlvs(nodes: list[Tlv]) -> int:
    return sum(1 + (0 if isinstance(body, bytes) else count_tlvs(body)) for _, body in nodes)


VALID_TREE = parse_tlvs(VALID)
assert encode_tlvs(VALID_TREE, -1, [0]) == VALID


@st.composite
def ber_variant(draw: st.DrawFn, valid: bytes) -> bytes:
    """The same values with one length in long form: BER, not DER."""
    return encode_tlvs(VALID_TREE, draw(st.integers(0, count_tlvs(VALID_TREE) - 1)), [0])


@settings(max_examples=300, deadline=None)
@given(st.one_of(mutated(VALID), ber_variant(VALID)))
def test_key_description_parser_accepts_only_der(data: bytes) -> None:
    try:
        parse_key_description(data)
    except AttestationRejected as exc:
        assert exc.reason == "malformed_attestation"
    else:
        # Accepted bytes are the one DER encoding of what was read.
        value, _ = der_decoder.decode(data, asn1Spec=KeyDescription())
        assert bytes(der_encoder.encode(value)) == data
