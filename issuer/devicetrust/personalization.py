"""Build, sign and seal card personalization for the phone's secure element payment applet.

Format: docs/protocol.md §5. The payload is signed by the issuer and sealed (libsodium sealed
box) to the SE's attested X25519 key, binding the SE's fresh GET CHALLENGE answer so an old
payload cannot be replayed.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Mapping

from nacl.exceptions import CryptoError
from nacl.public import PublicKey, SealedBox
from nacl.signing import SigningKey

from issuer.devicetrust.errors import PersonalizationError

PERSO_PREFIX = b"cardsim-perso-v1\x00"
SE_CHALLENGE_BYTES = 16

_DIGITS = re.compile(r"[0-9]{12,19}")
_EXPIRY = re.compile(r"[0-9]{2}(0[1-9]|1[0-2])")
_CARD_KEY = re.compile(r"[0-9a-fA-F]{64}")
_PRINTABLE = re.compile(r"[\x20-\x7e]{1,64}")


def _ascii(pattern: re.Pattern[str], what: str) -> Callable[[str], bytes]:
    def encode(value: str) -> bytes:
        if not pattern.fullmatch(value):
            raise PersonalizationError("bad_card_field", f"The card {what} is not valid.")
        return value.encode("ascii")

    return encode


def _cardholder(value: str) -> bytes:
    encoded = value.encode("utf-8")
    if not 1 <= len(encoded) <= 45:
        raise PersonalizationError(
            "bad_card_field", "The cardholder name must be 1 to 45 bytes of UTF-8."
        )
    return encoded


def _card_key(value: str) -> bytes:
    if not _CARD_KEY.fullmatch(value):
        raise PersonalizationError("bad_card_field", "The card key must be 64 hex digits.")
    return bytes.fromhex(value)


# card_fields key -> (TLV tag, encoder, required), in ascending tag order.
CARD_FIELDS: tuple[tuple[str, int, Callable[[str], bytes], bool], ...] = (
    ("pan", 0x02, _ascii(_DIGITS, "number"), True),
    ("dpan", 0x03, _ascii(_DIGITS, "device number"), True),
    ("expiry", 0x04, _ascii(_EXPIRY, "expiry (YYMM)"), True),
    ("cardholder", 0x05, _cardholder, True),
    ("card_key", 0x06, _card_key, True),
    ("card_ref", 0x07, _ascii(_PRINTABLE, "reference"), False),
)


def _tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">BH", tag, len(value)) + value


def personalization_tlvs(*, card_fields: Mapping[str, str], se_challenge: bytes) -> bytes:
    """The inner TLV string: challenge then card fields, tags ascending."""
    unknown = set(card_fields) - {name for name, *_ in CARD_FIELDS}
    if unknown:
        raise PersonalizationError(
            "bad_card_field", f"Unknown card field(s): {', '.join(sorted(unknown))}."
        )
    if len(se_challenge) != SE_CHALLENGE_BYTES:
        raise PersonalizationError(
            "bad_se_challenge", f"The SE challenge must be {SE_CHALLENGE_BYTES} bytes."
        )
    parts = [_tlv(0x01, bytes(se_challenge))]
    for name, tag, encode, required in CARD_FIELDS:
        if name not in card_fields:
            if required:
                raise PersonalizationError("bad_card_field", f"The card {name} is missing.")
            continue
        parts.append(_tlv(tag, encode(card_fields[name])))
    return b"".join(parts)


def seal_personalization(
    *,
    card_fields: Mapping[str, str],
    se_public_key: bytes,
    se_challenge: bytes,
    issuer_signing_key: SigningKey,
) -> bytes:
    """Sign and seal card personalization to the SE's attested X25519 public key.

    `card_fields`: pan, dpan (12-19 digits), expiry (YYMM), cardholder (1-45 bytes UTF-8),
    card_key (64 hex digits, the ARQC MAC key), optional card_ref (1-64 printable ASCII).
    """
    if len(se_public_key) != 32:
        raise PersonalizationError("bad_se_key", "The SE public key must be 32 bytes.")
    inner = personalization_tlvs(card_fields=card_fields, se_challenge=se_challenge)
    signature = issuer_signing_key.sign(PERSO_PREFIX + bytes(se_public_key) + inner).signature
    try:
        return bytes(SealedBox(PublicKey(bytes(se_public_key))).encrypt(inner + signature))
    except CryptoError as exc:
        raise PersonalizationError("bad_se_key", "The SE public key is not usable.") from exc
