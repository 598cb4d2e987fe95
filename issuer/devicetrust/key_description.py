"""Decode the KeyDescription extension into plain Python values (pyasn1, strict DER)."""

from __future__ import annotations

from dataclasses import dataclass

from pyasn1.codec.der import decoder, encoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import univ

from issuer.devicetrust.asn1_schema import (
    AttestationApplicationId,
    AuthorizationList,
    KeyDescription,
)
from issuer.devicetrust.errors import AttestationRejected

# Android KeyMint tag values used by the checks.
PURPOSE_SIGN = 2
PURPOSE_AGREE_KEY = 6
ALGORITHM_EC = 3
CURVE_25519 = 4
ORIGIN_GENERATED = 0

# Keymaster 4.0 and 4.1, KeyMint 1 to 4: the versions whose KeyDescription the schema is.
ATTESTATION_VERSIONS = frozenset({3, 4, 100, 200, 300, 400})
SECURITY_LEVELS = {0: "Software", 1: "TrustedEnvironment", 2: "StrongBox"}
VERIFIED_BOOT_STATES = {0: "Verified", 1: "SelfSigned", 2: "Unverified", 3: "Failed"}

# Errors pyasn1 may raise on hostile input besides its own.
_DECODE_ERRORS = (
    PyAsn1Error,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    OverflowError,
    RecursionError,
)


@dataclass(frozen=True)
class RootOfTrustValues:
    verified_boot_key: bytes
    device_locked: bool
    verified_boot_state: int
    verified_boot_hash: bytes


@dataclass(frozen=True)
class AuthorizationValues:
    """The AuthorizationList entries the issuer looks at; `present` names every field seen."""

    present: frozenset[str]
    purposes: frozenset[int]
    algorithm: int | None
    ec_curve: int | None
    origin: int | None
    root_of_trust: RootOfTrustValues | None
    os_version: int | None
    os_patch_level: int | None
    attestation_application_id: bytes | None
    no_auth_required: bool
    trusted_user_presence_required: bool
    trusted_confirmation_required: bool


@dataclass(frozen=True)
class KeyDescriptionValues:
    attestation_version: int
    attestation_security_level: int
    keymint_version: int
    keymint_security_level: int
    attestation_challenge: bytes
    unique_id: bytes
    software_enforced: AuthorizationValues
    hardware_enforced: AuthorizationValues


@dataclass(frozen=True)
class ApplicationIdValues:
    package_names: tuple[str, ...]
    signature_digests: tuple[bytes, ...]


def _malformed(what: str) -> AttestationRejected:
    return AttestationRejected(
        "malformed_attestation",
        f"The phone's key attestation could not be read ({what}).",
    )


# KeyMint integers are uint32/uint64 (dates in milliseconds); also bounds what later code
# formats as text (Python refuses to print integers of more than 4300 digits).
_INTEGER_RANGE = range(-(2**63), 2**64)


def _out_of_range_integer(value: univ.Asn1Type) -> bool:
    if not value.isValue:
        return False
    if isinstance(value, univ.Integer):  # includes Enumerated
        return int(value) not in _INTEGER_RANGE
    if isinstance(value, univ.Sequence):
        return any(_out_of_range_integer(value[name]) for name in value)
    if isinstance(value, univ.SetOf | univ.SequenceOf):
        return any(_out_of_range_integer(item) for item in value)
    return False


def _decode(der: bytes, spec: univ.Asn1Type, what: str) -> univ.Asn1Type:
    try:
        value, rest = decoder.decode(der, asn1Spec=spec)
        too_large = _out_of_range_integer(value)
        # pyasn1's DER decoder also takes BER (long-form lengths, BOOLEAN 01, unsorted SET OF):
        # only bytes that re-encode to themselves are DER, one encoding per value.
        canonical = not rest and not too_large and bytes(encoder.encode(value)) == bytes(der)
    except _DECODE_ERRORS as exc:
        raise _malformed(f"{what}: {exc.__class__.__name__}") from exc
    if rest:
        raise _malformed(f"{what}: {len(rest)} trailing bytes")
    if too_large:
        raise _malformed(f"{what}: an INTEGER beyond 64 bits")
    if not canonical:
        raise _malformed(f"{what}: BER, not DER")
    return value


def _opt_int(auth: AuthorizationList, name: str) -> int | None:
    component = auth[name]
    return int(component) if component.isValue else None


def _authorizations(auth: AuthorizationList) -> AuthorizationValues:
    present = frozenset(name for name in auth if auth[name].isValue)
    root = auth["rootOfTrust"]
    root_values = None
    if root.isValue:
        boot_hash = root["verifiedBootHash"]
        root_values = RootOfTrustValues(
            verified_boot_key=bytes(root["verifiedBootKey"]),
            device_locked=bool(root["deviceLocked"]),
            verified_boot_state=int(root["verifiedBootState"]),
            verified_boot_hash=bytes(boot_hash) if boot_hash.isValue else b"",
        )
    app_id = auth["attestationApplicationId"]
    purposes = auth["purpose"]
    return AuthorizationValues(
        present=present,
        purposes=frozenset(int(p) for p in purposes) if purposes.isValue else frozenset(),
        algorithm=_opt_int(auth, "algorithm"),
        ec_curve=_opt_int(auth, "ecCurve"),
        origin=_opt_int(auth, "origin"),
        root_of_trust=root_values,
        os_version=_opt_int(auth, "osVersion"),
        os_patch_level=_opt_int(auth, "osPatchLevel"),
        attestation_application_id=bytes(app_id) if app_id.isValue else None,
        no_auth_required="noAuthRequired" in present,
        trusted_user_presence_required="trustedUserPresenceRequired" in present,
        trusted_confirmation_required="trustedConfirmationRequired" in present,
    )


def parse_key_description(der: bytes) -> KeyDescriptionValues:
    """Decode a DER KeyDescription; raise `AttestationRejected('malformed_attestation')`."""
    value = _decode(der, KeyDescription(), "KeyDescription")
    try:
        version = int(value["attestationVersion"])
    except _DECODE_ERRORS as exc:
        raise _malformed(f"KeyDescription: {exc.__class__.__name__}") from exc
    if version not in ATTESTATION_VERSIONS:
        raise _malformed(f"attestationVersion {version} is not one of "
                         f"{sorted(ATTESTATION_VERSIONS)}")
    try:
        return KeyDescriptionValues(
            attestation_version=version,
            attestation_security_level=int(value["attestationSecurityLevel"]),
            keymint_version=int(value["keyMintVersion"]),
            keymint_security_level=int(value["keyMintSecurityLevel"]),
            attestation_challenge=bytes(value["attestationChallenge"]),
            unique_id=bytes(value["uniqueId"]),
            software_enforced=_authorizations(value["softwareEnforced"]),
            hardware_enforced=_authorizations(value["hardwareEnforced"]),
        )
    except _DECODE_ERRORS as exc:
        raise _malformed(f"KeyDescription: {exc.__class__.__name__}") from exc


def parse_application_id(der: bytes) -> ApplicationIdValues:
    """Decode the AttestationApplicationId carried inside tag 709."""
    value = _decode(der, AttestationApplicationId(), "AttestationApplicationId")
    try:
        names = tuple(bytes(info["packageName"]).decode("utf-8") for info in value["packageInfos"])
        digests = tuple(bytes(d) for d in value["signatureDigests"])
    except (*_DECODE_ERRORS, UnicodeDecodeError) as exc:
        raise _malformed(f"AttestationApplicationId: {exc.__class__.__name__}") from exc
    return ApplicationIdValues(package_names=names, signature_digests=digests)
