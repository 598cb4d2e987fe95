"""Trusted-UI confirmations from real tee_sim phones, checked by the issuer's own rebuild."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from issuer.devicetrust import ConfirmationRejected, confirmation_message, verify_confirmation
from tee_sim import wallet
from tests.issuer.devicetrust.conftest import Phones

pytestmark = pytest.mark.unit

PROMPT = "I agree to the cardsim Credit Card agreement v3, limit CNY 20,000. 我同意。"


def signing_key(phones: Phones, profile: str = "genuine") -> bytes:
    key = phones.bindings[profile]["signing"]["public_key"]
    assert isinstance(key, bytes)
    return key


def check(
    phones: Phones,
    confirmation: wallet.Confirmation,
    *,
    prompt: str,
    nonce: bytes,
    key: bytes | None = None,
) -> None:
    verify_confirmation(
        public_key=key or signing_key(phones),
        prompt_text=prompt,
        nonce=nonce,
        message=confirmation.message,
        signature=confirmation.signature,
    )


def reason(phones: Phones, confirmation: wallet.Confirmation, **kwargs: object) -> str:
    with pytest.raises(ConfirmationRejected) as caught:
        check(phones, confirmation, **kwargs)  # type: ignore[arg-type]
    assert caught.value.message
    return caught.value.reason


def test_confirmation_of_the_issuers_text_is_accepted(phones: Phones) -> None:
    nonce = b"n" * 16
    confirmation = wallet.confirm(phones.devices["genuine"], prompt=PROMPT, nonce=nonce)
    check(phones, confirmation, prompt=PROMPT, nonce=nonce)
    # The issuer's independent rebuild matches the phone's bytes exactly.
    assert confirmation.message == confirmation_message(prompt_text=PROMPT, nonce=nonce)


def test_confirmation_over_other_text_is_rejected(phones: Phones) -> None:
    nonce = b"\x01" * 16
    shown = PROMPT.replace("20,000", "200,000")
    confirmation = wallet.confirm(phones.devices["genuine"], prompt=shown, nonce=nonce)
    assert reason(phones, confirmation, prompt=PROMPT, nonce=nonce) == "message_mismatch"


def test_replayed_confirmation_for_a_new_nonce_is_rejected(phones: Phones) -> None:
    old = wallet.confirm(phones.devices["genuine"], prompt=PROMPT, nonce=b"old-nonce-123456")
    assert reason(phones, old, prompt=PROMPT, nonce=b"new-nonce-654321") == "message_mismatch"


def test_message_relabelled_with_issuers_bytes_but_old_signature(phones: Phones) -> None:
    old = wallet.confirm(phones.devices["genuine"], prompt=PROMPT, nonce=b"old-nonce-123456")
    nonce = b"new-nonce-654321"
    forged = wallet.Confirmation(
        message=confirmation_message(prompt_text=PROMPT, nonce=nonce), signature=old.signature
    )
    assert reason(phones, forged, prompt=PROMPT, nonce=nonce) == "bad_signature"


def test_confirmation_from_another_phone_is_rejected(phones: Phones) -> None:
    nonce = b"\x02" * 16
    other = wallet.confirm(phones.devices["outdated"], prompt=PROMPT, nonce=nonce)
    assert reason(phones, other, prompt=PROMPT, nonce=nonce) == "bad_signature"
    check(phones, other, prompt=PROMPT, nonce=nonce, key=signing_key(phones, "outdated"))


def test_tampered_signature_is_rejected(phones: Phones) -> None:
    nonce = b"\x03" * 16
    confirmation = wallet.confirm(phones.devices["genuine"], prompt=PROMPT, nonce=nonce)
    bad = bytearray(confirmation.signature)
    bad[10] ^= 0x40
    tampered = wallet.Confirmation(message=confirmation.message, signature=bytes(bad))
    assert reason(phones, tampered, prompt=PROMPT, nonce=nonce) == "bad_signature"
    truncated = wallet.Confirmation(message=confirmation.message, signature=bytes(bad[:63]))
    assert reason(phones, truncated, prompt=PROMPT, nonce=nonce) == "bad_signature"


def test_no_signature_without_the_button(phones: Phones) -> None:
    device = phones.devices["genuine"]
    wallet.present_prompt(device, prompt=PROMPT, nonce=b"\x04" * 16)
    with pytest.raises(wallet.WalletError):
        wallet.collect_confirmation(device)


@pytest.mark.parametrize(
    ("prompt", "nonce"),
    [("", b"n" * 16), ("x" * 4001, b"n" * 16), (PROMPT, b"short"), (PROMPT, b"n" * 65)],
)
def test_out_of_contract_prompt_or_nonce(prompt: str, nonce: bytes) -> None:
    with pytest.raises(ConfirmationRejected) as caught:
        confirmation_message(prompt_text=prompt, nonce=nonce)
    assert caught.value.reason in {"bad_prompt", "bad_nonce"}


@settings(max_examples=100, deadline=None)
@given(
    st.text(min_size=1, max_size=200).filter(lambda t: len(t.encode()) <= 4000),
    st.binary(min_size=8, max_size=64),
    st.text(min_size=1, max_size=200),
)
def test_message_binds_exact_text_and_nonce(prompt: str, nonce: bytes, other: str) -> None:
    message = confirmation_message(prompt_text=prompt, nonce=nonce)
    assert message.startswith(b"cardsim-confirmation-v1\x00")
    if other != prompt:
        assert confirmation_message(prompt_text=other, nonce=nonce) != message
    # Length prefixes make the encoding injective: text and nonce cannot trade bytes.
    shifted = confirmation_message(prompt_text=prompt + "\x00", nonce=nonce[:-1] + b"\x00")
    assert shifted != message
