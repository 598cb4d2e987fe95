"""The phone's wallet app (REE side), built only on the public client API.

These are the few calls the web layer needs for the happy path. Each raises `WalletError`
(a TeeError) carrying the TEE status or SE status word when the device refuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from tee_sim.apdu import SW
from tee_sim.client import CHANNEL_TA, CONFIRMATION_TA, KEYSTORE_TA, PIN_TA
from tee_sim.device import Device
from tee_sim.errors import TeeError
from tee_sim.se_applet import PAYMENT_AID
from tee_sim.status import TeeResult, TeeStatus
from tee_sim.ta_channel import ChannelCommand
from tee_sim.ta_confirmation import ConfirmationCommand
from tee_sim.ta_keystore import KeystoreCommand
from tee_sim.ta_pin import PinCommand

SIGNING_ALIAS = "cardsim-signing"
AGREEMENT_ALIAS = "cardsim-agreement"
SE_ALIAS = "cardsim-se"


class WalletError(TeeError):
    """The device refused a wallet step; `status` (and `sw` for SE steps) say why."""

    def __init__(self, message: str, *, status: TeeStatus, sw: int | None = None) -> None:
        super().__init__(message, status=status)
        self.sw = sw


def _check(result: TeeResult, step: str) -> dict[str, object]:
    if not result.ok:
        raise WalletError(
            f"{step}: {result.values.get('error', result.status.name)}", status=result.status
        )
    return result.values


@dataclass(frozen=True)
class Confirmation:
    """A signed trusted-UI confirmation (protocol §3)."""

    message: bytes
    signature: bytes


def bind(device: Device, *, challenge: bytes) -> dict[str, dict[str, object]]:
    """Generate the three attested keys for `challenge`.

    Returns {"signing": ..., "agreement": ..., "se": ...}, each {"alias", "public_key",
    "security_level", "chain": [DER leaf, device cert, intermediate]}. The signing key requires
    trusted confirmation and user presence; the SE key is the payment applet's X25519 key.
    """
    session = device.open_session(KEYSTORE_TA)
    specs: dict[str, dict[str, object]] = {
        "signing": {
            "alias": SIGNING_ALIAS,
            "kind": "ed25519",
            "confirmation": True,
            "user_presence": True,
        },
        "agreement": {"alias": AGREEMENT_ALIAS, "kind": "x25519"},
        "se": {"alias": SE_ALIAS, "kind": "x25519", "strongbox": True},
    }
    return {
        name: _check(
            session.invoke(KeystoreCommand.GENERATE_KEY, {**spec, "challenge": challenge}),
            f"generate {name} key",
        )
        for name, spec in specs.items()
    }


def present_prompt(device: Device, *, prompt: str, nonce: bytes) -> None:
    """Show `prompt` on the trusted UI, to be signed with the binding signing key."""
    session = device.open_session(CONFIRMATION_TA)
    _check(
        session.invoke(
            ConfirmationCommand.PRESENT_PROMPT,
            {"prompt": prompt, "nonce": nonce, "alias": SIGNING_ALIAS},
        ),
        "present prompt",
    )


def collect_confirmation(device: Device) -> Confirmation:
    """The signed confirmation, once the user pressed the button (PENDING status otherwise)."""
    values = _check(
        device.open_session(CONFIRMATION_TA).invoke(ConfirmationCommand.COLLECT, {}), "collect"
    )
    message, signature = values["message"], values["signature"]
    assert isinstance(message, bytes) and isinstance(signature, bytes)
    return Confirmation(message=message, signature=signature)


def confirm(device: Device, *, prompt: str, nonce: bytes) -> Confirmation:
    """Present, press the physical button (the simulated user agrees), and collect."""
    present_prompt(device, prompt=prompt, nonce=nonce)
    device.press_confirmation_button()
    return collect_confirmation(device)


def open_channel(device: Device, *, hello: bytes) -> None:
    """Accept the issuer's signed hello (protocol §4.1) on the agreement key."""
    _check(
        device.open_session(CHANNEL_TA).invoke(
            ChannelCommand.OPEN, {"hello": hello, "alias": AGREEMENT_ALIAS}
        ),
        "open channel",
    )


