"""Device profiles: what the hardware of each kind of phone honestly reports."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class SecurityLevel(IntEnum):
    """KeyMint SecurityLevel."""

    SOFTWARE = 0
    TRUSTED_ENVIRONMENT = 1
    STRONGBOX = 2


class VerifiedBootState(IntEnum):
    """KeyMint VerifiedBootState."""

    VERIFIED = 0
    SELF_SIGNED = 1
    UNVERIFIED = 2
    FAILED = 3


@dataclass(frozen=True)
class Profile:
    """Hardware facts of one device profile (see docs/protocol.md §2.2)."""

    name: str
    has_tee: bool
    has_secure_element: bool
    device_locked: bool
    boot_state: VerifiedBootState
    patch_months_behind: int
    revoked: bool

    @property
    def tee_level(self) -> SecurityLevel:
        """Security level of keys held by the keystore TA."""
        return SecurityLevel.TRUSTED_ENVIRONMENT if self.has_tee else SecurityLevel.SOFTWARE

    @property
    def strongbox_level(self) -> SecurityLevel:
        """Security level of keys held by the secure element."""
        return SecurityLevel.STRONGBOX if self.has_secure_element else SecurityLevel.SOFTWARE


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("genuine", True, True, True, VerifiedBootState.VERIFIED, 0, False),
        Profile("unlocked", True, True, False, VerifiedBootState.UNVERIFIED, 0, False),
        Profile("rooted", True, True, False, VerifiedBootState.SELF_SIGNED, 0, False),
        Profile("software", False, False, True, VerifiedBootState.VERIFIED, 0, False),
        Profile("outdated", True, True, True, VerifiedBootState.VERIFIED, 36, False),
        Profile("revoked", True, True, True, VerifiedBootState.VERIFIED, 0, True),
    )
}


def patch_level(year: int, month: int, months_behind: int) -> tuple[int, int]:
    """(year, month) `months_behind` months before the given month."""
    index = year * 12 + (month - 1) - months_behind
    return index // 12, index % 12 + 1
