"""A security tester's chains, submitted through `verify_device_binding` (what the binding
endpoint runs): each is refused with a precise reason, never an exception, or accepted only
where a real Android Key Attestation verifier would accept it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ObjectIdentifier
from pyasn1.codec.der import decoder as der_decoder
from pyasn1.codec.der import encoder as der_encoder
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from issuer.device_binding import begin_device_binding, complete_device_binding
from issuer.devicetrust import (
    AttestationRejected,
    ManufacturerTrust,
    VerifiedBinding,
    verify_device_binding,
)
from issuer.devicetrust.asn1_schema import KEY_DESCRIPTION_OID, KeyDescription
from issuer.models import DeviceBinding
from issuer.states import ApplicationState
from tests.issuer.devicetrust.forge import (
    NOW,
    Attestation,
    Authority,
    ForgedDevice,
    forged_device,
    make_ca,
    name,
)
from tests.issuer.flow import Flow, PhoneLab

pytestmark = pytest.mark.unit

CHALLENGE = Attestation().challenge
SIGNING = Attestation(confirmation=True)
AGREEMENT = Attestation(purposes=(6,))
SE = Attestation(purposes=(6,), attestation_level=2, keymint_level=2)
KD_OID = ObjectIdentifier(KEY_DESCRIPTION_OID)
HUGE_PATCH_LEVEL = 2**64 - 10  # a uint64 ending in "06", too large for a SQL BIGINT
ED25519_ALGORITHM = bytes.fromhex("300506032b6570")  # AlgorithmIdentifier id-Ed25519

CaKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@pytest.fixture(scope="module")
def device() -> ForgedDevice:
    return forged_device()


def chains(device: ForgedDevice) -> dict[str, list[bytes]]:
    return {
        "signing": device.attest(SIGNING),
        "agreement": device.attest(AGREEMENT, kind="x25519"),
        "se": device.attest(SE, kind="x25519"),
    }


def bind(
    device: ForgedDevice,
    *,
    anchors: list[x509.Certificate] | None = None,
    revoked: frozenset[int] = frozenset(),
    **replaced: list[bytes],
) -> VerifiedBinding:
    submitted = {**chains(device), **replaced}
    return verify_device_binding(
        signing_chain=submitted["signing"],
        agreement_chain=submitted["agreement"],
        se_chain=submitted["se"],
        expected_challenge=CHALLENGE,
        trust_anchors=anchors or [device.root.cert],
        revoked_serials=revoked,
        now=NOW,
    )


def refusal(device: ForgedDevice, **kwargs: object) -> tuple[str, str]:
    """The reason code and the failed check's name; any other exception fails the test."""
    with pytest.raises(AttestationRejected) as caught:
        bind(device, **kwargs)  # type: ignore[arg-type]
    failed = [check for check in caught.value.checks if not check.passed]
    assert failed and caught.value.message
    return caught.value.reason, failed[0].name


# --- building hostile certificates -------------------------------------------------------


def _der_length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    body = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(body)) + body


def signed_with_ed25519(tbs: bytes, key: Ed25519PrivateKey) -> bytes:
    """A certificate around hand-edited TBS bytes, signed again by `key`."""
    return tlv(0x30, tbs + ED25519_ALGORITHM + tlv(0x03, b"\x00" + key.sign(tbs)))


