"""Reading small files that must be regular files, without ever blocking on a FIFO."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path


class FileUnreadable(Exception):
    """Why a file could not be read; `reason` completes "cannot read PATH: ..."."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotRegularFile(FileUnreadable):
    """The path is a directory, FIFO, device or socket; `kind` says which, for messages."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"it is {kind}")
        self.kind = kind


def kind_of(mode: int) -> str:
    """What a non-regular file is, for messages: "a directory" or "not a regular file"."""
    return "a directory" if stat.S_ISDIR(mode) else "not a regular file"


def read_regular_file(path: Path, *, limit: int,
                      check_mode: Callable[[int], None] | None = None) -> bytes:
    """At most `limit` + 1 bytes of `path` (more than `limit` means the file is too large).

    Opened non-blocking and checked with fstat, so a FIFO, directory or device is refused
    instead of hanging the reader or failing with a bare descriptor number. `check_mode` may
    refuse the file's mode (raising its own error) before anything is read. Raises
    FileNotFoundError when the file is missing, NotRegularFile for a directory, FIFO or
    device, and FileUnreadable for any other failure.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise FileUnreadable(exc.strerror or str(exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(kind_of(mode))
        if check_mode is not None:
            check_mode(mode)
        data = b""
        while len(data) <= limit and (chunk := os.read(fd, 1 << 20)):
            data += chunk
        return data
    except OSError as exc:
        raise FileUnreadable(exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
