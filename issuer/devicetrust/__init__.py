"""The issuer's independent verifier of the applicant's phone.

Parses and checks everything the phone sends (attestation chains, trusted-UI confirmations,
secure-channel records) with the issuer's own code, and seals card personalization to the
phone's secure element. Byte formats: docs/protocol.md. Never imports `tee_sim`.
"""

from issuer.devicetrust.attestation import (
    WALLET_APP_ID,
    KeyKind,
    VerifiedKey,
    minimum_patch_level,
    verify_key_attestation,
)
from issuer.devicetrust.binding import VerifiedBinding, verify_device_binding
from issuer.devicetrust.channel import (
    RECORD_APP_DATA,
    RECORD_PROVISION,
    RECORD_PROVISION_RESULT,
    ChannelHello,
    IssuerChannel,
)
from issuer.devicetrust.confirmation import confirmation_message, verify_confirmation
from issuer.devicetrust.errors import (
    AttestationRejected,
    ChannelError,
    Check,
    ConfirmationRejected,
    DeviceTrustError,
    PersonalizationError,
)
from issuer.devicetrust.personalization import seal_personalization
from issuer.devicetrust.trust import (
    ManufacturerTrust,
    load_manufacturer_trust,
    load_trust_anchors,
    parse_revoked_serials,
)

__all__ = [
    "RECORD_APP_DATA",
    "RECORD_PROVISION",
    "RECORD_PROVISION_RESULT",
    "WALLET_APP_ID",
    "AttestationRejected",
    "ChannelError",
    "ChannelHello",
    "Check",
    "ConfirmationRejected",
    "DeviceTrustError",
    "IssuerChannel",
    "KeyKind",
    "ManufacturerTrust",
    "PersonalizationError",
    "VerifiedBinding",
    "VerifiedKey",
    "confirmation_message",
    "load_manufacturer_trust",
    "load_trust_anchors",
    "minimum_patch_level",
    "parse_revoked_serials",
    "seal_personalization",
    "verify_confirmation",
    "verify_device_binding",
    "verify_key_attestation",
]
