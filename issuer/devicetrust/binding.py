"""Verify the three attested keys of one phone binding together (docs/protocol.md §7.1)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from issuer.devicetrust.attestation import KeyKind, VerifiedKey, verify_key_attestation
from issuer.devicetrust.errors import AttestationRejected


@dataclass(frozen=True)
class VerifiedBinding:
    """The phone's confirmation signing key, TEE agreement key and SE key, one device."""

    signing: VerifiedKey
    agreement: VerifiedKey
    se: VerifiedKey
    device_certificate_serial: int


def verify_device_binding(
    *,
    signing_chain: Sequence[bytes],
    agreement_chain: Sequence[bytes],
    se_chain: Sequence[bytes],
    expected_challenge: bytes,
    trust_anchors: Sequence[x509.Certificate],
    revoked_serials: Collection[int],
    now: datetime,
    min_patch_level: int | None = None,
    trusted_boot_keys: Collection[bytes] | None = None,
) -> VerifiedBinding:
    """Verify all three chains and that they come from the same device attestation key.

    The signing key must require trusted confirmation; the SE key must be StrongBox-held.
    Raises `AttestationRejected` (from the first failing chain, or `different_devices`,
    `se_not_strongbox`, `key_reused` when the agreement and SE keys are one key).
    """

    def verify(chain: Sequence[bytes], kind: KeyKind, confirmation: bool = False) -> VerifiedKey:
        return verify_key_attestation(
            chain=chain,
            expected_challenge=expected_challenge,
            trust_anchors=trust_anchors,
            revoked_serials=revoked_serials,
            now=now,
            expected_kind=kind,
            min_patch_level=min_patch_level,
            require_confirmation=confirmation,
            trusted_boot_keys=trusted_boot_keys,
        )

    signing = verify(signing_chain, "ed25519", confirmation=True)
    agreement = verify(agreement_chain, "x25519")
    se = verify(se_chain, "x25519")
    devices = {key.device_certificate_fingerprint for key in (signing, agreement, se)}
    if len(devices) != 1:
        raise AttestationRejected(
            "different_devices", "The keys your phone sent do not all come from one phone."
        )
    if se.security_level != "StrongBox":
        raise AttestationRejected(
            "se_not_strongbox", "Your phone's card key is not held in its secure element."
        )
    if agreement.public_key == se.public_key:
        # One key for the channel (the TEE's) and for sealing the card (the SE's) would let
        # whoever can use it for one protocol answer for the other: each role needs its own.
        raise AttestationRejected(
            "key_reused", "Your phone sent the same key for the secure channel and the card."
        )
    return VerifiedBinding(
        signing=signing,
        agreement=agreement,
        se=se,
        device_certificate_serial=signing.device_certificate_serial,
    )
