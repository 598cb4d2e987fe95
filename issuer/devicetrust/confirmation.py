"""Check a trusted-UI confirmation against the text and nonce the issuer itself sent.

Message format: docs/protocol.md §3. The issuer never trusts the message bytes it receives; it
rebuilds them from its own prompt text and nonce and requires byte equality.
"""

from __future__ import annotations

import hmac
import struct

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from issuer.devicetrust.errors import ConfirmationRejected

CONFIRMATION_PREFIX = b"cardsim-confirmation-v1\x00"
MAX_PROMPT_BYTES = 4000
NONCE_BYTES = (8, 64)


def confirmation_message(*, prompt_text: str, nonce: bytes) -> bytes:
    """The canonical bytes the phone's confirmation key signs for this prompt and nonce."""
    prompt = prompt_text.encode("utf-8")
    if not 1 <= len(prompt) <= MAX_PROMPT_BYTES:
        raise ConfirmationRejected(
            "bad_prompt", f"The prompt must be 1 to {MAX_PROMPT_BYTES} bytes of UTF-8."
        )
    if not NONCE_BYTES[0] <= len(nonce) <= NONCE_BYTES[1]:
        raise ConfirmationRejected(
            "bad_nonce", f"The nonce must be {NONCE_BYTES[0]} to {NONCE_BYTES[1]} bytes."
        )
    return (
        CONFIRMATION_PREFIX
        + struct.pack(">I", len(prompt))
        + prompt
        + struct.pack(">H", len(nonce))
        + nonce
    )


def verify_confirmation(
    *, public_key: bytes, prompt_text: str, nonce: bytes, message: bytes, signature: bytes
) -> None:
    """Accept only a signature, by `public_key`, over exactly this prompt text and nonce.

    `public_key` must come from a chain `verify_key_attestation(require_confirmation=True)`
    accepted; nonce freshness and single use are the caller's (database's) job.
    """
    expected = confirmation_message(prompt_text=prompt_text, nonce=nonce)
    if not hmac.compare_digest(bytes(message), expected):
        raise ConfirmationRejected(
            "message_mismatch",
            "Your phone confirmed a different text or an older request; please confirm again.",
        )
    if len(public_key) != 32 or len(signature) != 64:
        raise ConfirmationRejected(
            "bad_signature", "The confirmation signature from your phone is not valid."
        )
    try:
        VerifyKey(bytes(public_key)).verify(expected, bytes(signature))
    except (BadSignatureError, ValueError) as exc:
        raise ConfirmationRejected(
            "bad_signature", "The confirmation signature from your phone is not valid."
        ) from exc
