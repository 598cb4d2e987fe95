"""The GlobalPlatform-shaped client API: sessions to trusted applications by UUID."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from tee_sim import ta_channel, ta_confirmation, ta_keystore, ta_pin
from tee_sim.context import DeviceContext
from tee_sim.errors import TeeError
from tee_sim.status import TeeResult, TeeStatus

if TYPE_CHECKING:
    from tee_sim.device import Device

KEYSTORE_TA = uuid.UUID("42ff5c11-ffc3-59b2-b32d-c3e311741e4a")
CONFIRMATION_TA = uuid.UUID("1bf37a97-97de-52f8-81a9-35ce93d3a969")
PIN_TA = uuid.UUID("f6610848-00ba-545e-ba7d-25eb86a46a71")
CHANNEL_TA = uuid.UUID("4eb0578b-a6fa-519c-83ed-3f968b2c7277")

Handler = Callable[[DeviceContext, Mapping[str, object]], TeeResult]
_TAS: dict[uuid.UUID, tuple[type[IntEnum], Mapping[Any, Handler]]] = {
    KEYSTORE_TA: (ta_keystore.KeystoreCommand, ta_keystore.HANDLERS),
    CONFIRMATION_TA: (ta_confirmation.ConfirmationCommand, ta_confirmation.HANDLERS),
    PIN_TA: (ta_pin.PinCommand, ta_pin.HANDLERS),
    CHANNEL_TA: (ta_channel.ChannelCommand, ta_channel.HANDLERS),
}
TA_NAMES = {
    KEYSTORE_TA: "keystore",
    CONFIRMATION_TA: "confirmation",
    PIN_TA: "pin",
    CHANNEL_TA: "channel",
}


class TeeSession:
    """An open session to one trusted application on one device."""

    def __init__(self, device: Device, ta_uuid: uuid.UUID) -> None:
        if not isinstance(ta_uuid, uuid.UUID) or ta_uuid not in _TAS:
            raise TeeError(
                f"no trusted application with UUID {ta_uuid}",
                status=TeeStatus.TEEC_ERROR_ITEM_NOT_FOUND,
            )
        self._device = device
        self.ta_uuid = ta_uuid
        self._commands, self._handlers = _TAS[ta_uuid]

    def invoke(self, command: int, params: Mapping[str, object] | None = None) -> TeeResult:
        """Run a numbered command; any failure is a status with values["error"], never a raise."""
        if isinstance(command, bool) or not isinstance(command, int):
            return _failure(TeeStatus.TEEC_ERROR_BAD_PARAMETERS, "command must be an integer")
        try:
            handler = self._handlers[self._commands(command)]
        except ValueError:
            return _failure(
                TeeStatus.TEEC_ERROR_NOT_SUPPORTED,
                f"{TA_NAMES[self.ta_uuid]} TA has no command {command}",
            )
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            return _failure(TeeStatus.TEEC_ERROR_BAD_PARAMETERS, "params must be a mapping")
        try:
            with self._device.transaction() as ctx:
                return handler(ctx, params)
        except TeeError as exc:
            return _failure(exc.status, str(exc))
        except Exception as exc:  # a TA must answer a status, never a stack trace
            return _failure(TeeStatus.TEEC_ERROR_GENERIC, f"internal error: {type(exc).__name__}")


def _failure(status: TeeStatus, message: str) -> TeeResult:
    return TeeResult(status, {"error": message})
