"""write_atomically: whole files or nothing, even when the OS writes short or the rename fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tee_sim.locking import write_atomically

pytestmark = pytest.mark.unit


def test_a_failed_replace_leaves_the_target_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "state.bin"
    target.mkdir()  # a non-empty directory cannot be replaced by a file
    (target / "keep").write_bytes(b"x")
    with pytest.raises(OSError):
        write_atomically(target, b"new state")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.bin"]
    assert (target / "keep").read_bytes() == b"x"


def test_short_writes_by_the_os_still_give_the_whole_file(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write

    def short_write(fd: int, data: bytes) -> int:  # what a signal or a full pipe may do
        return real_write(fd, bytes(data[:7]))

    data = bytes(range(256)) * 40
    target = tmp_path / "rpmb.bin"
    with monkeypatch.context() as patched:
        patched.setattr(os, "write", short_write)
        write_atomically(target, data)
    assert target.read_bytes() == data
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)


def test_replacing_keeps_readers_on_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "state.bin"
    write_atomically(target, b"old" * 1000)
    write_atomically(target, b"new" * 2000)
    assert target.read_bytes() == b"new" * 2000
    assert [p.name for p in tmp_path.iterdir()] == ["state.bin"]
