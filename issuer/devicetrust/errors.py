"""The device-trust exception family: every rejection carries a reason code and plain words."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Check(NamedTuple):
    """One verification step: its name, whether it passed, and what was seen."""

    name: str
    passed: bool
    detail: str


class DeviceTrustError(Exception):
    """Root of every error raised by `issuer.devicetrust`.

    `reason` is a stable machine code (for logs, the database and the API); `message` is a
    sentence an applicant can read.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class AttestationRejected(DeviceTrustError):
    """A key attestation chain failed one of the issuer's checks."""

    def __init__(self, reason: str, message: str, checks: Sequence[Check] = ()) -> None:
        super().__init__(reason, message)
        self.checks: tuple[Check, ...] = tuple(checks)


class ConfirmationRejected(DeviceTrustError):
    """A trusted-UI confirmation does not prove the applicant confirmed the issuer's text."""


class ChannelError(DeviceTrustError):
    """A secure-channel handshake or record was refused."""


class PersonalizationError(DeviceTrustError):
    """Card personalization data could not be built or sealed."""
