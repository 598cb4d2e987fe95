"""`cardsim init-db` and `cardsim serve` refuse another installation's key file at start."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from issuer.db import make_engine
from issuer.key_check import key_check_value
from issuer.keys import IssuerKeys
from tests.processes import free_port
from tests.web.test_commands import REPO, call, cardsim, instance_env

pytestmark = pytest.mark.integration


def _stored_check(directory: Path) -> bytes:
    engine = make_engine(f"sqlite:///{directory / 'cardsim.db'}")
    try:
        with engine.connect() as connection:
            return bytes(connection.execute(text("SELECT value FROM key_check")).scalar_one())
    finally:
        engine.dispose()


def test_serve_starts_with_its_key_file_and_refuses_another_installations(
        tmp_path: Path) -> None:
    mine, other = tmp_path / "mine", tmp_path / "other"
    for directory in (mine, other):
        directory.mkdir()
        assert cardsim("init-db", env=instance_env(directory)).returncode == 0
    keys = IssuerKeys.load(mine / "keys.json")
    stored = _stored_check(mine)
    assert stored == key_check_value(keys) and keys.kek not in stored
    assert _stored_check(other) != stored

    wrong = {**instance_env(mine), "CARDSIM_KEY_FILE": str(other / "keys.json")}
    for command in (["init-db"], ["serve", "--port", str(free_port())]):
        done = cardsim(*command, env=wrong)
        assert done.returncode == 1, done
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
        assert f"the key file {other / 'keys.json'} does not belong to this database" \
            in done.stderr
        assert done.stdout == ""

    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "web.cli", "serve", "--port", str(port)],
                                   cwd=REPO, env=instance_env(mine), stdout=out,
                                   stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if call(f"http://127.0.0.1:{port}/api/v1/openapi.json")[0] == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise AssertionError(log.read_text())
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert _stored_check(mine) == stored


def test_audit_commands_refuse_another_installations_key_file(tmp_path: Path) -> None:
    mine, other = tmp_path / "mine", tmp_path / "other"
    for directory in (mine, other):
        directory.mkdir()
        assert cardsim("init-db", env=instance_env(directory)).returncode == 0
    anchors = tmp_path / "anchors.jsonl"
    assert cardsim("create-staff", "alice", "--role", "reviewer", "--password", "x" * 16,
                   env=instance_env(mine)).returncode == 0  # an audited action to anchor
    assert cardsim("audit", "anchor", "--out", str(anchors), env=instance_env(mine)
                   ).returncode == 0
    wrong = {**instance_env(mine), "CARDSIM_KEY_FILE": str(other / "keys.json")}
    for command in (["audit", "anchor"], ["audit", "verify", "--anchors", str(anchors)]):
        done = cardsim(*command, env=wrong)
        assert done.returncode == 1, done
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
        assert f"the key file {other / 'keys.json'} does not belong to this database" \
            in done.stderr
        assert done.stdout == ""
    assert anchors.read_text().count("\n") == 1  # no anchor signed with the wrong key
    assert cardsim("audit", "verify", "--anchors", str(anchors), env=instance_env(mine)
                   ).returncode == 0
