# pyasn1 ships no type hints, so its base classes are Any to mypy.
# mypy: disable-error-code="misc"
"""pyasn1 schema of the Android Key Attestation extension (OID 1.3.6.1.4.1.11129.2.1.17).

Transcribed from the KeyDescription schema in the Android "Verifying hardware-backed key pairs
with key attestation" documentation (attestation versions 3 to 400). Field order matters: DER
requires the tagged AuthorizationList entries in ascending tag order, as the schema lists them.
"""

from __future__ import annotations

from pyasn1.type import constraint, namedtype, namedval, tag, univ

KEY_DESCRIPTION_OID = "1.3.6.1.4.1.11129.2.1.17"


class SecurityLevel(univ.Enumerated):
    namedValues = namedval.NamedValues(("Software", 0), ("TrustedEnvironment", 1), ("StrongBox", 2))
    subtypeSpec = univ.Enumerated.subtypeSpec + constraint.SingleValueConstraint(0, 1, 2)


class VerifiedBootState(univ.Enumerated):
    namedValues = namedval.NamedValues(
        ("Verified", 0), ("SelfSigned", 1), ("Unverified", 2), ("Failed", 3)
    )
    subtypeSpec = univ.Enumerated.subtypeSpec + constraint.SingleValueConstraint(0, 1, 2, 3)


class RootOfTrust(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("verifiedBootKey", univ.OctetString()),
        namedtype.NamedType("deviceLocked", univ.Boolean()),
        namedtype.NamedType("verifiedBootState", VerifiedBootState()),
        namedtype.OptionalNamedType("verifiedBootHash", univ.OctetString()),
    )


class IntegerSet(univ.SetOf):
    componentType = univ.Integer()


def _explicit(number: int, asn1_type: univ.Asn1Type) -> univ.Asn1Type:
    return asn1_type.subtype(
        explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, number)
    )


_INT = univ.Integer
_NULL = univ.Null
_OCTETS = univ.OctetString

# (field name, tag number, type factory) in ascending tag order.
AUTHORIZATION_FIELDS: tuple[tuple[str, int, type[univ.Asn1Type]], ...] = (
    ("purpose", 1, IntegerSet),
    ("algorithm", 2, _INT),
    ("keySize", 3, _INT),
    ("blockMode", 4, IntegerSet),
    ("digest", 5, IntegerSet),
    ("padding", 6, IntegerSet),
    ("callerNonce", 7, _NULL),
    ("minMacLength", 8, _INT),
    ("ecCurve", 10, _INT),
    ("rsaPublicExponent", 200, _INT),
    ("mgfDigest", 203, IntegerSet),
    ("rollbackResistance", 303, _NULL),
    ("earlyBootOnly", 305, _NULL),
    ("activeDateTime", 400, _INT),
    ("originationExpireDateTime", 401, _INT),
    ("usageExpireDateTime", 402, _INT),
    ("usageCountLimit", 405, _INT),
    ("noAuthRequired", 503, _NULL),
    ("userAuthType", 504, _INT),
    ("authTimeout", 505, _INT),
    ("allowWhileOnBody", 506, _NULL),
    ("trustedUserPresenceRequired", 507, _NULL),
    ("trustedConfirmationRequired", 508, _NULL),
    ("unlockedDeviceRequired", 509, _NULL),
    ("allApplications", 600, _NULL),
    ("applicationId", 601, _OCTETS),
    ("creationDateTime", 701, _INT),
    ("origin", 702, _INT),
    ("rollbackResistant", 703, _NULL),
    ("rootOfTrust", 704, RootOfTrust),
    ("osVersion", 705, _INT),
    ("osPatchLevel", 706, _INT),
    ("attestationApplicationId", 709, _OCTETS),
    ("attestationIdBrand", 710, _OCTETS),
    ("attestationIdDevice", 711, _OCTETS),
    ("attestationIdProduct", 712, _OCTETS),
    ("attestationIdSerial", 713, _OCTETS),
    ("attestationIdImei", 714, _OCTETS),
    ("attestationIdMeid", 715, _OCTETS),
    ("attestationIdManufacturer", 716, _OCTETS),
    ("attestationIdModel", 717, _OCTETS),
    ("vendorPatchLevel", 718, _INT),
    ("bootPatchLevel", 719, _INT),
    ("deviceUniqueAttestation", 720, _NULL),
    ("attestationIdSecondImei", 723, _OCTETS),
)


class AuthorizationList(univ.Sequence):
    componentType = namedtype.NamedTypes(
        *(
            namedtype.OptionalNamedType(name, _explicit(number, factory()))
            for name, number, factory in AUTHORIZATION_FIELDS
        )
    )


class KeyDescription(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("attestationVersion", univ.Integer()),
        namedtype.NamedType("attestationSecurityLevel", SecurityLevel()),
        namedtype.NamedType("keyMintVersion", univ.Integer()),
        namedtype.NamedType("keyMintSecurityLevel", SecurityLevel()),
        namedtype.NamedType("attestationChallenge", univ.OctetString()),
        namedtype.NamedType("uniqueId", univ.OctetString()),
        namedtype.NamedType("softwareEnforced", AuthorizationList()),
        namedtype.NamedType("hardwareEnforced", AuthorizationList()),
    )


class AttestationPackageInfo(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("packageName", univ.OctetString()),
        namedtype.NamedType("version", univ.Integer()),
    )


class AttestationApplicationId(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("packageInfos", univ.SetOf(componentType=AttestationPackageInfo())),
        namedtype.NamedType("signatureDigests", univ.SetOf(componentType=univ.OctetString())),
    )
