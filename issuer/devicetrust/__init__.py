"""The issuer's independent verifier of the applicant's phone.

Parses and checks everything the phone sends (attestation chains, trusted-UI confirmations,
secure-channel records) with the issuer's own code, and seals card personalization to the
phone's secure element. Never imports `tee_sim`.
"""

from issuer.devicetrust.attestation import (
    WALLET_APP_ID,
    KeyKind,
    VerifiedKey,
    minimum_patch_level,
    verify_key_attestation,
)
from issuer.devicetrust.errors import (
    AttestationRejected,
    ChannelError,
    Check,
    ConfirmationRejected,
    DeviceTrustError,
    PersonalizationError,
)

__all__ = [
    "WALLET_APP_ID",
    "AttestationRejected",
    "ChannelError",
    "Check",
    "ConfirmationRejected",
    "DeviceTrustError",
    "KeyKind",
    "PersonalizationError",
    "VerifiedKey",
    "minimum_patch_level",
    "verify_key_attestation",
]
