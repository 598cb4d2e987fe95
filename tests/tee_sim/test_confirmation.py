"""Protected confirmation: no signature without the button, and it always binds the shown text."""

from __future__ import annotations

import nacl.signing
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tee_sim import (
    CONFIRMATION_TA,
    KEYSTORE_TA,
    ConfirmationCommand,
    Device,
    KeystoreCommand,
    TeeError,
    TeeStatus,
    wallet,
)

pytestmark = pytest.mark.unit

NONCE = b"issuer-nonce-0001"


def _leaf_key(keys: dict[str, dict[str, object]]) -> nacl.signing.VerifyKey:
    chain = keys["signing"]["chain"]
    assert isinstance(chain, list)
    leaf = x509.load_der_x509_certificate(chain[0])
    return nacl.signing.VerifyKey(leaf.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def _expected(prompt: str, nonce: bytes) -> bytes:
    text = prompt.encode()
    return (
        b"cardsim-confirmation-v1\x00"
        + len(text).to_bytes(4, "big")
        + text
        + len(nonce).to_bytes(2, "big")
        + nonce
    )


def test_collect_before_the_button_is_pending(
    bound_device: tuple[Device, dict[str, dict[str, object]]],
) -> None:
    device, _ = bound_device
    ui = device.open_session(CONFIRMATION_TA)
    assert ui.invoke(ConfirmationCommand.COLLECT, {}).status is TeeStatus.TEEC_ERROR_BAD_STATE
    wallet.present_prompt(device, prompt="Agree?", nonce=NONCE)
    pending = ui.invoke(ConfirmationCommand.COLLECT, {})
    assert pending.status is TeeStatus.TEE_ERROR_CONFIRMATION_PENDING
    assert "signature" not in pending.values
    # No TA command can set the confirmation: try every command number with a "confirmed" flag.
    for command in range(0, 10):
        ui.invoke(command, {"confirmed": True})
    assert (
        ui.invoke(ConfirmationCommand.COLLECT, {}).status
        is TeeStatus.TEE_ERROR_CONFIRMATION_PENDING
    )


def test_button_without_a_prompt_is_refused(
    bound_device: tuple[Device, dict[str, dict[str, object]]],
) -> None:
    device, _ = bound_device
    with pytest.raises(TeeError) as err:
        device.press_confirmation_button()
    assert err.value.status is TeeStatus.TEEC_ERROR_BAD_STATE


def test_a_press_does_not_carry_over_to_a_swapped_prompt(
    bound_device: tuple[Device, dict[str, dict[str, object]]],
) -> None:
    device, keys = bound_device
    wallet.present_prompt(device, prompt="I agree to a credit limit of 5,000 CNY", nonce=NONCE)
    device.press_confirmation_button()
    # Malware swaps the text after the user pressed; the new prompt starts unconfirmed.
    wallet.present_prompt(device, prompt="I agree to a credit limit of 500,000 CNY", nonce=NONCE)
    ui = device.open_session(CONFIRMATION_TA)
    assert (
        ui.invoke(ConfirmationCommand.COLLECT, {}).status
        is TeeStatus.TEE_ERROR_CONFIRMATION_PENDING
    )
    device.press_confirmation_button()
    signed = wallet.collect_confirmation(device)
    assert signed.message == _expected("I agree to a credit limit of 500,000 CNY", NONCE)
    _leaf_key(keys).verify(signed.message, signed.signature)
    # Collected once: the prompt is gone, a second collect cannot replay the press.
    assert ui.invoke(ConfirmationCommand.COLLECT, {}).status is TeeStatus.TEEC_ERROR_BAD_STATE


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prompt=st.text(
        st.characters(categories=("L", "M", "N", "P", "S")) | st.sampled_from(" \n\t"),
        min_size=1,
        max_size=200,
    ),
    nonce=st.binary(min_size=8, max_size=64),
)
def test_signature_binds_exactly_the_shown_text_and_nonce(
    bound_device: tuple[Device, dict[str, dict[str, object]]], prompt: str, nonce: bytes
) -> None:
    device, keys = bound_device
    signed = wallet.confirm(device, prompt=prompt, nonce=nonce)
    assert signed.message == _expected(prompt, nonce)
    _leaf_key(keys).verify(signed.message, signed.signature)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        (
            {"prompt": "", "nonce": NONCE, "alias": wallet.SIGNING_ALIAS},
            TeeStatus.TEEC_ERROR_BAD_PARAMETERS,
        ),
        (
            {"prompt": "a\x1b[2Jb", "nonce": NONCE, "alias": wallet.SIGNING_ALIAS},
            TeeStatus.TEEC_ERROR_BAD_PARAMETERS,
        ),
        (
            {"prompt": "a\u202eb", "nonce": NONCE, "alias": wallet.SIGNING_ALIAS},
            TeeStatus.TEEC_ERROR_BAD_PARAMETERS,
        ),
        (
            {"prompt": "x" * 4001, "nonce": NONCE, "alias": wallet.SIGNING_ALIAS},
            TeeStatus.TEEC_ERROR_BAD_PARAMETERS,
        ),
        (
            {"prompt": "ok", "nonce": b"short", "alias": wallet.SIGNING_ALIAS},
            TeeStatus.TEEC_ERROR_BAD_PARAMETERS,
        ),
        ({"prompt": "ok", "nonce": NONCE, "alias": "missing"}, TeeStatus.TEEC_ERROR_ITEM_NOT_FOUND),
        ({"prompt": "ok", "nonce": NONCE, "alias": "plain"}, TeeStatus.TEEC_ERROR_ACCESS_DENIED),
        (
            {"prompt": "ok", "nonce": NONCE, "alias": wallet.AGREEMENT_ALIAS},
            TeeStatus.TEEC_ERROR_ACCESS_DENIED,
        ),
    ],
)
def test_prompt_input_is_validated(
    bound_device: tuple[Device, dict[str, dict[str, object]]],
    params: dict[str, object],
    status: TeeStatus,
) -> None:
    device, _ = bound_device
    device.open_session(KEYSTORE_TA).invoke(
        KeystoreCommand.GENERATE_KEY, {"alias": "plain", "kind": "ed25519", "challenge": b"c"}
    )
    result = device.open_session(CONFIRMATION_TA).invoke(ConfirmationCommand.PRESENT_PROMPT, params)
    assert result.status is status, result.values
