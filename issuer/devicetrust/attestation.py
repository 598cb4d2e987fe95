"""Verify an Android-style key attestation chain the way a bank verifies a real phone."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from issuer.devicetrust.asn1_schema import KEY_DESCRIPTION_OID
from issuer.devicetrust.chain import parse_chain, summarize, validate_chain
from issuer.devicetrust.errors import AttestationRejected, Check
from issuer.devicetrust.key_description import (
    ALGORITHM_EC,
    CURVE_25519,
    ORIGIN_GENERATED,
    PURPOSE_AGREE_KEY,
    PURPOSE_SIGN,
    SECURITY_LEVELS,
    VERIFIED_BOOT_STATES,
    AuthorizationValues,
    KeyDescriptionValues,
    parse_application_id,
    parse_key_description,
)

KeyKind = Literal["ed25519", "x25519"]
WALLET_APP_ID = "cn.cardsim.wallet"
PATCH_WINDOW_MONTHS = 12

# Plain words for the applicant, by reason code.
_MESSAGES = {
    "missing_attestation": "Your phone did not attest the key it created.",
    "malformed_attestation": "Your phone's key attestation could not be read.",
    "challenge_mismatch": "Your phone answered a different challenge; please start binding again.",
    "software_keystore": "Your phone keeps keys in software instead of secure hardware.",
    "boot_state_unknown": "Your phone did not report how it started up.",
    "bootloader_unlocked": "Your phone's bootloader is unlocked.",
    "custom_os": "Your phone runs an operating system not signed by its manufacturer.",
    "boot_failed": "Your phone failed its verified boot check.",
    "device_unlocked": "Your phone's bootloader is unlocked.",
    "patch_level_unknown": "Your phone did not report its security patch level.",
    "outdated_patch": "Your phone is missing recent security updates; please update it.",
    "wrong_key_type": "Your phone created a different kind of key than requested.",
    "key_not_generated": "The key was not generated inside your phone's secure hardware.",
    "wrong_app": "The key was not created by the cardsim wallet app.",
    "confirmation_not_enforced": "The signing key does not require confirmation on your phone.",
}


@dataclass(frozen=True)
class VerifiedKey:
    """An attested key the issuer accepted, with what the hardware reported about itself."""

    public_key: bytes
    kind: KeyKind
    security_level: str
    verified_boot_state: str
    device_locked: bool
    os_patch_level: int
    boot_hash_hex: str
    app_id: str
    confirmation_required: bool
    user_presence_required: bool
    device_certificate_serial: int
    device_certificate_fingerprint: str
    chain: tuple[dict[str, str], ...]
    checks: tuple[Check, ...]


def minimum_patch_level(now: datetime, months: int = PATCH_WINDOW_MONTHS) -> int:
    """The oldest acceptable osPatchLevel (YYYYMM) `months` before `now`."""
    index = now.year * 12 + (now.month - 1) - months
    return (index // 12) * 100 + index % 12 + 1


def maximum_patch_level(now: datetime) -> int:
    """The newest osPatchLevel (YYYYMM) a phone can run at `now`: next month's, which vendors
    ship in a month's last days. Anything later is not a patch level that exists."""
    return minimum_patch_level(now, months=-1)


def _raw_public_key(cert: x509.Certificate) -> tuple[str, bytes]:
    key = cert.public_key()
    if isinstance(key, Ed25519PublicKey):
        return "ed25519", key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    if isinstance(key, X25519PublicKey):
        return "x25519", key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return type(key).__name__, b""


def _key_description(leaf: x509.Certificate, checks: list[Check]) -> KeyDescriptionValues:
    found = [e for e in leaf.extensions if e.oid.dotted_string == KEY_DESCRIPTION_OID]
    if len(found) != 1:
        checks.append(Check("attestation_extension", False, f"{len(found)} found in leaf"))
        raise AttestationRejected("missing_attestation", _MESSAGES["missing_attestation"], checks)
    value = found[0].value
    der = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    try:
        description = parse_key_description(der)
    except AttestationRejected as exc:
        checks.append(Check("attestation_extension", False, exc.message))
        raise AttestationRejected(exc.reason, exc.message, checks) from exc
    checks.append(
        Check(
            "attestation_extension",
            True,
            f"KeyDescription version {description.attestation_version}",
        )
    )
    return description


