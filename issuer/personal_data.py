"""Applicant personal data at rest: the resident ID and mobile numbers are sealed, shown masked.

A resident ID number is sensitive personal information, so, like card numbers, the database
holds it only encrypted (XSalsa20-Poly1305) together with a masked copy for every page that
shows it. The sealing key is derived from the issuer KEK with its own personalisation, so a key
used for personal data never also encrypts card numbers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import nacl.exceptions
import nacl.secret

from issuer.clock import RandomBytes, system_random
from issuer.errors import IssuerError
from issuer.identity import mask_id_number, mask_mobile
from issuer.keys import IssuerKeys

_PERSONALISATION = b"cardsim-pii-v1"  # at most 16 bytes (BLAKE2b)


@dataclass(frozen=True)
class SealedIdentity:
    """What the applicant table stores for the two sensitive numbers."""

    id_number_sealed: bytes
    id_number_masked: str
    mobile_sealed: bytes
    mobile_masked: str


def personal_data_key(keys: IssuerKeys) -> bytes:
    """The 32-byte key that seals personal data, derived from the KEK (keyed BLAKE2b)."""
    return hashlib.blake2b(b"", key=keys.kek, person=_PERSONALISATION,
                           digest_size=nacl.secret.SecretBox.KEY_SIZE).digest()


def seal_text(*, keys: IssuerKeys, text: str, rng: RandomBytes = system_random) -> bytes:
    """Encrypt and authenticate one personal-data value."""
    box = nacl.secret.SecretBox(personal_data_key(keys))
    return bytes(box.encrypt(text.encode("utf-8"), rng(nacl.secret.SecretBox.NONCE_SIZE)))


def open_text(*, keys: IssuerKeys, sealed: bytes) -> str:
    """Decrypt a value sealed by `seal_text`; a wrong key or altered record raises IssuerError."""
    try:
        return bytes(nacl.secret.SecretBox(personal_data_key(keys)).decrypt(sealed)).decode(
            "utf-8")
    except nacl.exceptions.CryptoError:
        raise IssuerError("stored personal data failed authentication (wrong KEK?)") from None


def seal_identity(*, keys: IssuerKeys, id_number: str, mobile: str,
                  rng: RandomBytes = system_random) -> SealedIdentity:
    """Sealed and masked forms of a validated resident ID number and mobile number."""
    return SealedIdentity(
        id_number_sealed=seal_text(keys=keys, text=id_number, rng=rng),
        id_number_masked=mask_id_number(id_number),
        mobile_sealed=seal_text(keys=keys, text=mobile, rng=rng),
        mobile_masked=mask_mobile(mobile),
    )
