"""The issuer key file: anything but a private regular file is refused in one line, at once."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from issuer.errors import KeyFileError
from issuer.keys import IssuerKeys

pytestmark = pytest.mark.unit


def _fifo(directory: Path) -> Path:
    path = directory / "keys.json"
    os.mkfifo(path, 0o600)
    return path


def _directory(directory: Path) -> Path:
    path = directory / "keys.json"
    path.mkdir(mode=0o700)
    return path


@pytest.mark.timeout(20)  # a FIFO used to block the read for ever
@pytest.mark.parametrize(("make", "kind"), [(_fifo, "not a regular file"),
                                            (_directory, "a directory")])
def test_key_file_that_is_not_a_regular_file_is_refused(
    tmp_path: Path, make: Callable[[Path], Path], kind: str,
) -> None:
    path = make(tmp_path)
    for load in (IssuerKeys.load, IssuerKeys.load_or_create):
        with pytest.raises(KeyFileError) as caught:
            load(path)
        assert caught.value.message == f"issuer key file {path} is {kind}"


def test_key_file_under_a_regular_file_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "keys.json"
    with pytest.raises(KeyFileError, match=f"issuer key file {path}: Not a directory"):
        IssuerKeys.load_or_create(path)