@dataclass(frozen=True)
class _Policy:
    expected_challenge: bytes
    min_patch_level: int
    max_patch_level: int
    expected_kind: KeyKind
    require_confirmation: bool
    expected_app_id: str
    trusted_boot_keys: Collection[bytes] | None


def _check_challenge(d: KeyDescriptionValues, _: str, p: _Policy) -> tuple[str | None, str]:
    if hmac.compare_digest(d.attestation_challenge, p.expected_challenge):
        return None, f"{len(d.attestation_challenge)}-byte challenge echoed exactly"
    return "challenge_mismatch", "attestationChallenge differs from the issued challenge"


def _check_security_level(d: KeyDescriptionValues, _: str, p: _Policy) -> tuple[str | None, str]:
    levels = (
        SECURITY_LEVELS.get(d.attestation_security_level, "?"),
        SECURITY_LEVELS.get(d.keymint_security_level, "?"),
    )
    detail = f"attestation {levels[0]}, keymint {levels[1]}"
    if min(d.attestation_security_level, d.keymint_security_level) < 1:
        return "software_keystore", detail
    return None, detail


def _check_verified_boot(d: KeyDescriptionValues, _: str, p: _Policy) -> tuple[str | None, str]:
    root = d.hardware_enforced.root_of_trust
    if root is None:
        return "boot_state_unknown", "no RootOfTrust in hardwareEnforced"
    state = VERIFIED_BOOT_STATES.get(root.verified_boot_state, "?")
    detail = f"verifiedBootState {state}, deviceLocked {root.device_locked}"
    by_state = {1: "custom_os", 2: "bootloader_unlocked", 3: "boot_failed"}
    if root.verified_boot_state != 0:
        return by_state.get(root.verified_boot_state, "boot_failed"), detail
    if p.trusted_boot_keys is not None and root.verified_boot_key not in p.trusted_boot_keys:
        return "custom_os", f"{detail}; verifiedBootKey is not a manufacturer key"
    return None, detail


def _check_device_locked(d: KeyDescriptionValues, _: str, p: _Policy) -> tuple[str | None, str]:
    root = d.hardware_enforced.root_of_trust
    if root is None:
        return "boot_state_unknown", "no RootOfTrust in hardwareEnforced"
    if not root.device_locked:
        return "device_unlocked", "deviceLocked FALSE"
    return None, "deviceLocked TRUE"


def _check_patch_level(d: KeyDescriptionValues, _: str, p: _Policy) -> tuple[str | None, str]:
    level = d.hardware_enforced.os_patch_level
    if level is None or not 1 <= level % 100 <= 12 or level < 1970_01:
        return "patch_level_unknown", f"osPatchLevel {level!r} is not a YYYYMM month"
    if level > p.max_patch_level:
        return "patch_level_unknown", (
            f"osPatchLevel {level} is later than {p.max_patch_level}, next month"
        )
    detail = f"osPatchLevel {level}, minimum {p.min_patch_level}"
    return ("outdated_patch" if level < p.min_patch_level else None), detail


def _check_key_type(d: KeyDescriptionValues, kind: str, p: _Policy) -> tuple[str | None, str]:
    hw = d.hardware_enforced
    detail = (
        f"certificate key {kind}, algorithm {hw.algorithm}, ecCurve {hw.ec_curve}, "
        f"purposes {sorted(hw.purposes)}"
    )
    if kind != p.expected_kind or hw.algorithm != ALGORITHM_EC or hw.ec_curve != CURVE_25519:
        return "wrong_key_type", detail
    wanted, forbidden = (
        (PURPOSE_SIGN, PURPOSE_AGREE_KEY)
        if p.expected_kind == "ed25519"
        else (PURPOSE_AGREE_KEY, PURPOSE_SIGN)
    )
    if wanted not in hw.purposes or forbidden in hw.purposes:
        return "wrong_key_type", detail
    return None, detail


def _check_origin(d: KeyDescriptionValues, _: str, p: _Policy) -> tuple[str | None, str]:
    origin = d.hardware_enforced.origin
    if origin != ORIGIN_GENERATED:
        return "key_not_generated", f"origin {origin!r} (GENERATED is 0)"
    return None, "origin GENERATED"


def _app_id_names(auth: AuthorizationValues) -> tuple[str, ...]:
    if auth.attestation_application_id is None:
        return ()
    return parse_application_id(auth.attestation_application_id).package_names


