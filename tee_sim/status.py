"""GlobalPlatform-style status codes and the result of a TA command."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class TeeStatus(IntEnum):
    """Return codes: GP TEE Client API values, plus implementation-defined ones (0xF00000xx)."""

    TEEC_SUCCESS = 0x00000000
    TEEC_ERROR_GENERIC = 0xFFFF0000
    TEEC_ERROR_ACCESS_DENIED = 0xFFFF0001
    TEEC_ERROR_BAD_FORMAT = 0xFFFF0005
    TEEC_ERROR_BAD_PARAMETERS = 0xFFFF0006
    TEEC_ERROR_BAD_STATE = 0xFFFF0007
    TEEC_ERROR_ITEM_NOT_FOUND = 0xFFFF0008
    TEEC_ERROR_NOT_SUPPORTED = 0xFFFF000A
    TEEC_ERROR_SECURITY = 0xFFFF000F
    TEE_ERROR_MAC_INVALID = 0xFFFF3071
    # Implementation-defined (GP leaves 0x00000001..0xFFFEFFFF to implementations).
    TEE_ERROR_ROLLBACK = 0xF0000001
    TEE_ERROR_PIN_LOCKED = 0xF0000002
    TEE_ERROR_PIN_DELAY = 0xF0000003
    TEE_ERROR_PIN_INCORRECT = 0xF0000004
    TEE_ERROR_CONFIRMATION_PENDING = 0xF0000005
    TEE_ERROR_CHANNEL_SEQUENCE = 0xF0000006


@dataclass(frozen=True)
class TeeResult:
    """Outcome of `TeeSession.invoke`: a status and output values (`error` set on failure)."""

    status: TeeStatus
    values: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the status is TEEC_SUCCESS."""
        return self.status is TeeStatus.TEEC_SUCCESS
