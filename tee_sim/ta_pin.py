"""PIN TA: user PIN with anti-hammering kept in rollback-protected storage.

Policy: 4-6 digits. Failures 1-2 cost nothing; from the 3rd consecutive failure on, the next
attempt is refused for 30 s × 2^(failures-3) (30 s, 60 s, 120 s, ...); the 10th consecutive
failure locks the PIN for good (the device must be bound again). A correct PIN resets the
count and opens a 60 s consumer-device CVM window for the payment applet.

Every attempt is first written to rollback-protected storage as a failure and only then
compared, as smart cards decrement their retry counter before checking: killing the process or
cutting the power mid-attempt, then restoring an older state file, never yields a free guess.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from enum import IntEnum
from typing import Any

from tee_sim.context import DeviceContext
from tee_sim.errors import BadParameters, TeeError
from tee_sim.params import check_names, get_str
from tee_sim.status import TeeResult, TeeStatus

MAX_FAILURES = 10
FREE_FAILURES = 2
BASE_DELAY_SECONDS = 30
CDCVM_WINDOW_SECONDS = 60


class PinCommand(IntEnum):
    """Commands of PIN_TA."""

    SET_PIN = 1
    VERIFY_PIN = 2
    STATUS = 3


def delay_after(failures: int) -> int:
    """Seconds the next attempt must wait after `failures` consecutive failures."""
    if failures <= FREE_FAILURES:
        return 0
    return int(BASE_DELAY_SECONDS * 2 ** (failures - FREE_FAILURES - 1))


def _get_pin(params: Mapping[str, object], name: str) -> str:
    pin = get_str(params, name, min_len=4, max_len=6)
    if not (pin.isascii() and pin.isdigit()):
        raise BadParameters(f"parameter '{name}' must be 4-6 digits")
    return pin


def _hash(ctx: DeviceContext, pin: str) -> bytes:
    # Keyed by a HUK-derived key: an offline guess needs the fuses, online guesses hit the counter.
    key = ctx.storage.secret_key("cardsim-tee-pin-v1")
    return hashlib.blake2b(pin.encode(), key=key, digest_size=32).digest()


def pin_status(ctx: DeviceContext) -> dict[str, object]:
    """Non-secret PIN facts: set, failures, remaining attempts, locked, seconds to wait."""
    pin: dict[str, Any] = ctx.state["pin"]
    wait = 0
    if pin["not_before"] is not None:
        wait = max(0, math.ceil(pin["not_before"] - ctx.now_ts()))
    return {
        "pin_set": pin["hash"] is not None,
        "failures": pin["failures"],
        "remaining_attempts": MAX_FAILURES - pin["failures"],
        "locked": pin["failures"] >= MAX_FAILURES,
        "retry_after": wait,
    }


def _attempt(ctx: DeviceContext, candidate: str) -> TeeResult:
    pin: dict[str, Any] = ctx.state["pin"]
    if pin["hash"] is None:
        raise TeeError("no PIN is set", status=TeeStatus.TEEC_ERROR_BAD_STATE)
    if pin["failures"] >= MAX_FAILURES:
        raise TeeError("PIN locked after too many failures", status=TeeStatus.TEE_ERROR_PIN_LOCKED)
    now = ctx.now_ts()
    if pin["not_before"] is not None and now < pin["not_before"]:
        wait = math.ceil(pin["not_before"] - now)
        raise TeeError(
            f"too many failures: retry in {wait} s", status=TeeStatus.TEE_ERROR_PIN_DELAY
        )
    # Count the attempt as a failure, durably (state and RPMB), before comparing: whoever cuts
    # the power or kills the process once the answer exists finds the attempt already counted.
    pin["failures"] += 1
    pin["cdcvm_until"] = None
    delay = delay_after(pin["failures"])
    pin["not_before"] = now + delay if delay else None
    ctx.persist()
    if hmac.compare_digest(_hash(ctx, candidate), pin["hash"]):
        pin.update(failures=0, not_before=None, cdcvm_until=now + CDCVM_WINDOW_SECONDS)
        return TeeResult(TeeStatus.TEEC_SUCCESS, {})
    status = pin_status(ctx)
    if status["locked"]:
        return TeeResult(
            TeeStatus.TEE_ERROR_PIN_LOCKED, {"error": "wrong PIN; PIN is now locked", **status}
        )
    return TeeResult(TeeStatus.TEE_ERROR_PIN_INCORRECT, {"error": "wrong PIN", **status})


def set_pin(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """SET_PIN(pin, [current_pin]): first setting needs no current PIN, changing does."""
    check_names(params, {"pin", "current_pin"})
    new = _get_pin(params, "pin")
    if ctx.state["pin"]["hash"] is not None:
        if "current_pin" not in params:
            raise TeeError(
                "a PIN is already set; give current_pin to change it",
                status=TeeStatus.TEEC_ERROR_ACCESS_DENIED,
            )
        result = _attempt(ctx, _get_pin(params, "current_pin"))
        if not result.ok:
            return result
    elif "current_pin" in params:
        raise BadParameters("no PIN is set yet; current_pin must be omitted")
    ctx.state["pin"].update(hash=_hash(ctx, new), failures=0, not_before=None)
    return TeeResult(TeeStatus.TEEC_SUCCESS, {})


def verify_pin(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """VERIFY_PIN(pin)."""
    check_names(params, {"pin"})
    return _attempt(ctx, _get_pin(params, "pin"))


def status(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """STATUS(): the non-secret PIN facts."""
    check_names(params, set())
    return TeeResult(TeeStatus.TEEC_SUCCESS, pin_status(ctx))


HANDLERS = {
    PinCommand.SET_PIN: set_pin,
    PinCommand.VERIFY_PIN: verify_pin,
    PinCommand.STATUS: status,
}
