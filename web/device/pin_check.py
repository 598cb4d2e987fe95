"""The cardholder's PIN check before a reveal: verified by the PIN TA of the bound phone.

The phone must be the one bound to the application: its attested signing key (read from the
keystore) must equal the key the issuer stored at binding, so a phone the caller made up,
with a PIN they chose, cannot unlock another applicant's card.
"""

from __future__ import annotations

import hmac

from tee_sim import KEYSTORE_TA, KeystoreCommand, TeeStatus, wallet
from web.device.phones import checked_device_id, device_store
from web.errors import WebError
from web.flow.card_step import bound_signing_key


def verify_cardholder_pin(*, application_id: str, device_id: object, pin: object) -> None:
    """Raise WebError unless `pin` verifies on the application's bound phone."""
    if not isinstance(pin, str) or not pin.isdigit() or not 4 <= len(pin) <= 6:
        raise WebError(422, "validation_failed", "The PIN is 4 to 6 digits.")
    device = device_store().open(checked_device_id(device_id))
    result = device.open_session(KEYSTORE_TA).invoke(
        KeystoreCommand.GET_CHAIN, {"alias": wallet.SIGNING_ALIAS})
    public_key = result.values.get("public_key") if result.ok else None
    expected = bound_signing_key(application_id=application_id)
    if not isinstance(public_key, bytes) or not hmac.compare_digest(public_key, expected):
        raise WebError(403, "wrong_device", "This is not the phone bound to your card.")
    try:
        wallet.verify_pin(device, pin=pin)
    except wallet.WalletError as exc:
        messages = {
            TeeStatus.TEE_ERROR_PIN_INCORRECT: "The PIN is not correct.",
            TeeStatus.TEE_ERROR_PIN_DELAY: "Too many wrong PINs: wait a moment and try again.",
            TeeStatus.TEE_ERROR_PIN_LOCKED: "The PIN is locked after too many wrong attempts.",
        }
        raise WebError(403, "pin_rejected",
                       messages.get(exc.status, f"The phone refused the PIN: {exc}")) from None
