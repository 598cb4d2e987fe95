"""Applicant personal data at rest: the resident ID and mobile numbers are sealed, shown masked.

A resident ID number is sensitive personal information, so, like card numbers, the database
holds it only encrypted together with a masked copy for every page that shows it. Each value is
sealed like a card field (`issuer.vault.seal_bound`: XChaCha20-Poly1305) whose associated data
names the application and the field, so a value copied from another applicant's row, or from
the mobile column into the ID number column, fails authentication instead of opening. The
sealing key is derived from the issuer KEK with its own personalisation, so a key used for
personal data never also encrypts card numbers.

`seal_text` / `open_text` are the older unbound form (XSalsa20-Poly1305, `cardsim-pii-v1`),
kept for the migrations that convert from and to it (`pii01`, `pii02`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import nacl.exceptions
import nacl.secret

from issuer.clock import RandomBytes, system_random
from issuer.errors import IssuerError
from issuer.identity import mask_id_number, mask_mobile
from issuer.keys import IssuerKeys
from issuer.vault import derive_key, open_bound, seal_bound

_PERSONALISATION = b"cardsim-pii-v1"  # at most 16 bytes (BLAKE2b); the unbound form
_BOUND_PERSONALISATION = b"cardsim-pii-v2"  # the bound form

PersonalField = Literal["id_number", "mobile"]
_FIELD_NAMES = {"id_number": "resident ID number", "mobile": "mobile number"}


@dataclass(frozen=True)
class SealedIdentity:
    """What the applicant table stores for the two sensitive numbers."""

    id_number_sealed: bytes
    id_number_masked: str
    mobile_sealed: bytes
    mobile_masked: str


def personal_data_key(keys: IssuerKeys) -> bytes:
    """The 32-byte key of the older unbound form, derived from the KEK (keyed BLAKE2b)."""
    return derive_key(kek=keys.kek, personalisation=_PERSONALISATION)


def seal_text(*, keys: IssuerKeys, text: str, rng: RandomBytes = system_random) -> bytes:
    """Encrypt one personal-data value in the older unbound form (migrations only)."""
    box = nacl.secret.SecretBox(personal_data_key(keys))
    return bytes(box.encrypt(text.encode("utf-8"), rng(nacl.secret.SecretBox.NONCE_SIZE)))


def open_text(*, keys: IssuerKeys, sealed: bytes) -> str:
    """Decrypt a value sealed by `seal_text` (migrations only); a wrong key or altered record
    raises IssuerError."""
    try:
        return bytes(nacl.secret.SecretBox(personal_data_key(keys)).decrypt(sealed)).decode(
            "utf-8")
    except nacl.exceptions.CryptoError:
        raise IssuerError("stored personal data failed authentication (wrong KEK?)") from None


def personal_field_context(*, application_id: str, field: PersonalField) -> bytes:
    """The associated data binding a sealed personal-data value to its application and field."""
    return f"cardsim applicant {field} of application {application_id}".encode()


def seal_personal_field(*, keys: IssuerKeys, application_id: str, field: PersonalField,
                        value: str, rng: RandomBytes = system_random) -> bytes:
    """Encrypt one personal-data value (nonce || ciphertext || tag), bound to the application
    and the field."""
    return seal_bound(key=derive_key(kek=keys.kek, personalisation=_BOUND_PERSONALISATION),
                      context=personal_field_context(application_id=application_id, field=field),
                      plaintext=value.encode("utf-8"), rng=rng)


def open_personal_field(*, keys: IssuerKeys, application_id: str, field: PersonalField,
                        sealed: bytes) -> str:
    """Decrypt one personal-data value; a wrong key, an altered value or one moved from another
    applicant or field raises `IssuerError`."""
    return open_bound(
        key=derive_key(kek=keys.kek, personalisation=_BOUND_PERSONALISATION),
        context=personal_field_context(application_id=application_id, field=field),
        sealed=sealed,
        failure=f"the stored {_FIELD_NAMES[field]} of this applicant failed authentication "
                "(wrong issuer key file, or a value altered or moved from another applicant)",
    ).decode("utf-8")


def seal_identity(*, keys: IssuerKeys, application_id: str, id_number: str, mobile: str,
                  rng: RandomBytes = system_random) -> SealedIdentity:
    """Sealed (bound to `application_id`) and masked forms of a validated resident ID number
    and mobile number."""
    return SealedIdentity(
        id_number_sealed=seal_personal_field(keys=keys, application_id=application_id,
                                             field="id_number", value=id_number, rng=rng),
        id_number_masked=mask_id_number(id_number),
        mobile_sealed=seal_personal_field(keys=keys, application_id=application_id,
                                          field="mobile", value=mobile, rng=rng),
        mobile_masked=mask_mobile(mobile),
    )
