"""Path validation and attestation policy on chains built outside tee_sim (an attacker's PKI)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import ObjectIdentifier

from issuer.devicetrust import (
    AttestationRejected,
    VerifiedKey,
    minimum_patch_level,
    verify_key_attestation,
)
from tests.issuer.devicetrust.forge import (
    NOW,
    Attestation,
    Authority,
    ForgedDevice,
    forged_device,
    make_ca,
)

pytestmark = pytest.mark.unit

HEALTHY = Attestation()


def verify(chain: list[bytes], anchors: list[x509.Certificate], **overrides: object) -> VerifiedKey:
    kwargs: dict[str, object] = {
        "chain": chain,
        "expected_challenge": HEALTHY.challenge,
        "trust_anchors": anchors,
        "revoked_serials": frozenset(),
        "now": NOW,
        "expected_kind": "ed25519",
    }
    kwargs.update(overrides)
    return verify_key_attestation(**kwargs)  # type: ignore[arg-type]


def reason_of(chain: list[bytes], anchors: list[x509.Certificate], **overrides: object) -> str:
    with pytest.raises(AttestationRejected) as caught:
        verify(chain, anchors, **overrides)
    assert any(not c.passed for c in caught.value.checks)
    return caught.value.reason


@pytest.fixture(scope="module")
def device() -> ForgedDevice:
    return forged_device()


def test_healthy_chain_under_its_own_root_is_accepted(device: ForgedDevice) -> None:
    leaf_key = Ed25519PrivateKey.generate()
    verified = verify(device.attest(HEALTHY, leaf_key=leaf_key), [device.root.cert])
    assert verified.public_key == leaf_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert verified.security_level == "TrustedEnvironment"
    assert verified.verified_boot_state == "Verified"
    assert verified.device_certificate_serial == device.device.cert.serial_number
    assert all(c.passed for c in verified.checks)
    assert [c["subject"] for c in verified.chain] == [
        "CN=Android Keystore Key",
        "CN=Forged Device",
        "CN=Forged Attestation CA",
        "CN=Forged Root CA",
    ]


def test_root_included_at_the_end_is_accepted(device: ForgedDevice) -> None:
    verify([*device.attest(HEALTHY), device.root.der], [device.root.cert])


def test_self_made_root_is_untrusted(device: ForgedDevice) -> None:
    other_root = make_ca("Genuine Manufacturer Root")
    assert reason_of(device.attest(HEALTHY), [other_root.cert]) == "untrusted_root"
    # Shipping the self-made root inside the chain does not make it trusted.
    chain = [*device.attest(HEALTHY), device.root.der]
    assert reason_of(chain, [other_root.cert]) == "untrusted_root"


def test_root_with_the_same_name_but_another_key_is_untrusted(device: ForgedDevice) -> None:
    impostor = make_ca("Forged Root CA")
    assert reason_of(device.attest(HEALTHY), [impostor.cert]) == "untrusted_root"


def test_leaf_used_as_intermediate_is_rejected(device: ForgedDevice) -> None:
    # The attacker owns an attested signing key (e.g. via the keystore SIGN command) and signs
    # a leaf of their own choosing with it.
    leaf_key = Ed25519PrivateKey.generate()
    genuine = device.attest(HEALTHY, leaf_key=leaf_key)
    leaf_authority = Authority(key=leaf_key, cert=x509.load_der_x509_certificate(genuine[0]))
    forged_leaf = device.attest(HEALTHY, signer=leaf_authority)
    assert reason_of([*forged_leaf, *genuine], [device.root.cert]) == "bad_chain"


def test_path_length_zero_device_cert_cannot_issue_a_ca(device: ForgedDevice) -> None:
    sub = make_ca("Sub CA under device", parent=device.device)
    leaf = device.attest(HEALTHY, signer=sub)[0]
    chain = [leaf, sub.der, device.device.der, device.intermediate.der]
    assert reason_of(chain, [device.root.cert]) == "bad_chain"


def test_ca_without_key_cert_sign_cannot_issue() -> None:
    root = make_ca("Root")
    intermediate = make_ca("No-sign CA", parent=root, key_cert_sign=False)
    device_ca = make_ca("Device", parent=intermediate, path_length=0)
    dev = ForgedDevice(root=root, intermediate=intermediate, device=device_ca)
    assert reason_of(dev.attest(HEALTHY), [root.cert]) == "bad_chain"


def test_tampered_signature_fails(device: ForgedDevice) -> None:
    chain = device.attest(HEALTHY)
    leaf = bytearray(chain[0])
    leaf[-1] ^= 0x01  # last byte of the Ed25519 signature
    assert reason_of([bytes(leaf), *chain[1:]], [device.root.cert]) == "bad_signature"


def test_intermediates_out_of_order_fail(device: ForgedDevice) -> None:
    chain = device.attest(HEALTHY)
    assert reason_of([chain[0], chain[2], chain[1]], [device.root.cert]) == "bad_signature"


def test_expired_and_not_yet_valid_leaf(device: ForgedDevice) -> None:
    chain = device.attest(HEALTHY, not_after=NOW - timedelta(seconds=1))
    assert reason_of(chain, [device.root.cert]) == "expired_certificate"
    chain = device.attest(HEALTHY)
    assert reason_of(chain, [device.root.cert], now=NOW - timedelta(days=2)) == (
        "expired_certificate"
    )


def test_unknown_critical_extension_fails(device: ForgedDevice) -> None:
    extra = x509.UnrecognizedExtension(ObjectIdentifier("1.2.3.4.5"), b"\x05\x00")
    chain = device.attest(HEALTHY, extra=extra, critical_extra=True)
    assert reason_of(chain, [device.root.cert]) == "malformed_chain"


def test_revoked_device_certificate(device: ForgedDevice) -> None:
    revoked = {device.device.cert.serial_number}
    assert (
        reason_of(device.attest(HEALTHY), [device.root.cert], revoked_serials=revoked) == "revoked"
    )


@pytest.mark.parametrize("chain", [[], [b""], [b"\x30\x03\x02\x01\x01"], [b"not a cert"] * 2])
def test_garbage_chains_are_malformed(device: ForgedDevice, chain: list[bytes]) -> None:
    assert reason_of(chain, [device.root.cert]) == "malformed_chain"


def test_leaf_without_extension_is_rejected(device: ForgedDevice) -> None:
    sub_leaf = make_ca("Android Keystore Key", parent=device.device, ca=False)
    chain = [sub_leaf.der, device.device.der, device.intermediate.der]
    assert reason_of(chain, [device.root.cert]) == "missing_attestation"


@pytest.mark.parametrize(
    ("attestation", "overrides", "reason"),
    [
        (replace(HEALTHY, challenge=b"another challenge"), {}, "challenge_mismatch"),
        (replace(HEALTHY, attestation_level=0, keymint_level=0), {}, "software_keystore"),
        (replace(HEALTHY, keymint_level=0), {}, "software_keystore"),
        (replace(HEALTHY, boot_state=2, device_locked=False), {}, "bootloader_unlocked"),
        (replace(HEALTHY, boot_state=1, device_locked=False), {}, "custom_os"),
        (replace(HEALTHY, boot_state=3), {}, "boot_failed"),
        (replace(HEALTHY, device_locked=False), {}, "device_unlocked"),
        (replace(HEALTHY, include_root_of_trust=False), {}, "boot_state_unknown"),
        (replace(HEALTHY, os_patch_level=202205), {}, "outdated_patch"),
        (replace(HEALTHY, os_patch_level=None), {}, "patch_level_unknown"),
        (replace(HEALTHY, os_patch_level=202513), {}, "patch_level_unknown"),
        (replace(HEALTHY, os_patch_level=202505), {"min_patch_level": 202506}, "outdated_patch"),
        (replace(HEALTHY, purposes=(6,)), {}, "wrong_key_type"),
        (replace(HEALTHY, purposes=(2, 6)), {}, "wrong_key_type"),
        (replace(HEALTHY, ec_curve=1), {}, "wrong_key_type"),
        (replace(HEALTHY, algorithm=1), {}, "wrong_key_type"),
        (HEALTHY, {"expected_kind": "x25519"}, "wrong_key_type"),
        (replace(HEALTHY, origin=2), {}, "key_not_generated"),
        (replace(HEALTHY, origin=None), {}, "key_not_generated"),
        (replace(HEALTHY, app_ids=("com.evil.app",)), {}, "wrong_app"),
        (replace(HEALTHY, app_ids=()), {}, "wrong_app"),
        (HEALTHY, {"require_confirmation": True}, "confirmation_not_enforced"),
        (HEALTHY, {"trusted_boot_keys": {b"\x99" * 32}}, "custom_os"),
    ],
)
def test_policy_rejections(
    device: ForgedDevice, attestation: Attestation, overrides: dict[str, object], reason: str
) -> None:
    assert reason_of(device.attest(attestation), [device.root.cert], **overrides) == reason


def test_policy_failures_are_all_listed(device: ForgedDevice) -> None:
    attestation = replace(HEALTHY, boot_state=2, device_locked=False, os_patch_level=202001)
    with pytest.raises(AttestationRejected) as caught:
        verify(device.attest(attestation), [device.root.cert])
    failed = {c.name for c in caught.value.checks if not c.passed}
    assert failed == {"verified_boot", "device_locked", "patch_level"}
    assert caught.value.reason == "bootloader_unlocked"
    assert "unlocked" in caught.value.message


@pytest.mark.parametrize(
    "attestation",
    [replace(HEALTHY, confirmation=True), replace(HEALTHY, user_presence=True)],
)
def test_confirmation_requirement_accepted(device: ForgedDevice, attestation: Attestation) -> None:
    verified = verify(device.attest(attestation), [device.root.cert], require_confirmation=True)
    assert verified.confirmation_required or verified.user_presence_required


def test_x25519_agreement_key_accepted(device: ForgedDevice) -> None:
    chain = device.attest(replace(HEALTHY, purposes=(6,)), kind="x25519")
    verified = verify(chain, [device.root.cert], expected_kind="x25519")
    assert verified.kind == "x25519" and len(verified.public_key) == 32
    assert reason_of(chain, [device.root.cert]) == "wrong_key_type"


def test_strongbox_accepted(device: ForgedDevice) -> None:
    verified = verify(
        device.attest(replace(HEALTHY, attestation_level=2, keymint_level=2)), [device.root.cert]
    )
    assert verified.security_level == "StrongBox"


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [(2025, 6, 202406), (2025, 1, 202401), (2025, 12, 202412), (2024, 2, 202302)],
)
def test_minimum_patch_level(year: int, month: int, expected: int) -> None:
    assert minimum_patch_level(NOW.replace(year=year, month=month)) == expected


def test_naive_now_is_refused(device: ForgedDevice) -> None:
    with pytest.raises(ValueError, match="timezone"):
        verify(device.attest(HEALTHY), [device.root.cert], now=NOW.replace(tzinfo=None))
