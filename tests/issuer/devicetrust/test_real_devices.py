"""The issuer's verifier against real tee_sim phones of every profile, and forgeries of them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding
from pyasn1.codec.der import decoder, encoder
from pyasn1.type import univ
from pyasn1_modules import rfc5280

from issuer.devicetrust import (
    AttestationRejected,
    VerifiedKey,
    minimum_patch_level,
    verify_device_binding,
    verify_key_attestation,
)
from tee_sim import KEYSTORE_TA, PROFILES, KeystoreCommand, TeeStatus, wallet
from tests.issuer.devicetrust.conftest import CHALLENGE, DEVICE_CLOCK, ISSUER_NOW, Phones
from tests.issuer.devicetrust.forge import Attestation, ForgedDevice, forged_device, make_ca
from tests.tee_sim.support import as_bytes, as_chain

pytestmark = pytest.mark.unit

KINDS = {"signing": "ed25519", "agreement": "x25519", "se": "x25519"}


def verify(
    phones: Phones, chain: list[bytes], key: str = "signing", **overrides: object
) -> VerifiedKey:
    kwargs: dict[str, object] = {
        "chain": chain,
        "expected_challenge": CHALLENGE,
        "trust_anchors": phones.trust.trust_anchors,
        "revoked_serials": phones.trust.revoked_serials,
        "now": ISSUER_NOW,
        "expected_kind": KINDS[key],
        "require_confirmation": key == "signing",
        "trusted_boot_keys": phones.trust.verified_boot_keys,
    }
    kwargs.update(overrides)
    return verify_key_attestation(**kwargs)  # type: ignore[arg-type]


def rejection(
    phones: Phones, chain: list[bytes], key: str = "signing", **overrides: object
) -> AttestationRejected:
    with pytest.raises(AttestationRejected) as caught:
        verify(phones, chain, key, **overrides)
    return caught.value


def test_every_profile_is_covered() -> None:
    assert set(PROFILES) == {"genuine", "unlocked", "rooted", "software", "outdated", "revoked"}


@pytest.mark.parametrize("key", list(KINDS))
def test_genuine_phone_is_accepted_with_what_it_reports(phones: Phones, key: str) -> None:
    verified = verify(phones, phones.chain("genuine", key), key)
    assert verified.public_key == phones.bindings["genuine"][key]["public_key"]
    assert verified.kind == KINDS[key]
    assert verified.security_level == ("StrongBox" if key == "se" else "TrustedEnvironment")
    assert verified.verified_boot_state == "Verified" and verified.device_locked
    assert verified.os_patch_level == 202506
    assert verified.app_id == "cn.cardsim.wallet"
    assert len(verified.boot_hash_hex) == 64
    assert all(check.passed for check in verified.checks)
    device_id = phones.devices["genuine"].device_id
    expected = [
        "CN=Android Keystore Key",
        f"CN=cardsim device attestation {device_id}",
        "CN=Cardsim Attestation Intermediate",
        "CN=Cardsim Manufacturer Root",
    ]
    for summary, common_name in zip(verified.chain, expected, strict=True):
        assert common_name in summary["subject"]
    if key == "signing":
        assert verified.confirmation_required and verified.user_presence_required


@pytest.mark.parametrize(
    ("profile", "reason", "failed_checks"),
    [
        ("unlocked", "bootloader_unlocked", {"verified_boot", "device_locked"}),
        ("rooted", "custom_os", {"verified_boot", "device_locked"}),
        ("software", "software_keystore", None),
        ("outdated", "outdated_patch", {"patch_level"}),
        ("revoked", "revoked", {"revocation"}),
    ],
)
@pytest.mark.parametrize("key", list(KINDS))
def test_each_bad_profile_is_detected_with_its_reason(
    phones: Phones, profile: str, reason: str, failed_checks: set[str] | None, key: str
) -> None:
    rejected = rejection(phones, phones.chain(profile, key), key)
    assert rejected.reason == reason
    assert rejected.message and "_" not in rejected.message
    failed = {c.name for c in rejected.checks if not c.passed}
    if failed_checks is not None:
        assert failed == failed_checks
    else:
        # Software keystore: nothing is hardware-enforced, so every hardware fact is missing.
        assert {"security_level", "verified_boot", "patch_level", "key_type"} <= failed


def test_rooted_phone_boot_key_differs_from_manufacturer(phones: Phones) -> None:
    # Even ignoring the SelfSigned state, the boot key alone would give it away.
    rejected = rejection(phones, phones.chain("rooted", "signing"))
    detail = next(c.detail for c in rejected.checks if c.name == "verified_boot")
    assert "SelfSigned" in detail
    genuine = verify(phones, phones.chain("genuine", "signing"))
    assert genuine.verified_boot_state == "Verified"


def test_outdated_phone_passes_with_a_lenient_patch_floor(phones: Phones) -> None:
    # 36 months behind is exactly what the profile promises.
    verified = verify(phones, phones.chain("outdated", "signing"), min_patch_level=202206)
    assert verified.os_patch_level == 202206
    assert minimum_patch_level(ISSUER_NOW) == 202406


def test_revoked_phone_is_otherwise_healthy(phones: Phones) -> None:
    verified = verify(phones, phones.chain("revoked", "signing"), revoked_serials=frozenset())
    assert verified.verified_boot_state == "Verified"
    assert verified.device_certificate_serial in phones.trust.revoked_serials


def test_wrong_challenge(phones: Phones) -> None:
    rejected = rejection(
        phones, phones.chain("genuine", "signing"), expected_challenge=CHALLENGE[::-1]
    )
    assert rejected.reason == "challenge_mismatch"


def test_wrong_kind_is_refused(phones: Phones) -> None:
    assert (
        rejection(phones, phones.chain("genuine", "agreement"), "signing").reason
        == "wrong_key_type"
    )
    assert (
        rejection(phones, phones.chain("genuine", "signing"), "agreement").reason
        == "wrong_key_type"
    )


def test_key_without_confirmation_cannot_serve_as_signing_key(phones: Phones) -> None:
    device = phones.devices["genuine"]
    result = device.open_session(KEYSTORE_TA).invoke(
        KeystoreCommand.GENERATE_KEY, {"alias": "plain", "kind": "ed25519", "challenge": CHALLENGE}
    )
    assert result.status == TeeStatus.TEEC_SUCCESS
    chain = as_chain(result.values["chain"])
    assert verify(phones, chain, require_confirmation=False).kind == "ed25519"
    assert rejection(phones, chain).reason == "confirmation_not_enforced"


def test_self_made_root_is_untrusted(phones: Phones) -> None:
    forged = forged_device()
    attestation = Attestation(challenge=CHALLENGE, confirmation=True, os_patch_level=202506)
    assert rejection(phones, forged.attest(attestation)).reason == "untrusted_root"
    # A forged root with the manufacturer's exact name and the genuine intermediates' names.
    root = make_ca("Cardsim Manufacturer Root")
    chain = forged_device(root).attest(attestation)
    assert rejection(phones, [*chain, root.der]).reason == "untrusted_root"


def test_genuine_chain_under_a_foreign_anchor_is_untrusted(phones: Phones) -> None:
    rejected = rejection(
        phones, phones.chain("genuine", "signing"), trust_anchors=[make_ca("Other").cert]
    )
    assert rejected.reason == "untrusted_root"


def _resign(cert_der: bytes, tbs_der: bytes, signature: bytes) -> bytes:
    cert, _ = decoder.decode(cert_der, asn1Spec=rfc5280.Certificate())
    tbs, _ = decoder.decode(tbs_der, asn1Spec=rfc5280.TBSCertificate())
    cert["tbsCertificate"] = tbs
    cert["signature"] = univ.BitString.fromOctetString(signature)
    return bytes(encoder.encode(cert))


def test_attested_leaf_used_as_intermediate_is_rejected(phones: Phones) -> None:
    """Attack: ask the TEE to sign, with an attested no-confirmation key, a forged leaf that
    claims confirmation is required, and present it with the genuine leaf as its issuer."""
    device = phones.devices["genuine"]
    session = device.open_session(KEYSTORE_TA)
    made = session.invoke(
        KeystoreCommand.GENERATE_KEY,
        {"alias": "attacker", "kind": "ed25519", "challenge": CHALLENGE},
    )
    genuine_chain = as_chain(made.values["chain"])
    genuine_leaf = x509.load_der_x509_certificate(genuine_chain[0])
    # Build the forged leaf with a throwaway key, then replace its signature by the TEE's.
    throwaway = Ed25519PrivateKey.generate()
    device_ca = forged_device().device
    device_ca.key = throwaway
    device_ca.cert = genuine_leaf  # its subject becomes the forged leaf's issuer
    template = ForgedDevice(root=device_ca, intermediate=device_ca, device=device_ca).attest(
        Attestation(challenge=CHALLENGE, confirmation=True, os_patch_level=202506),
        signer=device_ca,
    )[0]
    tbs = x509.load_der_x509_certificate(template).tbs_certificate_bytes
    signed = session.invoke(KeystoreCommand.SIGN, {"alias": "attacker", "message": tbs})
    assert signed.status == TeeStatus.TEEC_SUCCESS
    forged_leaf = _resign(template, tbs, as_bytes(signed.values["signature"]))
    # The signature itself is genuine: only the path rules stop it.
    x509.load_der_x509_certificate(forged_leaf).verify_directly_issued_by(genuine_leaf)
    rejected = rejection(phones, [forged_leaf, *genuine_chain])
    assert rejected.reason == "bad_chain"
    failed = [c for c in rejected.checks if not c.passed]
    assert [c.name for c in failed] == ["ca_constraints"]
    assert "is not a CA" in failed[0].detail


def test_leaf_of_one_device_with_another_devices_certificate(phones: Phones) -> None:
    leaf = phones.chain("genuine", "signing")[0]
    other = phones.chain("outdated", "signing")
    assert rejection(phones, [leaf, *other[1:]]).reason == "bad_signature"


def test_chain_with_intermediate_missing(phones: Phones) -> None:
    chain = phones.chain("genuine", "signing")
    assert rejection(phones, chain[:2]).reason == "untrusted_root"
    assert rejection(phones, chain[:1]).reason == "untrusted_root"


def test_root_may_be_appended(phones: Phones) -> None:
    root_der = phones.trust.trust_anchors[0].public_bytes(Encoding.DER)
    verify(phones, [*phones.chain("genuine", "signing"), root_der])


def test_validity_window_is_enforced(phones: Phones) -> None:
    chain = phones.chain("genuine", "signing")
    rejected = rejection(phones, chain, now=DEVICE_CLOCK - timedelta(hours=1))
    assert rejected.reason == "expired_certificate"


def test_binding_of_one_genuine_phone(phones: Phones) -> None:
    binding = verify_device_binding(
        signing_chain=phones.chain("genuine", "signing"),
        agreement_chain=phones.chain("genuine", "agreement"),
        se_chain=phones.chain("genuine", "se"),
        expected_challenge=CHALLENGE,
        trust_anchors=phones.trust.trust_anchors,
        revoked_serials=phones.trust.revoked_serials,
        now=ISSUER_NOW,
        trusted_boot_keys=phones.trust.verified_boot_keys,
    )
    assert binding.se.security_level == "StrongBox"
    assert binding.signing.confirmation_required
    assert binding.device_certificate_serial == binding.agreement.device_certificate_serial


def binding_rejection(phones: Phones, *, agreement: list[bytes], se: list[bytes]) -> str:
    """The reason the issuer refuses the genuine signing chain with these two chains."""
    with pytest.raises(AttestationRejected) as caught:
        verify_device_binding(
            signing_chain=phones.chain("genuine", "signing"),
            agreement_chain=agreement,
            se_chain=se,
            expected_challenge=CHALLENGE,
            trust_anchors=phones.trust.trust_anchors,
            revoked_serials=phones.trust.revoked_serials,
            now=ISSUER_NOW,
        )
    return caught.value.reason


def test_binding_with_keys_swapped_between_two_phones(phones: Phones) -> None:
    other = phones.new_device()
    other_binding = wallet.bind(other, challenge=CHALLENGE)
    assert binding_rejection(phones, agreement=phones.chain("genuine", "agreement"),
                             se=other_binding["se"]["chain"],  # type: ignore[arg-type]
                             ) == "different_devices"


def test_binding_with_tee_key_in_place_of_se_key(phones: Phones) -> None:
    agreement = phones.chain("genuine", "agreement")
    assert binding_rejection(phones, agreement=agreement, se=agreement) == "se_not_strongbox"


def test_binding_with_the_se_key_also_as_the_agreement_key(phones: Phones) -> None:
    # Both chains are genuine StrongBox attestations of one key: each passes on its own, but
    # the channel and the card sealing must not share a key.
    se = phones.chain("genuine", "se")
    assert binding_rejection(phones, agreement=se, se=se) == "key_reused"


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_every_single_bit_flip_of_a_genuine_chain_is_rejected(phones: Phones) -> None:
    """Exhaustive over positions (lowest and highest bit): no flip crashes, none passes —
    including the unsigned outer signature BIT STRING header, whose malleability cryptography
    tolerates."""
    chain = phones.chain("genuine", "signing")
    outcomes: dict[str, int] = {}
    for index, der in enumerate(chain):
        for position in range(len(der)):
            for bit in (0x01, 0x80):
                mutant = bytearray(der)
                mutant[position] ^= bit
                forged = [*chain[:index], bytes(mutant), *chain[index + 1 :]]
                try:
                    verify(phones, forged)
                except AttestationRejected as exc:
                    outcomes[exc.reason] = outcomes.get(exc.reason, 0) + 1
                else:
                    pytest.fail(f"certificate {index} byte {position} ^ {bit:#x} still verifies")
    assert sum(outcomes.values()) == 2 * sum(len(der) for der in chain)
    assert {"malformed_chain", "bad_signature"} <= set(outcomes)
