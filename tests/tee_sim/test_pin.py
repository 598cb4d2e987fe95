"""PIN TA: growing delays after 3 failures, lockout at 10, counters survive and resist rollback."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import pytest

from tee_sim import PIN_TA, Device, DeviceStore, PinCommand, TeeStatus, wallet
from tee_sim.ta_pin import MAX_FAILURES, delay_after
from tests.tee_sim.support import FakeClock

pytestmark = pytest.mark.unit


def test_delays_grow_and_the_tenth_failure_locks(
    make_device: Callable[[str], Device], clock: FakeClock
) -> None:
    device = make_device("genuine")
    wallet.set_pin(device, pin="2468")
    pin = device.open_session(PIN_TA)
    for failure in range(1, MAX_FAILURES + 1):
        result = pin.invoke(PinCommand.VERIFY_PIN, {"pin": "1111"})
        if failure < MAX_FAILURES:
            assert result.status is TeeStatus.TEE_ERROR_PIN_INCORRECT
            assert result.values["remaining_attempts"] == MAX_FAILURES - failure
        else:
            assert result.status is TeeStatus.TEE_ERROR_PIN_LOCKED
        wait = delay_after(failure)
        assert result.values["retry_after"] == wait
        if wait:
            early = pin.invoke(PinCommand.VERIFY_PIN, {"pin": "2468"})
            expected = (
                TeeStatus.TEE_ERROR_PIN_LOCKED
                if failure == MAX_FAILURES
                else TeeStatus.TEE_ERROR_PIN_DELAY
            )
            assert early.status is expected  # even the right PIN is not tried during the delay
            clock.advance(wait)
    assert [delay_after(n) for n in (1, 2, 3, 4, 5)] == [0, 0, 30, 60, 120]
    assert (
        pin.invoke(PinCommand.VERIFY_PIN, {"pin": "2468"}).status is TeeStatus.TEE_ERROR_PIN_LOCKED
    )
    status = pin.invoke(PinCommand.STATUS, {}).values
    assert status["locked"] is True and status["remaining_attempts"] == 0
    assert device.public_state()["pin"]["locked"] is True  # type: ignore[index]


def test_correct_pin_resets_the_counter(
    make_device: Callable[[str], Device], clock: FakeClock
) -> None:
    device = make_device("genuine")
    wallet.set_pin(device, pin="13579")
    pin = device.open_session(PIN_TA)
    for _ in range(3):
        pin.invoke(PinCommand.VERIFY_PIN, {"pin": "00000"})
    clock.advance(30)
    assert pin.invoke(PinCommand.VERIFY_PIN, {"pin": "13579"}).ok
    assert pin.invoke(PinCommand.STATUS, {}).values["failures"] == 0


def test_changing_the_pin_needs_the_current_one(make_device: Callable[[str], Device]) -> None:
    device = make_device("genuine")
    pin = device.open_session(PIN_TA)
    assert (
        pin.invoke(PinCommand.VERIFY_PIN, {"pin": "1234"}).status is TeeStatus.TEEC_ERROR_BAD_STATE
    )
    assert pin.invoke(PinCommand.SET_PIN, {"pin": "1234"}).ok
    assert (
        pin.invoke(PinCommand.SET_PIN, {"pin": "5678"}).status is TeeStatus.TEEC_ERROR_ACCESS_DENIED
    )
    wrong = pin.invoke(PinCommand.SET_PIN, {"pin": "5678", "current_pin": "9999"})
    assert wrong.status is TeeStatus.TEE_ERROR_PIN_INCORRECT
    assert pin.invoke(PinCommand.SET_PIN, {"pin": "5678", "current_pin": "1234"}).ok
    assert pin.invoke(PinCommand.VERIFY_PIN, {"pin": "5678"}).ok


@pytest.mark.parametrize("bad", ["123", "1234567", "12a4", "١٢٣٤", 1234, b"1234", None])
def test_pin_format_is_validated(make_device: Callable[[str], Device], bad: object) -> None:
    device = make_device("genuine")
    result = device.open_session(PIN_TA).invoke(PinCommand.SET_PIN, {"pin": bad})
    assert result.status is TeeStatus.TEEC_ERROR_BAD_PARAMETERS
    assert device.open_session(PIN_TA).invoke(PinCommand.STATUS, {}).values["pin_set"] is False


def test_a_guess_cut_off_before_its_rpmb_write_teaches_nothing(
    make_device: Callable[[str], Device], store: DeviceStore
) -> None:
    # The attacker copies state.bin, lets a guess run, cuts the power after the new state file
    # is written but before the RPMB counter is (modelled by a directory where the RPMB
    # update's temporary file goes), reads what it can of the written state, and puts the copy
    # back. Every guess must be counted in the RPMB before the PIN is compared, so the copy
    # goes back without the guess having told anything (not even through the file's size).
    device = make_device("genuine")
    wallet.set_pin(device, pin="2468")
    state = store.directory / device.device_id / "state.bin"
    # The RPMB update writes `.rpmb/.<device id>.<pid>.<thread id>.tmp`, then renames it.
    tmp_name = f".{device.device_id}.{os.getpid()}.{threading.get_ident()}.tmp"
    cut = store.directory / ".rpmb" / tmp_name
    pin = device.open_session(PIN_TA)

    def cut_off_guess(guess: str) -> tuple[TeeStatus, bytes]:
        copy = state.read_bytes()
        cut.mkdir()
        try:
            result = pin.invoke(PinCommand.VERIFY_PIN, {"pin": guess})
        finally:
            cut.rmdir()
        written = state.read_bytes()
        state.write_bytes(copy)
        return result.status, written

    wrong_status, wrong_written = cut_off_guess("1111")
    right_status, right_written = cut_off_guess("2468")
    assert wrong_status is right_status is TeeStatus.TEEC_ERROR_GENERIC
    assert len(wrong_written) == len(right_written)
    # Once the RPMB can be written again, a guess is counted like any other.
    assert pin.invoke(PinCommand.VERIFY_PIN, {"pin": "1111"}).values["failures"] == 1