def _apdu(device: Device, apdu: bytes, step: str) -> bytes:
    answer = device.transmit(apdu)
    sw = int.from_bytes(answer[-2:], "big")
    if sw != SW.OK:
        raise WalletError(
            f"{step}: secure element answered {sw:04X}", status=TeeStatus.TEEC_ERROR_GENERIC, sw=sw
        )
    return answer[:-2]


def _select(device: Device) -> None:
    _apdu(device, bytes([0x00, 0xA4, 0x04, 0x00, len(PAYMENT_AID)]) + PAYMENT_AID, "select applet")


def se_challenge(device: Device) -> bytes:
    """A fresh 16-byte challenge from the payment applet, for the issuer's payload (§5)."""
    _select(device)
    return _apdu(device, bytes.fromhex("0084000010"), "get challenge")


def receive_provisioning(device: Device, *, record: bytes) -> dict[str, object]:
    """Deliver the issuer's PROVISION record; returns {"sw": int, "response": record bytes}.

    `response` is the PROVISION_RESULT record for the issuer, sent even when the SE refused.
    """
    values = _check(
        device.open_session(CHANNEL_TA).invoke(ChannelCommand.DELIVER, {"record": record}),
        "deliver record",
    )
    if values.get("type") != "provision":
        raise WalletError(
            "record was not a provisioning record", status=TeeStatus.TEEC_ERROR_BAD_FORMAT
        )
    return {"sw": values["sw"], "response": values["response"]}


def set_pin(device: Device, *, pin: str, current_pin: str | None = None) -> None:
    """Set (or change) the user PIN."""
    params: dict[str, object] = {"pin": pin}
    if current_pin is not None:
        params["current_pin"] = current_pin
    _check(device.open_session(PIN_TA).invoke(PinCommand.SET_PIN, params), "set PIN")


def verify_pin(device: Device, *, pin: str) -> None:
    """Verify the PIN (opens the 60 s payment window); WalletError with the PIN status if not."""
    _check(device.open_session(PIN_TA).invoke(PinCommand.VERIFY_PIN, {"pin": pin}), "verify PIN")


def card_summary(device: Device) -> dict[str, object]:
    """Non-secret card facts read with GET DATA: last 4 of PAN/DPAN, expiry, ATC, life cycle."""
    _select(device)

    def field(tag: int) -> bytes | None:
        answer = device.transmit(bytes([0x80, 0xCA, tag >> 8, tag & 0xFF, 0x00]))
        if answer[-2:] != b"\x90\x00":
            return None
        return answer[3:-2]  # two-byte tag, one-byte length

    def text(tag: int) -> str | None:
        value = field(tag)
        return None if value is None else value.decode("utf-8")

    atc, life = field(0x9F36), field(0xDF04)
    return {
        "personalized": life == b"\x0f",
        "pan_last4": text(0xDF01),
        "dpan_last4": text(0xDF02),
        "expiry": text(0xDF03),
        "cardholder": text(0x5F20),
        "atc": None if atc is None else int.from_bytes(atc, "big"),
    }


def reveal_card(device: Device, *, pin: str) -> dict[str, object]:
    """After a correct PIN, the card as the wallet shows it (masked; secrets never leave the SE)."""
    verify_pin(device, pin=pin)
    return card_summary(device)


def pay(
    device: Device, *, pin: str, amount_bcd: bytes, currency_bcd: bytes, unpredictable: bytes
) -> bytes:
    """Verify the PIN then GENERATE AC; returns the 77-template response (ATC + ARQC)."""
    verify_pin(device, pin=pin)
    _select(device)
    data = amount_bcd + currency_bcd + unpredictable
    return _apdu(device, bytes([0x80, 0xAE, 0x80, 0x00, len(data)]) + data + b"\x00", "generate AC")
