"""The SQLite database holds staff password hashes and sealed personal data: what cardsim
creates for it is owner-only, what the user made beforehand keeps its mode."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from issuer.db import make_engine, upgrade_database


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common umask 022, under which files would otherwise be 0644 and directories 0755."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_created_database_directories_and_files_are_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "instance" / "data" / "cardsim.db"
    url = f"sqlite:///{database}"
    upgrade_database(url)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:  # the WAL files exist while a connection is open
            connection.execute(text("CREATE TABLE probe (x INTEGER)"))
            connection.execute(text("INSERT INTO probe VALUES (1)"))
            wal = Path(f"{database}-wal")
            shm = Path(f"{database}-shm")
            assert wal.exists() and shm.exists()
            assert (mode(wal), mode(shm)) == (0o600, 0o600)
    finally:
        engine.dispose()
    assert mode(tmp_path / "instance") == 0o700
    assert mode(tmp_path / "instance" / "data") == 0o700
    assert mode(database) == 0o600


def test_existing_directory_and_database_keep_their_modes(tmp_path: Path) -> None:
    """A directory (or database) the user pointed at is theirs: cardsim does not chmod it."""
    directory = tmp_path / "shared"
    directory.mkdir(mode=0o750)
    database = directory / "cardsim.db"
    database.write_bytes(b"")
    database.chmod(0o640)
    upgrade_database(f"sqlite:///{database}")
    assert (mode(directory), mode(database)) == (0o750, 0o640)


def test_an_engine_that_never_connects_creates_no_file(tmp_path: Path) -> None:
    database = tmp_path / "cardsim.db"
    make_engine(f"sqlite:///{database}").dispose()
    assert not database.exists()