def leaf(
    signer: Authority,
    *,
    attestation: Attestation = SIGNING,
    extensions: tuple[tuple[x509.ExtensionType, bool], ...] = (),
    issuer: x509.Name | None = None,
    serial: int | None = None,
    key: object = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(name("Android Keystore Key"))
        .issuer_name(issuer or signer.cert.subject)
        .public_key(key or Ed25519PrivateKey.generate().public_key())  # type: ignore[arg-type]
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.UnrecognizedExtension(KD_OID, attestation.der()), critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signer.key, None)


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def any_ca(
    common_name: str,
    key: CaKey,
    *,
    parent: tuple[x509.Name, CaKey] | None = None,
    path_length: int | None = None,
) -> tuple[x509.Certificate, CaKey]:
    """A CA of any key type (RSA, EC or Ed25519), signed by `parent` (self-signed if None)."""
    subject = name(common_name)
    issuer_name, signer = parent or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=365))
        .not_valid_after(NOW + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
    )
    digest = None if isinstance(signer, Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(signer, digest), key


# --- signatures, CA rules, order ---------------------------------------------------------


def test_the_healthy_binding_verifies(device: ForgedDevice) -> None:
    verified = bind(device)
    assert verified.se.security_level == "StrongBox"
    assert verified.device_certificate_serial == device.device.cert.serial_number


def test_leaf_signed_by_a_non_ca_is_refused(device: ForgedDevice) -> None:
    key = Ed25519PrivateKey.generate()
    holder = Authority(key=key, cert=leaf(device.device, key=key.public_key()))
    forged = leaf(holder)
    signing = [der(forged), der(holder.cert), device.device.der, device.intermediate.der]
    assert refusal(device, signing=signing) == ("bad_chain", "ca_constraints")


@pytest.mark.parametrize("ca", [False, None], ids=["ca-false", "no-basic-constraints"])
def test_intermediate_that_is_not_a_ca_is_refused(ca: bool | None) -> None:
    root = make_ca("Root")
    key = Ed25519PrivateKey.generate()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name("Not a CA"))
        .issuer_name(root.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
    not_ca = Authority(key=key, cert=builder.sign(root.key, None))
    device_ca = make_ca("Device", parent=not_ca, path_length=0)
    dev = ForgedDevice(root=root, intermediate=not_ca, device=device_ca)
    assert refusal(dev, anchors=[root.cert]) == ("bad_chain", "ca_constraints")


def test_path_length_of_the_intermediate_is_enforced() -> None:
    root = make_ca("Root")
    intermediate = make_ca("Intermediate pathlen 0", parent=root, path_length=0)
    device_ca = make_ca("Device", parent=intermediate, path_length=0)
    dev = ForgedDevice(root=root, intermediate=intermediate, device=device_ca)
    assert refusal(dev, anchors=[root.cert]) == ("bad_chain", "ca_constraints")


def test_root_path_length_is_enforced() -> None:
    root = make_ca("Root pathlen 0", path_length=0)
    intermediate = make_ca("Intermediate", parent=root)
    dev = ForgedDevice(root, intermediate, make_ca("Device", parent=intermediate, path_length=0))
    assert refusal(dev, anchors=[root.cert]) == ("untrusted_root", "trusted_root")


def test_root_without_key_cert_sign_is_not_an_issuer() -> None:
    root = make_ca("Root", key_cert_sign=False)
    intermediate = make_ca("Intermediate", parent=root)
    dev = ForgedDevice(root, intermediate, make_ca("Device", parent=intermediate, path_length=0))
    assert refusal(dev, anchors=[root.cert]) == ("untrusted_root", "trusted_root")


def test_mixed_rsa_ec_ed25519_chain_is_accepted_when_every_signature_verifies() -> None:
    # Google's own chains mix key types (an RSA root over EC intermediates).
    root, root_key = any_ca("RSA Root", rsa.generate_private_key(public_exponent=65537,
                                                                   key_size=2048))
    inter, inter_key = any_ca("EC Intermediate", ec.generate_private_key(ec.SECP256R1()),
                              parent=(root.subject, root_key))
    device_key = Ed25519PrivateKey.generate()
    device_cert, _ = any_ca("Ed25519 Device", device_key, parent=(inter.subject, inter_key),
                            path_length=0)
    dev = ForgedDevice(root=Authority(key=Ed25519PrivateKey.generate(), cert=root),
                       intermediate=Authority(key=Ed25519PrivateKey.generate(), cert=inter),
                       device=Authority(key=device_key, cert=device_cert))
    assert bind(dev, anchors=[root]).se.security_level == "StrongBox"


def test_signature_algorithm_not_matching_the_issuer_key_is_refused(device: ForgedDevice) -> None:
    # The device certificate claims ecdsa-with-SHA256 while its issuer holds an Ed25519 key.
    ec_key = ec.generate_private_key(ec.SECP256R1())
    claimed = (
        x509.CertificateBuilder()
        .subject_name(device.device.cert.subject)
        .issuer_name(device.intermediate.cert.subject)
        .public_key(device.device.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ec_key, hashes.SHA256())
    )
    signing = [device.attest(SIGNING)[0], der(claimed), device.intermediate.der]
    assert refusal(device, signing=signing) == ("bad_signature", "signatures")


def test_self_signed_leaf_is_refused(device: ForgedDevice) -> None:
    key = Ed25519PrivateKey.generate()
    self_signed = leaf(Authority(key=key, cert=device.device.cert), key=key.public_key(),
                       issuer=name("Android Keystore Key"))
    assert refusal(device, signing=[der(self_signed)]) == ("untrusted_root", "trusted_root")
    signing = [der(self_signed), device.device.der, device.intermediate.der]
    assert refusal(device, signing=signing) == ("bad_signature", "signatures")


def test_shuffled_chain_is_refused(device: ForgedDevice) -> None:
    genuine = device.attest(SIGNING)
    for shuffled in ([genuine[1], genuine[0], genuine[2]], [genuine[2], genuine[1], genuine[0]]):
        assert refusal(device, signing=shuffled)[0] in {"bad_chain", "bad_signature"}


def test_unrelated_certificate_appended_is_refused(device: ForgedDevice) -> None:
    unrelated = make_ca("Unrelated CA").der
    assert refusal(device, signing=[*device.attest(SIGNING), unrelated]) == (
        "bad_signature", "signatures")
    assert refusal(device, signing=[*device.attest(SIGNING), device.root.der, unrelated]) == (
        "bad_signature", "signatures")


def test_certificate_repeated_in_the_middle_is_refused(device: ForgedDevice) -> None:
    genuine = device.attest(SIGNING)
    assert refusal(device, signing=[genuine[0], genuine[1], *genuine[1:]]) == (
        "bad_chain", "distinct_certificates")


def test_root_repeated_at_the_end_is_refused(device: ForgedDevice) -> None:
    # RFC 5280 §6.1: no certificate appears twice in a path. The self-signed root repeated
    # "verifies" as its own issuer, so only an explicit check stops this one.
    signing = [*device.attest(SIGNING), device.root.der, device.root.der]
    assert refusal(device, signing=signing) == ("bad_chain", "distinct_certificates")
    # Once, at the end, the root is fine (Android chains include it).
    assert bind(device, signing=[*device.attest(SIGNING), device.root.der]) is not None


@pytest.mark.parametrize("count", [7, 50])
def test_long_chains_are_refused_before_parsing(device: ForgedDevice, count: int) -> None:
    assert refusal(device, signing=[device.device.der] * count) == (
        "malformed_chain", "chain_parsed")


def test_a_megabyte_certificate_is_refused(device: ForgedDevice) -> None:
    huge = tlv(0x30, b"\x00" * (1 << 20))
    assert refusal(device, signing=[huge, *device.attest(SIGNING)[1:]]) == (
        "malformed_chain", "chain_parsed")


# --- names and validity ------------------------------------------------------------------


def test_issuer_name_not_matching_the_signer_subject_is_refused(device: ForgedDevice) -> None:
    misnamed = leaf(device.device, issuer=name("Somebody Else"))
    signing = [der(misnamed), device.device.der, device.intermediate.der]
    assert refusal(device, signing=signing) == ("bad_signature", "signatures")


@pytest.mark.parametrize("which", ["intermediate", "root"])
@pytest.mark.parametrize("when", ["expired", "not_yet_valid"])
def test_expired_or_not_yet_valid_ca_is_refused(which: str, when: str) -> None:
    window = (
        {"not_after": NOW - timedelta(seconds=1)}
        if when == "expired"
        else {"not_before": NOW + timedelta(seconds=1)}
    )
    root = make_ca("Root", **(window if which == "root" else {}))  # type: ignore[arg-type]
    intermediate = make_ca("Intermediate", parent=root,
                           **(window if which == "intermediate" else {}))  # type: ignore[arg-type]
    dev = ForgedDevice(root, intermediate, make_ca("Device", parent=intermediate, path_length=0))
    assert refusal(dev, anchors=[root.cert]) == ("expired_certificate", "validity")


# --- root pinning ------------------------------------------------------------------------


def test_root_with_the_same_name_and_another_key_is_refused(device: ForgedDevice) -> None:
    impostor = make_ca("Forged Root CA")
    impostor_device = forged_device(impostor)
    assert refusal(impostor_device, anchors=[device.root.cert]) == (
        "untrusted_root", "trusted_root")
    # Shipping the impostor root at the end of the chain does not help either.
    signing = [*impostor_device.attest(SIGNING), impostor.der]
    assert refusal(impostor_device, anchors=[device.root.cert], signing=signing) == (
        "untrusted_root", "trusted_root")


def test_root_not_last_is_refused(device: ForgedDevice) -> None:
    genuine = device.attest(SIGNING)
    assert refusal(device, signing=[genuine[0], genuine[1], device.root.der, genuine[2]]) == (
        "bad_signature", "signatures")


# --- the attestation extension -----------------------------------------------------------


def test_leaf_without_the_extension_is_refused(device: ForgedDevice) -> None:
    bare = make_ca("Android Keystore Key", parent=device.device, ca=False)
    signing = [bare.der, device.device.der, device.intermediate.der]
    assert refusal(device, signing=signing) == ("missing_attestation", "attestation_extension")


def test_duplicated_extension_is_refused(device: ForgedDevice) -> None:
    # Two extensions differing in the OID's last arc, then the second renamed to 17 and the
    # certificate signed again: cryptography's builder refuses to emit a duplicate itself.
    decoy = ObjectIdentifier(KEY_DESCRIPTION_OID[:-2] + "99")
    cert = leaf(device.device,
                extensions=((x509.UnrecognizedExtension(decoy, SIGNING.der()), False),))
    decoy_der = bytes.fromhex("060a2b06010401d679020163")
    assert decoy_der in cert.tbs_certificate_bytes
    tbs = cert.tbs_certificate_bytes.replace(decoy_der, decoy_der[:-1] + b"\x11")
    signing = [signed_with_ed25519(tbs, device.device.key), device.device.der,
               device.intermediate.der]
    assert refusal(device, signing=signing) == ("malformed_chain", "chain_parsed")


def test_extension_in_the_device_certificate_instead_of_the_leaf_is_refused(
    device: ForgedDevice,
) -> None:
    key = Ed25519PrivateKey.generate()
    attested_ca = (
        x509.CertificateBuilder()
        .subject_name(name("Attested Device"))
        .issuer_name(device.intermediate.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.UnrecognizedExtension(KD_OID, SIGNING.der()), critical=False)
        .sign(device.intermediate.key, None)
    )
    plain_leaf = (
        x509.CertificateBuilder()
        .subject_name(name("Android Keystore Key"))
        .issuer_name(attested_ca.subject)
        .public_key(Ed25519PrivateKey.generate().public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(key, None)
    )
    signing = [der(plain_leaf), der(attested_ca), device.intermediate.der]
    assert refusal(device, signing=signing) == ("bad_chain", "attestation_only_in_leaf")


def test_critical_attestation_extension_is_refused(device: ForgedDevice) -> None:
    # docs/protocol.md §2.1: the extension is non-critical; a critical one is not ours.
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("Android Keystore Key"))
        .issuer_name(device.device.cert.subject)
        .public_key(Ed25519PrivateKey.generate().public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.UnrecognizedExtension(KD_OID, SIGNING.der()), critical=True)
        .sign(device.device.key, None)
    )
    signing = [der(cert), device.device.der, device.intermediate.der]
    assert refusal(device, signing=signing) == ("malformed_chain", "extensions")


