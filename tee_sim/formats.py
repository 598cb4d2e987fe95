"""Byte formats shared between the phone and the issuer (the contract is docs/protocol.md).

These are the phone's reference encoders/decoders; the issuer re-implements them independently.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)
from nacl.exceptions import CryptoError

from tee_sim.errors import TeeError
from tee_sim.status import TeeStatus

# --- protected confirmation (protocol §3) -------------------------------------------------
CONFIRMATION_PREFIX = b"cardsim-confirmation-v1\x00"
PROMPT_MAX_BYTES = 4000
NONCE_MIN_BYTES = 8
NONCE_MAX_BYTES = 64


def confirmation_message(*, prompt: str, nonce: bytes) -> bytes:
    """The exact bytes a confirmation key signs for this prompt and issuer nonce."""
    text = prompt.encode("utf-8")
    if not 1 <= len(text) <= PROMPT_MAX_BYTES:
        raise ValueError(f"prompt must be 1..{PROMPT_MAX_BYTES} UTF-8 bytes")
    if not NONCE_MIN_BYTES <= len(nonce) <= NONCE_MAX_BYTES:
        raise ValueError(f"nonce must be {NONCE_MIN_BYTES}..{NONCE_MAX_BYTES} bytes")
    return (
        CONFIRMATION_PREFIX
        + len(text).to_bytes(4, "big")
        + text
        + len(nonce).to_bytes(2, "big")
        + nonce
    )


def parse_confirmation_message(message: bytes) -> tuple[str, bytes]:
    """(prompt, nonce) from a confirmation message; ValueError if it is not one exactly."""
    if not message.startswith(CONFIRMATION_PREFIX):
        raise ValueError("not a cardsim confirmation message")
    rest = message[len(CONFIRMATION_PREFIX) :]
    if len(rest) < 4:
        raise ValueError("truncated prompt length")
    n = int.from_bytes(rest[:4], "big")
    prompt_bytes, rest = rest[4 : 4 + n], rest[4 + n :]
    if len(prompt_bytes) != n or len(rest) < 2:
        raise ValueError("truncated prompt")
    m = int.from_bytes(rest[:2], "big")
    nonce = rest[2:]
    if len(nonce) != m:
        raise ValueError("nonce length mismatch")
    prompt = prompt_bytes.decode("utf-8")
    if confirmation_message(prompt=prompt, nonce=nonce) != message:
        raise ValueError("non-canonical confirmation message")
    return prompt, nonce


# --- personalization payload (protocol §5) ------------------------------------------------
PERSO_DOMAIN = b"cardsim-perso-v1\x00"
SE_CHALLENGE_BYTES = 16
CARD_KEY_BYTES = 32


@dataclass(frozen=True)
class CardData:
    """The fields of one card personalization (card_key is secret, pan is sensitive)."""

    challenge: bytes
    pan: str
    dpan: str
    expiry: str  # YYMM
    cardholder: str
    card_key: bytes
    card_ref: str | None = None


def _digits(value: bytes, name: str) -> str:
    text = value.decode("ascii")
    if not (12 <= len(text) <= 19 and text.isdigit()):
        raise ValueError(f"{name} must be 12..19 ASCII digits")
    return text


def encode_card_data(card: CardData) -> bytes:
    """The inner TLV bytes that the issuer signs (reference encoder, used by tests)."""
    fields = [
        (0x01, card.challenge),
        (0x02, card.pan.encode("ascii")),
        (0x03, card.dpan.encode("ascii")),
        (0x04, card.expiry.encode("ascii")),
        (0x05, card.cardholder.encode("utf-8")),
        (0x06, card.card_key),
    ]
    if card.card_ref is not None:
        fields.append((0x07, card.card_ref.encode("ascii")))
    out = b"".join(bytes([t]) + len(v).to_bytes(2, "big") + v for t, v in fields)
    decode_card_data(out)  # refuse to emit what the applet would refuse
    return out


def decode_card_data(inner: bytes) -> CardData:
    """Parse and validate the inner TLV; ValueError on any deviation from the contract."""
    fields: dict[int, bytes] = {}
    pos, last = 0, 0
    while pos < len(inner):
        if pos + 3 > len(inner):
            raise ValueError("truncated TLV header")
        tag, length = inner[pos], int.from_bytes(inner[pos + 1 : pos + 3], "big")
        value = inner[pos + 3 : pos + 3 + length]
        if len(value) != length:
            raise ValueError("truncated TLV value")
        if tag <= last or tag > 0x07:
            raise ValueError(f"unexpected or out-of-order tag {tag:#04x}")
        fields[tag], last, pos = value, tag, pos + 3 + length
    missing = {1, 2, 3, 4, 5, 6} - set(fields)
    if missing:
        raise ValueError(f"missing tags {sorted(missing)}")
    try:
        expiry = fields[4].decode("ascii")
        name = fields[5].decode("utf-8")
        ref = fields[7].decode("ascii") if 7 in fields else None
    except UnicodeDecodeError as exc:
        raise ValueError("bad text encoding") from exc
    if len(fields[1]) != SE_CHALLENGE_BYTES:
        raise ValueError("challenge must be 16 bytes")
    if not (len(expiry) == 4 and expiry.isdigit() and 1 <= int(expiry[2:]) <= 12):
        raise ValueError("expiry must be YYMM")
    if not 1 <= len(fields[5]) <= 45:
        raise ValueError("cardholder name must be 1..45 bytes")
    if len(fields[6]) != CARD_KEY_BYTES:
        raise ValueError("card key must be 32 bytes")
    if ref is not None and not (1 <= len(ref) <= 64 and ref.isprintable()):
        raise ValueError("card ref must be 1..64 printable ASCII")
    return CardData(
        challenge=fields[1],
        pan=_digits(fields[2], "PAN"),
        dpan=_digits(fields[3], "DPAN"),
        expiry=expiry,
        cardholder=name,
        card_key=fields[6],
        card_ref=ref,
    )


def perso_signed_message(*, se_public_key: bytes, inner: bytes) -> bytes:
    """What the issuer's Ed25519 key signs for a personalization payload."""
    return PERSO_DOMAIN + se_public_key + inner


