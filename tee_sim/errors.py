"""The one exception family of `tee_sim`: everything it raises derives from `TeeError`."""

from __future__ import annotations

from tee_sim.status import TeeStatus


class TeeError(Exception):
    """A request to the emulated device failed; `status` names why, `str()` says it in words."""

    def __init__(self, message: str, *, status: TeeStatus = TeeStatus.TEEC_ERROR_GENERIC) -> None:
        super().__init__(message)
        self.status = status


class DeviceNotFound(TeeError):
    """No device with that id exists in the store."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=TeeStatus.TEEC_ERROR_ITEM_NOT_FOUND)


class StateIntegrityError(TeeError):
    """The device state failed its integrity (tamper) or freshness (rollback) check."""


class BadParameters(TeeError):
    """A command parameter is missing, of the wrong type or out of range."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=TeeStatus.TEEC_ERROR_BAD_PARAMETERS)
