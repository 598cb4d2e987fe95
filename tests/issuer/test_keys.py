"""The issuer key file: anything but a private regular file is refused in one line, at once."""

from __future__ import annotations

import multiprocessing
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


def _load_or_create_in_child(path: str) -> str:
    try:
        return IssuerKeys.load_or_create(Path(path)).kek.hex()
    except KeyFileError as exc:
        return f"error: {exc.message}"


@pytest.mark.timeout(120)
def test_processes_starting_together_all_get_the_one_complete_key_file(tmp_path: Path) -> None:
    # The file used to be created empty (O_EXCL) and filled afterwards: a process starting in
    # between read an empty file and stopped with "issuer key file is malformed".
    with multiprocessing.get_context("fork").Pool(12) as pool:
        for trial in range(25):
            path = tmp_path / f"trial-{trial}" / "keys.json"
            answers = pool.map(_load_or_create_in_child, [str(path)] * 12)
            assert len(set(answers)) == 1, set(answers)
            assert answers[0] == IssuerKeys.load(path).kek.hex()
            assert os.stat(path).st_mode & 0o777 == 0o600
            assert [p.name for p in path.parent.iterdir()] == ["keys.json"]  # no temporaries


def test_dangling_symbolic_link_as_key_file_is_named_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.symlink_to(tmp_path / "missing" / "keys.json")
    with pytest.raises(KeyFileError) as caught:
        IssuerKeys.load_or_create(path)
    assert caught.value.message == (f"issuer key file {path} is a symbolic link to a missing "
                                    "file")
    assert not (tmp_path / "missing").exists() and path.is_symlink()


def test_symbolic_link_to_a_private_key_file_is_followed(tmp_path: Path) -> None:
    # Secret mounts (Kubernetes, systemd credentials) present the key file as a link; the
    # mode checked is the target's, so a link to a 0600 file loads and to a 0644 one does not.
    target = tmp_path / "real.json"
    keys = IssuerKeys.load_or_create(target)
    link = tmp_path / "keys.json"
    link.symlink_to(target)
    assert IssuerKeys.load_or_create(link).kek == keys.kek
    target.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        IssuerKeys.load(link)