# --- secure channel (protocol §4) ---------------------------------------------------------
CHANNEL_HELLO_DOMAIN = b"cardsim-channel-hello-v1\x00"
CHANNEL_HELLO_VERSION = 1
CHANNEL_HELLO_BYTES = 97
CHANNEL_INFO = b"cardsim-channel-v1"
DIRECTION_ISSUER_TO_DEVICE = 0x01
DIRECTION_DEVICE_TO_ISSUER = 0x02
RECORD_PROVISION = 0x01
RECORD_PROVISION_RESULT = 0x81
RECORD_APP_DATA = 0x10
RECORD_OVERHEAD = 8 + 16


def hello_signed_message(*, device_public_key: bytes, ephemeral_public_key: bytes) -> bytes:
    """What the issuer's Ed25519 key signs in a channel hello."""
    return CHANNEL_HELLO_DOMAIN + device_public_key + ephemeral_public_key


def channel_keys(
    *, shared_secret: bytes, ephemeral_public_key: bytes, device_public_key: bytes
) -> tuple[bytes, bytes]:
    """(issuer→device key, device→issuer key) from the X25519 shared secret."""
    okm = HKDF(
        algorithm=hashes.SHA256(),
        length=64,
        salt=ephemeral_public_key + device_public_key,
        info=CHANNEL_INFO,
    ).derive(shared_secret)
    return okm[:32], okm[32:]


def _nonce_aad(direction: int, seq: int) -> tuple[bytes, bytes]:
    seq_bytes = seq.to_bytes(8, "big")
    return bytes(16) + seq_bytes, bytes([direction]) + seq_bytes


def seal_record(*, key: bytes, direction: int, seq: int, plaintext: bytes) -> bytes:
    """One channel record: u64 seq || XChaCha20-Poly1305 ciphertext."""
    nonce, aad = _nonce_aad(direction, seq)
    ct = crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key)
    return seq.to_bytes(8, "big") + bytes(ct)


def open_record(*, key: bytes, direction: int, expected_seq: int, record: bytes) -> bytes:
    """Plaintext of a record; TeeError on replay, reorder or any alteration."""
    if len(record) < RECORD_OVERHEAD:
        raise TeeError("record too short", status=TeeStatus.TEEC_ERROR_BAD_FORMAT)
    seq = int.from_bytes(record[:8], "big")
    if seq < expected_seq:
        raise TeeError(
            f"record seq {seq} already seen (expected {expected_seq}): replay refused",
            status=TeeStatus.TEE_ERROR_CHANNEL_SEQUENCE,
        )
    if seq > expected_seq:
        raise TeeError(
            f"record seq {seq} out of order (expected {expected_seq}): refused",
            status=TeeStatus.TEE_ERROR_CHANNEL_SEQUENCE,
        )
    nonce, aad = _nonce_aad(direction, seq)
    try:
        return bytes(crypto_aead_xchacha20poly1305_ietf_decrypt(record[8:], aad, nonce, key))
    except CryptoError as exc:
        raise TeeError(
            "record failed authentication (altered or wrong key)",
            status=TeeStatus.TEE_ERROR_MAC_INVALID,
        ) from exc