@pytest.mark.parametrize("where", ["leaf", "device"])
def test_unknown_critical_extension_is_refused(device: ForgedDevice, where: str) -> None:
    unknown = x509.UnrecognizedExtension(ObjectIdentifier("1.2.3.4.5"), b"\x05\x00")
    if where == "leaf":
        signing = [der(leaf(device.device, extensions=((unknown, True),))),
                   device.device.der, device.intermediate.der]
    else:
        key = Ed25519PrivateKey.generate()
        device_ca = (
            x509.CertificateBuilder()
            .subject_name(device.device.cert.subject)
            .issuer_name(device.intermediate.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(unknown, critical=True)
            .sign(device.intermediate.key, None)
        )
        signing = [der(leaf(Authority(key=key, cert=device_ca))), der(device_ca),
                   device.intermediate.der]
    assert refusal(device, signing=signing) == ("malformed_chain", "extensions")


@pytest.mark.parametrize(
    ("attestation", "reason"),
    [
        (replace(SIGNING, challenge=b"challenge of another application"), "challenge_mismatch"),
        (replace(SIGNING, attestation_level=0, keymint_level=0), "software_keystore"),
        (replace(SIGNING, boot_state=2, device_locked=False), "bootloader_unlocked"),
        (replace(SIGNING, boot_state=1), "custom_os"),
        (replace(SIGNING, boot_state=3), "boot_failed"),
        (replace(SIGNING, device_locked=False), "device_unlocked"),
        (replace(SIGNING, os_patch_level=202312), "outdated_patch"),
        (replace(SIGNING, os_patch_level=-202506), "patch_level_unknown"),
        (replace(SIGNING, purposes=(2, 6)), "wrong_key_type"),
        (replace(SIGNING, algorithm=1), "wrong_key_type"),
        (replace(SIGNING, confirmation=False), "confirmation_not_enforced"),
    ],
)
def test_attestation_policy_refusals(
    device: ForgedDevice, attestation: Attestation, reason: str
) -> None:
    assert refusal(device, signing=device.attest(attestation))[0] == reason


def test_attested_key_of_another_type_than_the_leaf_key_is_refused(device: ForgedDevice) -> None:
    # The KeyDescription claims an Ed25519 signing key; the leaf holds a P-256 key.
    ec_leaf = leaf(device.device, key=ec.generate_private_key(ec.SECP256R1()).public_key())
    signing = [der(ec_leaf), device.device.der, device.intermediate.der]
    assert refusal(device, signing=signing)[0] == "wrong_key_type"


# --- revocation --------------------------------------------------------------------------


@pytest.mark.parametrize("position", [0, 1, 2])
def test_revoked_serial_anywhere_in_the_path_is_refused(
    device: ForgedDevice, position: int
) -> None:
    signing = device.attest(SIGNING)
    serial = x509.load_der_x509_certificate(signing[position]).serial_number
    assert refusal(device, signing=signing, revoked=frozenset({serial})) == (
        "revoked", "revocation")


def test_serial_with_a_redundant_leading_zero_is_refused(device: ForgedDevice) -> None:
    # DER INTEGER 0x7f7f7f written as 00 7f 7f 7f: another encoding of a revoked serial.
    cert = leaf(device.device, serial=0x7F7F7F)
    body = cert.tbs_certificate_bytes[4:]  # after the SEQUENCE header 30 82 xx xx
    assert cert.tbs_certificate_bytes[:2] == b"\x30\x82"
    padded = body.replace(bytes.fromhex("02037f7f7f"), bytes.fromhex("0204007f7f7f"), 1)
    signing = [signed_with_ed25519(tlv(0x30, padded), device.device.key), device.device.der,
               device.intermediate.der]
    assert refusal(device, signing=signing, revoked=frozenset({0x7F7F7F})) == (
        "malformed_chain", "chain_parsed")


@pytest.mark.parametrize("root_sent", [False, True], ids=["root-omitted", "root-in-chain"])
def test_revoked_root_serial_is_refused(device: ForgedDevice, root_sent: bool) -> None:
    # Android chains end with the root, and a real verifier checks every certificate of the
    # chain against the status list; whether or not the phone sent the root, its serial counts.
    signing = [*device.attest(SIGNING), *([device.root.der] if root_sent else [])]
    revoked = frozenset({device.root.cert.serial_number})
    assert refusal(device, signing=signing, revoked=revoked) == ("revoked", "revocation")


@pytest.mark.parametrize("level", [202508, 209912, 2**63 - 2, HUGE_PATCH_LEVEL])
def test_patch_level_in_the_future_is_refused(device: ForgedDevice, level: int) -> None:
    # NOW is June 2025; a phone cannot run a patch from later than next month.
    signing = device.attest(replace(SIGNING, os_patch_level=level))
    assert refusal(device, signing=signing) == ("patch_level_unknown", "patch_level")


@pytest.mark.parametrize("level", [202506, 202507])
def test_patch_level_of_this_or_next_month_is_accepted(device: ForgedDevice, level: int) -> None:
    # Vendors ship next month's patch level in the last days of a month.
    verified = bind(device, signing=device.attest(replace(SIGNING, os_patch_level=level)))
    assert verified.signing.os_patch_level == level


def test_huge_patch_level_is_a_stored_refusal_not_a_server_error(
    session_factory: sessionmaker[Session], lab: PhoneLab, device: ForgedDevice
) -> None:
    # Through complete_device_binding and a real database: a 64-bit osPatchLevel ("month 06")
    # once passed every check and then overflowed the INTEGER column on insert (server error).
    flow = Flow(session_factory, lab).to(ApplicationState.INTERVIEW_DONE)
    with session_factory.begin() as s:
        challenge = begin_device_binding(s, application_id=flow.application_id, now=NOW)
    trust = ManufacturerTrust(trust_anchors=(device.root.cert,), revoked_serials=frozenset(),
                              verified_boot_keys=None)
    with session_factory.begin() as s:
        outcome = complete_device_binding(
            s, application_id=flow.application_id, challenge=challenge, trust=trust, now=NOW,
            signing_chain=device.attest(replace(SIGNING, challenge=challenge,
                                                os_patch_level=HUGE_PATCH_LEVEL)),
            agreement_chain=device.attest(replace(AGREEMENT, challenge=challenge),
                                          kind="x25519"),
            se_chain=device.attest(replace(SE, challenge=challenge), kind="x25519"),
        )
    assert not outcome.accepted and outcome.reason == "patch_level_unknown"
    with session_factory() as s:
        stored = s.scalars(select(DeviceBinding).where(
            DeviceBinding.application_id == flow.application_id)).one()
        assert not stored.accepted and stored.reason == "patch_level_unknown"


def _with_version(version: int) -> Attestation:
    class Versioned(Attestation):
        def der(self) -> bytes:
            value, _ = der_decoder.decode(super().der(), asn1Spec=KeyDescription())
            value["attestationVersion"] = version
            return bytes(der_encoder.encode(value))

    return Versioned(**vars(SIGNING))


HUGE = 10**5000 + 6  # more digits than Python converts to text by default


@pytest.mark.parametrize(
    "attestation",
    [
        replace(SIGNING, os_patch_level=HUGE),
        replace(SIGNING, algorithm=HUGE),
        replace(SIGNING, origin=HUGE),
        replace(SIGNING, purposes=(2, HUGE)),
        _with_version(HUGE),
        replace(SIGNING, os_patch_level=-(2**64)),
    ],
    ids=["osPatchLevel", "algorithm", "origin", "purpose", "attestationVersion", "negative"],
)
def test_integers_beyond_64_bits_are_malformed(
    device: ForgedDevice, attestation: Attestation
) -> None:
    # KeyMint integers are at most 64 bits. A 5000-digit one used to raise ValueError while
    # the check details were written (a server error).
    assert refusal(device, signing=device.attest(attestation)) == (
        "malformed_attestation", "attestation_extension")


class Encoded(Attestation):
    """An attestation whose KeyDescription bytes are given as they are, not re-encoded."""

    def __init__(self, raw: bytes) -> None:
        super().__init__()
        self.raw = raw

    def der(self) -> bytes:
        return self.raw


def _non_minimal_outer_length(canonical: bytes) -> bytes:
    header = 2 + (canonical[1] & 0x7F if canonical[1] & 0x80 else 0)
    content = canonical[header:]
    return canonical[:1] + b"\x84" + len(content).to_bytes(4, "big") + content


def _ber_boolean(canonical: bytes) -> bytes:
    assert canonical.count(b"\x01\x01\xff") == 1  # deviceLocked TRUE
    return canonical.replace(b"\x01\x01\xff", b"\x01\x01\x01")


def _unsorted_purposes(canonical: bytes) -> bytes:
    purposes = bytes.fromhex("3106020102020103")  # SET OF { SIGN, VERIFY }
    assert canonical.count(purposes) == 1
    return canonical.replace(purposes, bytes.fromhex("3106020103020102"))


@pytest.mark.parametrize(
    "rewrite",
    [_non_minimal_outer_length, _ber_boolean, _unsorted_purposes],
    ids=["non-minimal-length", "boolean-01", "unsorted-set-of"],
)
def test_ber_that_is_not_der_is_malformed(device: ForgedDevice, rewrite: Callable[[bytes], bytes]
                                          ) -> None:
    canonical = replace(SIGNING, purposes=(2, 3)).der()
    assert bind(device, signing=device.attest(Encoded(canonical))) is not None
    # The same values in BER: docs/protocol.md §2.1 promises DER, one encoding per value.
    assert refusal(device, signing=device.attest(Encoded(rewrite(canonical)))) == (
        "malformed_attestation", "attestation_extension")


def test_trailing_bytes_after_the_key_description_are_malformed(device: ForgedDevice) -> None:
    signing = device.attest(Encoded(SIGNING.der() + b"\x00"))
    assert refusal(device, signing=signing) == ("malformed_attestation", "attestation_extension")


@pytest.mark.parametrize("version", [0, 1, 2, 5, 99, 301, 5000, -300])
def test_unknown_attestation_version_is_malformed(device: ForgedDevice, version: int) -> None:
    # The schema is the one of attestation versions 3 to 400; other numbers are not it.
    assert refusal(device, signing=device.attest(_with_version(version))) == (
        "malformed_attestation", "attestation_extension")


@pytest.mark.parametrize("version", [3, 4, 100, 200, 300, 400])
def test_known_attestation_versions_are_accepted(device: ForgedDevice, version: int) -> None:
    assert bind(device, signing=device.attest(_with_version(version))) is not None



def test_strongbox_key_attested_by_the_tee_is_not_strongbox(device: ForgedDevice) -> None:
    # Only StrongBox attests StrongBox keys; a TEE attestation naming a StrongBox key proves
    # no more than the TEE.
    se = device.attest(replace(SE, attestation_level=1, keymint_level=2), kind="x25519")
    with pytest.raises(AttestationRejected) as caught:
        bind(device, se=se)
    assert caught.value.reason == "se_not_strongbox"


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda raw: raw.replace(b"\x04\x1a" + CHALLENGE, b"\x0c\x1a" + CHALLENGE),  # UTF8String
        lambda raw: raw[:1] + b"\x84\xff\xff\xff\xff" + raw[3:],  # a length of 4 GiB
        lambda raw: raw[:1] + b"\x80" + raw[3:] + b"\x00\x00",  # indefinite length
        lambda raw: b"\x31" + raw[1:],  # SET instead of SEQUENCE
        lambda raw: raw[: len(raw) // 2],
    ],
    ids=["wrong-tag", "huge-length", "indefinite-length", "outer-set", "truncated"],
)
def test_malformed_key_description_is_refused(
    device: ForgedDevice, rewrite: Callable[[bytes], bytes]
) -> None:
    raw = rewrite(SIGNING.der())
    assert raw != SIGNING.der()
    assert refusal(device, signing=device.attest(Encoded(raw))) == (
        "malformed_attestation", "attestation_extension")


