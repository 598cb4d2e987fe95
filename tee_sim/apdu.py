"""ISO 7816-4 command APDU parsing (short and extended length) and status words."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class SW(IntEnum):
    """Every status word the secure element can answer."""

    OK = 0x9000
    MEMORY_FAILURE = 0x6581
    WRONG_LENGTH = 0x6700
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    CONDITIONS_NOT_SATISFIED = 0x6985
    INCORRECT_DATA = 0x6A80
    APPLET_NOT_FOUND = 0x6A82
    NOT_ENOUGH_MEMORY = 0x6A84
    INCORRECT_P1P2 = 0x6A86
    REFERENCED_DATA_NOT_FOUND = 0x6A88
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    NO_PRECISE_DIAGNOSIS = 0x6F00


class ApduError(Exception):
    """The command APDU is malformed; `sw` is the status word to answer."""

    def __init__(self, sw: SW) -> None:
        super().__init__(f"{int(sw):04X}")
        self.sw = sw


@dataclass(frozen=True)
class CommandApdu:
    """A parsed command: header, data field and expected length (None when absent)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None


def parse_apdu(raw: bytes) -> CommandApdu:
    """Parse cases 1, 2S/2E, 3S/3E, 4S/4E; ApduError(6700) for any inconsistent length."""
    if len(raw) < 4:
        raise ApduError(SW.WRONG_LENGTH)
    cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
    body = raw[4:]
    data, le = b"", None
    if not body:
        pass  # case 1
    elif len(body) == 1:
        le = body[0] or 256  # case 2S
    elif body[0] != 0:  # short Lc
        lc = body[0]
        if len(body) == 1 + lc:
            data = body[1:]
        elif len(body) == 2 + lc:
            data, le = body[1:-1], body[-1] or 256
        else:
            raise ApduError(SW.WRONG_LENGTH)
    elif len(body) == 3:
        le = int.from_bytes(body[1:3], "big") or 65536  # case 2E
    elif len(body) >= 3:
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise ApduError(SW.WRONG_LENGTH)
        if len(body) == 3 + lc:
            data = body[3:]
        elif len(body) == 5 + lc:
            data, le = body[3:-2], int.from_bytes(body[-2:], "big") or 65536
        else:
            raise ApduError(SW.WRONG_LENGTH)
    else:
        raise ApduError(SW.WRONG_LENGTH)
    if cla == 0xFF:
        raise ApduError(SW.CLA_NOT_SUPPORTED)
    return CommandApdu(cla, ins, p1, p2, bytes(data), le)


def response(data: bytes, sw: SW) -> bytes:
    """Response APDU bytes: data || SW1 SW2."""
    return data + int(sw).to_bytes(2, "big")
