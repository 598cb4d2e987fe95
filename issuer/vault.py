"""PAN vault: card numbers encrypted under the issuer KEK, looked up by keyed hash.

A card row's PAN, DPAN and card key are sealed with XChaCha20-Poly1305 whose associated data
names the row (its application id) and the column: a ciphertext copied into another card row,
or from the DPAN column into the PAN column, fails authentication instead of opening as the
other card's number. The key is derived from the KEK (keyed BLAKE2b with its own
personalisation), so the KEK itself never serves two ciphers.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

import nacl.bindings
import nacl.exceptions
import nacl.secret

from issuer.clock import RandomBytes, system_random
from issuer.errors import IssuerError


def encrypt_number(*, kek: bytes, number: str, rng: RandomBytes = system_random) -> bytes:
    """Encrypt a card number (PAN or DPAN) with XSalsa20-Poly1305 under the KEK."""
    box = nacl.secret.SecretBox(kek)
    nonce = rng(nacl.secret.SecretBox.NONCE_SIZE)
    return bytes(box.encrypt(number.encode("ascii"), nonce))


def decrypt_number(*, kek: bytes, ciphertext: bytes) -> str:
    """Decrypt a stored card number; a wrong key or tampered record raises `IssuerError`."""
    try:
        return bytes(nacl.secret.SecretBox(kek).decrypt(ciphertext)).decode("ascii")
    except nacl.exceptions.CryptoError:
        raise IssuerError("stored card number failed authentication (wrong KEK?)") from None


CardField = Literal["pan", "dpan", "card_key"]
_CARD_KEY_PERSONALISATION = b"cardsim-card-v2"  # at most 16 bytes (BLAKE2b)
_FIELD_NAMES = {"pan": "PAN", "dpan": "DPAN", "card_key": "card key"}
_NONCE_SIZE = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES


def _card_field_key(kek: bytes) -> bytes:
    return hashlib.blake2b(b"", key=kek, person=_CARD_KEY_PERSONALISATION,
                           digest_size=nacl.bindings.crypto_aead_xchacha20poly1305_ietf_KEYBYTES
                           ).digest()


def card_field_context(*, application_id: str, field: CardField) -> bytes:
    """The associated data binding a sealed card field to its row and column."""
    return f"cardsim card {field} of application {application_id}".encode()


def seal_card_field(*, kek: bytes, application_id: str, field: CardField, value: str,
                    rng: RandomBytes = system_random) -> bytes:
    """Encrypt one card column (nonce || ciphertext || tag), bound to its row and column."""
    nonce = rng(_NONCE_SIZE)
    return nonce + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        value.encode("ascii"), card_field_context(application_id=application_id, field=field),
        nonce, _card_field_key(kek))


def open_card_field(*, kek: bytes, application_id: str, field: CardField,
                    ciphertext: bytes) -> str:
    """Decrypt one card column; a wrong key, an altered value or a value moved from another
    row or column raises `IssuerError`."""
    try:
        plain = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            ciphertext[_NONCE_SIZE:],
            card_field_context(application_id=application_id, field=field),
            ciphertext[:_NONCE_SIZE], _card_field_key(kek))
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise IssuerError(f"the stored {_FIELD_NAMES[field]} of this card failed "
                          "authentication (wrong issuer key file, or a value altered or moved "
                          "from another card)") from None
    return bytes(plain).decode("ascii")


def lookup_hash(*, hmac_key: bytes, number: str) -> bytes:
    """Keyed hash of a card number: equality lookups and uniqueness without the plaintext."""
    return hmac.new(hmac_key, number.encode("ascii"), hashlib.sha256).digest()


def mask_number(number: str) -> str:
    """First six and last four digits visible, the rest as `*`."""
    return number[:6] + "*" * (len(number) - 10) + number[-4:]