def test_chains_answering_another_applications_challenge_are_refused(
    session_factory: sessionmaker[Session], lab: PhoneLab, device: ForgedDevice
) -> None:
    first = Flow(session_factory, lab).to(ApplicationState.INTERVIEW_DONE)
    second = Flow(session_factory, lab).to(ApplicationState.INTERVIEW_DONE)
    with session_factory.begin() as s:
        first_challenge = begin_device_binding(s, application_id=first.application_id, now=NOW)
        second_challenge = begin_device_binding(s, application_id=second.application_id,
                                                now=NOW)
    assert first_challenge != second_challenge
    trust = ManufacturerTrust(trust_anchors=(device.root.cert,), revoked_serials=frozenset(),
                              verified_boot_keys=None)
    answered = {
        "signing_chain": device.attest(replace(SIGNING, challenge=first_challenge)),
        "agreement_chain": device.attest(replace(AGREEMENT, challenge=first_challenge),
                                         kind="x25519"),
        "se_chain": device.attest(replace(SE, challenge=first_challenge), kind="x25519"),
    }
    with session_factory.begin() as s:
        outcome = complete_device_binding(s, application_id=second.application_id,
                                          challenge=second_challenge, trust=trust, now=NOW,
                                          **answered)
    assert not outcome.accepted and outcome.reason == "challenge_mismatch"
    with session_factory.begin() as s:
        assert complete_device_binding(s, application_id=first.application_id,
                                       challenge=first_challenge, trust=trust, now=NOW,
                                       **answered).accepted