def _check_app_id(d: KeyDescriptionValues, _: str, p: _Policy) -> tuple[str | None, str]:
    try:
        names = _app_id_names(d.software_enforced) + _app_id_names(d.hardware_enforced)
    except AttestationRejected as exc:
        return "wrong_app", exc.message
    if p.expected_app_id not in names:
        return "wrong_app", f"attestationApplicationId packages {list(names)}"
    return None, f"package {p.expected_app_id}"


def _check_confirmation(d: KeyDescriptionValues, _: str, p: _Policy) -> tuple[str | None, str]:
    hw = d.hardware_enforced
    detail = (
        f"trustedConfirmationRequired {hw.trusted_confirmation_required}, "
        f"trustedUserPresenceRequired {hw.trusted_user_presence_required}"
    )
    if p.require_confirmation and not (
        hw.trusted_confirmation_required or hw.trusted_user_presence_required
    ):
        return "confirmation_not_enforced", detail
    return None, detail


_POLICY_CHECKS: tuple[
    tuple[str, Callable[[KeyDescriptionValues, str, _Policy], tuple[str | None, str]]], ...
] = (
    ("challenge", _check_challenge),
    ("security_level", _check_security_level),
    ("verified_boot", _check_verified_boot),
    ("device_locked", _check_device_locked),
    ("patch_level", _check_patch_level),
    ("key_type", _check_key_type),
    ("origin", _check_origin),
    ("app_id", _check_app_id),
    ("confirmation", _check_confirmation),
)


def verify_key_attestation(
    *,
    chain: Sequence[bytes],
    expected_challenge: bytes,
    trust_anchors: Sequence[x509.Certificate],
    revoked_serials: Collection[int],
    now: datetime,
    expected_kind: KeyKind,
    min_patch_level: int | None = None,
    require_confirmation: bool = False,
    expected_app_id: str = WALLET_APP_ID,
    trusted_boot_keys: Collection[bytes] | None = None,
) -> VerifiedKey:
    """Verify a leaf-first DER attestation chain against the issuer's policy.

    Path validation stops at the first failure; the attestation policy checks all run so the
    case file shows every finding. Raises `AttestationRejected` naming the first failed check.
    `min_patch_level` defaults to the month twelve months before `now` (YYYYMM).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    checks: list[Check] = []
    certs = parse_chain(chain, checks)
    validated = validate_chain(
        certs=certs,
        trust_anchors=trust_anchors,
        revoked_serials=revoked_serials,
        now=now,
        checks=checks,
    )
    description = _key_description(validated.leaf, checks)
    kind, public_key = _raw_public_key(validated.leaf)
    policy = _Policy(
        expected_challenge=expected_challenge,
        min_patch_level=minimum_patch_level(now) if min_patch_level is None else min_patch_level,
        max_patch_level=maximum_patch_level(now),
        expected_kind=expected_kind,
        require_confirmation=require_confirmation,
        expected_app_id=expected_app_id,
        trusted_boot_keys=trusted_boot_keys,
    )
    first_failure: str | None = None
    for name, check in _POLICY_CHECKS:
        reason, detail = check(description, kind, policy)
        checks.append(Check(name, reason is None, detail))
        first_failure = first_failure or reason
    if first_failure is not None:
        raise AttestationRejected(first_failure, _MESSAGES[first_failure], checks)

    hw = description.hardware_enforced
    root = hw.root_of_trust
    assert root is not None and hw.os_patch_level is not None
    device_cert = validated.certificates[1] if len(validated.certificates) > 1 else validated.anchor
    return VerifiedKey(
        public_key=public_key,
        kind=expected_kind,
        # The weaker of the two: a TEE-made attestation cannot vouch for a StrongBox key.
        security_level=SECURITY_LEVELS[
            min(description.attestation_security_level, description.keymint_security_level)
        ],
        verified_boot_state=VERIFIED_BOOT_STATES[root.verified_boot_state],
        device_locked=root.device_locked,
        os_patch_level=hw.os_patch_level,
        boot_hash_hex=root.verified_boot_hash.hex(),
        app_id=expected_app_id,
        confirmation_required=hw.trusted_confirmation_required,
        user_presence_required=hw.trusted_user_presence_required,
        device_certificate_serial=device_cert.serial_number,
        device_certificate_fingerprint=device_cert.fingerprint(hashes.SHA256()).hex(),
        chain=tuple(summarize(c) for c in (*validated.certificates, validated.anchor)),
        checks=tuple(checks),
    )
