"""The phone kinds an applicant can emulate, with the words the panel shows for each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProfileChoice:
    """A tee_sim device profile name and its label."""

    name: str
    label: str


PROFILES: tuple[ProfileChoice, ...] = (
    ProfileChoice("genuine", "Genuine phone (locked, up to date)"),
    ProfileChoice("rooted", "Rooted phone (custom OS)"),
    ProfileChoice("unlocked", "Unlocked bootloader"),
    ProfileChoice("software", "No secure hardware (software keys)"),
    ProfileChoice("outdated", "Outdated (3-year-old security patch)"),
    ProfileChoice("revoked", "Revoked by its manufacturer"),
)
PROFILE_NAMES = frozenset(p.name for p in PROFILES)
