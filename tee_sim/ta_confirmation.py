"""Confirmation TA (trusted UI): sign exactly the prompt shown, only after the physical button."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any

import nacl.signing

from tee_sim.context import DeviceContext
from tee_sim.errors import BadParameters, TeeError
from tee_sim.formats import (
    NONCE_MAX_BYTES,
    NONCE_MIN_BYTES,
    PROMPT_MAX_BYTES,
    confirmation_message,
)
from tee_sim.params import check_names, get_alias, get_bytes, get_str
from tee_sim.status import TeeResult, TeeStatus


class ConfirmationCommand(IntEnum):
    """Commands of CONFIRMATION_TA."""

    PRESENT_PROMPT = 1
    COLLECT = 2
    CANCEL = 3
    STATUS = 4


def _check_prompt(prompt: str) -> None:
    if len(prompt.encode("utf-8", "surrogatepass")) > PROMPT_MAX_BYTES:
        raise BadParameters(f"prompt must be at most {PROMPT_MAX_BYTES} UTF-8 bytes")
    for ch in prompt:
        if ch in "\n\t":
            continue
        if not ch.isprintable() or 0xD800 <= ord(ch) <= 0xDFFF:
            raise BadParameters(f"prompt contains a non-displayable character U+{ord(ch):04X}")


def present_prompt(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """PRESENT_PROMPT(prompt, nonce, alias): show the text; replaces any earlier prompt."""
    check_names(params, {"prompt", "nonce", "alias"})
    prompt = get_str(params, "prompt", max_len=PROMPT_MAX_BYTES)
    _check_prompt(prompt)
    nonce = get_bytes(params, "nonce", min_len=NONCE_MIN_BYTES, max_len=NONCE_MAX_BYTES)
    alias = get_alias(params)
    key: dict[str, Any] | None = ctx.state["keys"].get(alias)
    if key is None:
        raise TeeError(f"no key with alias {alias!r}", status=TeeStatus.TEEC_ERROR_ITEM_NOT_FOUND)
    if key["kind"] != "ed25519" or not key["confirmation"]:
        raise TeeError(
            "key is not an Ed25519 key bound to trusted confirmation",
            status=TeeStatus.TEEC_ERROR_ACCESS_DENIED,
        )
    # A new prompt always starts unconfirmed: a press for an earlier text never carries over.
    ctx.state["confirmation"] = {
        "prompt": prompt,
        "nonce": nonce,
        "alias": alias,
        "confirmed": False,
    }
    return TeeResult(TeeStatus.TEEC_SUCCESS, {"state": "waiting_for_button"})


def collect(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """COLLECT(): the signed confirmation message, once the button was pressed."""
    check_names(params, set())
    pending: dict[str, Any] | None = ctx.state["confirmation"]
    if pending is None:
        raise TeeError("no prompt is shown", status=TeeStatus.TEEC_ERROR_BAD_STATE)
    if not pending["confirmed"]:
        raise TeeError(
            "waiting for the user to press the confirmation button",
            status=TeeStatus.TEE_ERROR_CONFIRMATION_PENDING,
        )
    key: dict[str, Any] | None = ctx.state["keys"].get(pending["alias"])
    if key is None:
        ctx.state["confirmation"] = None
        return TeeResult(
            TeeStatus.TEEC_ERROR_ITEM_NOT_FOUND, {"error": "the confirmation key was deleted"}
        )
    message = confirmation_message(prompt=pending["prompt"], nonce=pending["nonce"])
    signature = nacl.signing.SigningKey(key["private"]).sign(message).signature
    ctx.state["confirmation"] = None
    return TeeResult(
        TeeStatus.TEEC_SUCCESS,
        {"message": message, "signature": bytes(signature), "alias": pending["alias"]},
    )


def cancel(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """CANCEL(): take the prompt down without signing."""
    check_names(params, set())
    ctx.state["confirmation"] = None
    return TeeResult(TeeStatus.TEEC_SUCCESS, {})


def status(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """STATUS(): whether a prompt is shown, its text, and whether it was confirmed."""
    check_names(params, set())
    pending = ctx.state["confirmation"]
    if pending is None:
        return TeeResult(TeeStatus.TEEC_SUCCESS, {"showing": False})
    return TeeResult(
        TeeStatus.TEEC_SUCCESS,
        {"showing": True, "prompt": pending["prompt"], "confirmed": pending["confirmed"]},
    )


HANDLERS = {
    ConfirmationCommand.PRESENT_PROMPT: present_prompt,
    ConfirmationCommand.COLLECT: collect,
    ConfirmationCommand.CANCEL: cancel,
    ConfirmationCommand.STATUS: status,
}
