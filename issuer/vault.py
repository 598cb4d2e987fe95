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


def derive_key(*, kek: bytes, personalisation: bytes) -> bytes:
    """A 32-byte key for one purpose, derived from the KEK (keyed BLAKE2b with the purpose's
    personalisation, at most 16 bytes), so the KEK itself never serves two ciphers."""
    return hashlib.blake2b(b"", key=kek, person=personalisation,
                           digest_size=nacl.bindings.crypto_aead_xchacha20poly1305_ietf_KEYBYTES
                           ).digest()


def seal_bound(*, key: bytes, context: bytes, plaintext: bytes,
               rng: RandomBytes = system_random) -> bytes:
    """XChaCha20-Poly1305 under `key` with `context` as associated data, a fresh 24-byte
    random nonce: nonce || ciphertext || tag."""
    nonce = rng(_NONCE_SIZE)
    return nonce + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, context, nonce, key)


def open_bound(*, key: bytes, context: bytes, sealed: bytes, failure: str) -> bytes:
    """Open a `seal_bound` value; a wrong key, an altered or truncated value, or one sealed
    with another context (row or column) raises `IssuerError(failure)`."""
    try:
        return bytes(nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            sealed[_NONCE_SIZE:], context, sealed[:_NONCE_SIZE], key))
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise IssuerError(failure) from None


def _card_field_key(kek: bytes) -> bytes:
    return derive_key(kek=kek, personalisation=_CARD_KEY_PERSONALISATION)


def card_field_context(*, application_id: str, field: CardField) -> bytes:
    """The associated data binding a sealed card field to its row and column."""
    return f"cardsim card {field} of application {application_id}".encode()


def seal_card_field(*, kek: bytes, application_id: str, field: CardField, value: str,
                    rng: RandomBytes = system_random) -> bytes:
    """Encrypt one card column (nonce || ciphertext || tag), bound to its row and column."""
    return seal_bound(key=_card_field_key(kek),
                      context=card_field_context(application_id=application_id, field=field),
                      plaintext=value.encode("ascii"), rng=rng)


def open_card_field(*, kek: bytes, application_id: str, field: CardField,
                    ciphertext: bytes) -> str:
    """Decrypt one card column; a wrong key, an altered value or a value moved from another
    row or column raises `IssuerError`."""
    return open_bound(
        key=_card_field_key(kek),
        context=card_field_context(application_id=application_id, field=field),
        sealed=ciphertext,
        failure=f"the stored {_FIELD_NAMES[field]} of this card failed authentication "
                "(wrong issuer key file, or a value altered or moved from another card)",
    ).decode("ascii")


def lookup_hash(*, hmac_key: bytes, number: str) -> bytes:
    """Keyed hash of a card number: equality lookups and uniqueness without the plaintext."""
    return hmac.new(hmac_key, number.encode("ascii"), hashlib.sha256).digest()


def mask_number(number: str) -> str:
    """First six and last four digits visible, the rest as `*`."""
    return number[:6] + "*" * (len(number) - 10) + number[-4:]
