"""The Android Key Attestation extension (KeyDescription, KeyMint schema) as DER bytes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tee_sim import der
from tee_sim.profiles import SecurityLevel, VerifiedBootState

KEY_DESCRIPTION_OID = "1.3.6.1.4.1.11129.2.1.17"
ATTESTATION_VERSION = 300
KEYMINT_VERSION = 300
OS_VERSION = 140000
WALLET_PACKAGE = b"cn.cardsim.wallet"
WALLET_SIGNATURE_DIGEST = hashlib.sha256(b"cardsim wallet signing certificate").digest()

PURPOSE_SIGN = 2
PURPOSE_AGREE_KEY = 6
ALGORITHM_EC = 3
CURVE_25519 = 4
DIGEST_NONE = 0
ORIGIN_GENERATED = 0

TAG_PURPOSE = 1
TAG_ALGORITHM = 2
TAG_KEY_SIZE = 3
TAG_DIGEST = 5
TAG_EC_CURVE = 10
TAG_NO_AUTH_REQUIRED = 503
TAG_TRUSTED_USER_PRESENCE_REQUIRED = 507
TAG_TRUSTED_CONFIRMATION_REQUIRED = 508
TAG_CREATION_DATETIME = 701
TAG_ORIGIN = 702
TAG_ROOT_OF_TRUST = 704
TAG_OS_VERSION = 705
TAG_OS_PATCH_LEVEL = 706
TAG_ATTESTATION_APPLICATION_ID = 709
TAG_VENDOR_PATCH_LEVEL = 718
TAG_BOOT_PATCH_LEVEL = 719

# Tags the TEE cannot vouch for even on hardware-backed keys (as on real devices).
_ALWAYS_SOFTWARE = frozenset({TAG_CREATION_DATETIME, TAG_ATTESTATION_APPLICATION_ID})


@dataclass(frozen=True)
class RootOfTrust:
    """The boot facts reported in every attestation."""

    verified_boot_key: bytes
    device_locked: bool
    verified_boot_state: VerifiedBootState
    verified_boot_hash: bytes


@dataclass(frozen=True)
class KeyFacts:
    """Everything about one generated key that its attestation states."""

    kind: str  # "ed25519" | "x25519"
    security_level: SecurityLevel
    challenge: bytes
    confirmation_required: bool
    user_presence_required: bool
    creation_ms: int
    root_of_trust: RootOfTrust
    os_patch_level: int  # YYYYMM


def _attestation_application_id() -> bytes:
    package = der.sequence([der.octet_string(WALLET_PACKAGE), der.integer(1)])
    return der.sequence(
        [der.set_of([package]), der.set_of([der.octet_string(WALLET_SIGNATURE_DIGEST)])]
    )


def _root_of_trust(rot: RootOfTrust) -> bytes:
    return der.sequence(
        [
            der.octet_string(rot.verified_boot_key),
            der.boolean(rot.device_locked),
            der.enumerated(int(rot.verified_boot_state)),
            der.octet_string(rot.verified_boot_hash),
        ]
    )


def _authorizations(facts: KeyFacts) -> dict[int, bytes]:
    signing = facts.kind == "ed25519"
    auths: dict[int, bytes] = {
        TAG_PURPOSE: der.set_of([der.integer(PURPOSE_SIGN if signing else PURPOSE_AGREE_KEY)]),
        TAG_ALGORITHM: der.integer(ALGORITHM_EC),
        TAG_KEY_SIZE: der.integer(256),
        TAG_EC_CURVE: der.integer(CURVE_25519),
        TAG_CREATION_DATETIME: der.integer(facts.creation_ms),
        TAG_ORIGIN: der.integer(ORIGIN_GENERATED),
        TAG_ROOT_OF_TRUST: _root_of_trust(facts.root_of_trust),
        TAG_OS_VERSION: der.integer(OS_VERSION),
        TAG_OS_PATCH_LEVEL: der.integer(facts.os_patch_level),
        TAG_ATTESTATION_APPLICATION_ID: der.octet_string(_attestation_application_id()),
        TAG_VENDOR_PATCH_LEVEL: der.integer(facts.os_patch_level * 100 + 1),
        TAG_BOOT_PATCH_LEVEL: der.integer(facts.os_patch_level * 100 + 1),
    }
    if signing:
        auths[TAG_DIGEST] = der.set_of([der.integer(DIGEST_NONE)])
    if facts.user_presence_required:
        auths[TAG_TRUSTED_USER_PRESENCE_REQUIRED] = der.null()
    if facts.confirmation_required:
        auths[TAG_TRUSTED_CONFIRMATION_REQUIRED] = der.null()
    if not (facts.user_presence_required or facts.confirmation_required):
        auths[TAG_NO_AUTH_REQUIRED] = der.null()
    return auths


def _authorization_list(entries: dict[int, bytes]) -> bytes:
    return der.sequence(der.explicit(tag, entries[tag]) for tag in sorted(entries))


def encode_key_description(facts: KeyFacts) -> bytes:
    """DER of the KeyDescription for a key with these facts."""
    auths = _authorizations(facts)
    if facts.security_level is SecurityLevel.SOFTWARE:
        software, hardware = auths, {}
    else:
        software = {t: v for t, v in auths.items() if t in _ALWAYS_SOFTWARE}
        hardware = {t: v for t, v in auths.items() if t not in _ALWAYS_SOFTWARE}
    return der.sequence(
        [
            der.integer(ATTESTATION_VERSION),
            der.enumerated(int(facts.security_level)),
            der.integer(KEYMINT_VERSION),
            der.enumerated(int(facts.security_level)),
            der.octet_string(facts.challenge),
            der.octet_string(b""),
            _authorization_list(software),
            _authorization_list(hardware),
        ]
    )
