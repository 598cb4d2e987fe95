"""Android KeyDescription (KeyMint) as a pyasn1 schema: an independent decoder for the tests.

The schema is built from pyasn1 instances rather than subclasses: pyasn1 is untyped, and
subclassing its (Any-typed) classes is refused by the strict mypy config.
"""

from __future__ import annotations

from pyasn1.codec.der import decoder
from pyasn1.type import namedtype, namedval, tag, univ

SECURITY_LEVEL = univ.Enumerated(
    namedValues=namedval.NamedValues(("Software", 0), ("TrustedEnvironment", 1), ("StrongBox", 2))
)


VERIFIED_BOOT_STATE = univ.Enumerated(
    namedValues=namedval.NamedValues(
        ("Verified", 0), ("SelfSigned", 1), ("Unverified", 2), ("Failed", 3)
    )
)


ROOT_OF_TRUST = univ.Sequence(
    componentType=namedtype.NamedTypes(
        namedtype.NamedType("verifiedBootKey", univ.OctetString()),
        namedtype.NamedType("deviceLocked", univ.Boolean()),
        namedtype.NamedType("verifiedBootState", VERIFIED_BOOT_STATE),
        namedtype.NamedType("verifiedBootHash", univ.OctetString()),
    )
)


ATTESTATION_PACKAGE_INFO = univ.Sequence(
    componentType=namedtype.NamedTypes(
        namedtype.NamedType("package_name", univ.OctetString()),
        namedtype.NamedType("version", univ.Integer()),
    )
)


ATTESTATION_APPLICATION_ID = univ.Sequence(
    componentType=namedtype.NamedTypes(
        namedtype.NamedType("package_infos", univ.SetOf(componentType=ATTESTATION_PACKAGE_INFO)),
        namedtype.NamedType("signature_digests", univ.SetOf(componentType=univ.OctetString())),
    )
)


def _opt(name: str, number: int, asn1: univ.Asn1Type) -> namedtype.OptionalNamedType:
    return namedtype.OptionalNamedType(
        name,
        asn1.subtype(explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, number)),
    )


AUTHORIZATION_LIST = univ.Sequence(
    componentType=namedtype.NamedTypes(
        _opt("purpose", 1, univ.SetOf(componentType=univ.Integer())),
        _opt("algorithm", 2, univ.Integer()),
        _opt("keySize", 3, univ.Integer()),
        _opt("digest", 5, univ.SetOf(componentType=univ.Integer())),
        _opt("padding", 6, univ.SetOf(componentType=univ.Integer())),
        _opt("ecCurve", 10, univ.Integer()),
        _opt("rsaPublicExponent", 200, univ.Integer()),
        _opt("rollbackResistance", 303, univ.Null()),
        _opt("activeDateTime", 400, univ.Integer()),
        _opt("noAuthRequired", 503, univ.Null()),
        _opt("userAuthType", 504, univ.Integer()),
        _opt("authTimeout", 505, univ.Integer()),
        _opt("trustedUserPresenceRequired", 507, univ.Null()),
        _opt("trustedConfirmationRequired", 508, univ.Null()),
        _opt("unlockedDeviceRequired", 509, univ.Null()),
        _opt("creationDateTime", 701, univ.Integer()),
        _opt("origin", 702, univ.Integer()),
        _opt("rootOfTrust", 704, ROOT_OF_TRUST),
        _opt("osVersion", 705, univ.Integer()),
        _opt("osPatchLevel", 706, univ.Integer()),
        _opt("attestationApplicationId", 709, univ.OctetString()),
        _opt("vendorPatchLevel", 718, univ.Integer()),
        _opt("bootPatchLevel", 719, univ.Integer()),
    )
)


KEY_DESCRIPTION = univ.Sequence(
    componentType=namedtype.NamedTypes(
        namedtype.NamedType("attestationVersion", univ.Integer()),
        namedtype.NamedType("attestationSecurityLevel", SECURITY_LEVEL),
        namedtype.NamedType("keyMintVersion", univ.Integer()),
        namedtype.NamedType("keyMintSecurityLevel", SECURITY_LEVEL),
        namedtype.NamedType("attestationChallenge", univ.OctetString()),
        namedtype.NamedType("uniqueId", univ.OctetString()),
        namedtype.NamedType("softwareEnforced", AUTHORIZATION_LIST),
        namedtype.NamedType("hardwareEnforced", AUTHORIZATION_LIST),
    )
)


def decode_key_description(der: bytes) -> univ.Sequence:
    """Decode with pyasn1; any trailing byte or schema mismatch raises."""
    value, rest = decoder.decode(der, asn1Spec=KEY_DESCRIPTION)
    assert rest == b"", "trailing bytes after KeyDescription"
    return value


def decode_application_id(der: bytes) -> univ.Sequence:
    """Decode an AttestationApplicationId; any trailing byte or schema mismatch raises."""
    value, rest = decoder.decode(der, asn1Spec=ATTESTATION_APPLICATION_ID)
    assert rest == b""
    return value


def present(auth: univ.Sequence, name: str) -> bool:
    """Whether an optional AuthorizationList field is present."""
    return bool(auth[name].isValue)
