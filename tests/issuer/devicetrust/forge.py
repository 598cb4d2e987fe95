"""An attacker's (or test's) own PKI: builds attestation chains outside tee_sim.

Used to show the verifier's path rules and policy checks on chains no genuine device would
emit. The KeyDescription is encoded with pyasn1 from the issuer's schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID, ObjectIdentifier
from pyasn1.codec.der import encoder

from issuer.devicetrust.asn1_schema import (
    KEY_DESCRIPTION_OID,
    AttestationApplicationId,
    AttestationPackageInfo,
    KeyDescription,
)

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)


def name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class Attestation:
    """The values a KeyDescription carries; defaults describe a healthy phone."""

    challenge: bytes = b"challenge-0123456789abcdef"
    attestation_level: int = 1
    keymint_level: int = 1
    purposes: tuple[int, ...] = (2,)
    algorithm: int | None = 3
    ec_curve: int | None = 4
    origin: int | None = 0
    boot_key: bytes = b"\x11" * 32
    device_locked: bool = True
    boot_state: int = 0
    boot_hash: bytes = b"\x22" * 32
    os_patch_level: int | None = 202505
    app_ids: tuple[str, ...] = ("cn.cardsim.wallet",)
    confirmation: bool = False
    user_presence: bool = False
    include_root_of_trust: bool = True
    extra_hw: dict[str, object] = field(default_factory=dict)

    def der(self) -> bytes:
        kd = KeyDescription()
        kd["attestationVersion"] = 300
        kd["attestationSecurityLevel"] = self.attestation_level
        kd["keyMintVersion"] = 300
        kd["keyMintSecurityLevel"] = self.keymint_level
        kd["attestationChallenge"] = self.challenge
        kd["uniqueId"] = b""
        sw = kd["softwareEnforced"]
        sw["creationDateTime"] = 1_700_000_000_000
        if self.app_ids:
            app = AttestationApplicationId()
            for package in self.app_ids:
                info = AttestationPackageInfo()
                info["packageName"] = package.encode()
                info["version"] = 1
                app["packageInfos"].append(info)
            app["signatureDigests"].append(b"\x33" * 32)
            sw["attestationApplicationId"] = encoder.encode(app)
        # A software keystore enforces everything in software.
        hw = kd["hardwareEnforced"] if self.keymint_level else sw
        if self.purposes:
            hw["purpose"].extend(list(self.purposes))
        for key, value in (
            ("algorithm", self.algorithm),
            ("ecCurve", self.ec_curve),
            ("origin", self.origin),
            ("osPatchLevel", self.os_patch_level),
        ):
            if value is not None:
                hw[key] = value
        if self.user_presence:
            hw["trustedUserPresenceRequired"] = ""
        if self.confirmation:
            hw["trustedConfirmationRequired"] = ""
        if self.include_root_of_trust:
            root = hw["rootOfTrust"]
            root["verifiedBootKey"] = self.boot_key
            root["deviceLocked"] = self.device_locked
            root["verifiedBootState"] = self.boot_state
            root["verifiedBootHash"] = self.boot_hash
        for name, extra in self.extra_hw.items():
            hw[name] = extra
        return bytes(encoder.encode(kd))


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: object,
    serial: int,
    not_before: datetime,
    not_after: datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )


@dataclass
class Authority:
    key: Ed25519PrivateKey
    cert: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(Encoding.DER)


def make_ca(
    common_name: str,
    *,
    parent: Authority | None = None,
    path_length: int | None = None,
    ca: bool = True,
    serial: int | None = None,
    not_before: datetime = NOW - timedelta(days=365),
    not_after: datetime = NOW + timedelta(days=3650),
    key_cert_sign: bool = True,
) -> Authority:
    key = Ed25519PrivateKey.generate()
    subject = name(common_name)
    issuer_name = parent.cert.subject if parent else subject
    signer = parent.key if parent else key
    builder = _builder(
        subject,
        issuer_name,
        key.public_key(),
        serial or x509.random_serial_number(),
        not_before,
        not_after,
    )
    builder = builder.add_extension(
        x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True
    )
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=not ca,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca and key_cert_sign,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    return Authority(key=key, cert=builder.sign(signer, None))


@dataclass
class ForgedDevice:
    root: Authority
    intermediate: Authority
    device: Authority

    def attest(
        self,
        attestation: Attestation,
        *,
        kind: str = "ed25519",
        signer: Authority | None = None,
        extra: x509.ExtensionType | None = None,
        critical_extra: bool = False,
        not_after: datetime | None = None,
        leaf_key: Ed25519PrivateKey | None = None,
    ) -> list[bytes]:
        """A leaf-first chain (root excluded) for a fresh key of `kind`."""
        signer = signer or self.device
        if kind == "ed25519":
            public = (leaf_key or Ed25519PrivateKey.generate()).public_key()
        else:
            public = X25519PrivateKey.generate().public_key()  # type: ignore[assignment]
        builder = _builder(
            name("Android Keystore Key"),
            signer.cert.subject,
            public,
            x509.random_serial_number(),
            NOW - timedelta(days=1),
            not_after or NOW + timedelta(days=3650),
        )
        builder = builder.add_extension(
            x509.UnrecognizedExtension(ObjectIdentifier(KEY_DESCRIPTION_OID), attestation.der()),
            critical=False,
        )
        if extra is not None:
            builder = builder.add_extension(extra, critical=critical_extra)
        leaf = builder.sign(signer.key, None).public_bytes(Encoding.DER)
        chain = [leaf]
        if signer is self.device:
            chain += [self.device.der, self.intermediate.der]
        return chain


def forged_device(root: Authority | None = None) -> ForgedDevice:
    root = root or make_ca("Forged Root CA")
    intermediate = make_ca("Forged Attestation CA", parent=root)
    device = make_ca("Forged Device", parent=intermediate, path_length=0)
    return ForgedDevice(root=root, intermediate=intermediate, device=device)
