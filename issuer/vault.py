"""PAN vault: card numbers encrypted under the issuer KEK, looked up by keyed hash."""

from __future__ import annotations

import hashlib
import hmac

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


def lookup_hash(*, hmac_key: bytes, number: str) -> bytes:
    """Keyed hash of a card number: equality lookups and uniqueness without the plaintext."""
    return hmac.new(hmac_key, number.encode("ascii"), hashlib.sha256).digest()


def mask_number(number: str) -> str:
    """First six and last four digits visible, the rest as `*`."""
    return number[:6] + "*" * (len(number) - 10) + number[-4:]
