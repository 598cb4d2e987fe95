"""`cardsim serve` and `cardsim demo` as real processes."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.processes import free_port
from tests.web.api_driver import IDENTITY

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def instance_env(directory: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": f"sqlite:///{directory / 'cardsim.db'}",
            "CARDSIM_KEY_FILE": str(directory / "keys.json"),
            "CARDSIM_DEVICE_DIR": str(directory / "devices"), **extra}


def cardsim(*args: str, env: dict[str, str],
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "web.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)



@pytest.mark.parametrize(
    ("args", "extra_env"),
    [(["serve", "--port", "70000"], {}), (["serve", "--workers", "0"], {}),
     (["serve", "--port", "5999"], {"CARDSIM_APPLICATION_TTL_HOURS": "soon"}),
     (["serve", "--port", "5999"], {"CARDSIM_LIVENESS_CHALLENGES": "blink,fly"}),
     (["serve", "--port", "5999"], {"REDIS_URL": "memcached://127.0.0.1:11211"}),
     # A valid URL where nothing listens: refused at start, not on the first request.
     (["serve", "--port", "5999"], {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}),
     (["serve", "--port", "5999"], {"REDIS_URL": "redis://127.0.0.1:6379/0?socket_timeout=abc"}),
     (["serve", "--port", "5999"], {"DATABASE_URL": "garbage"}),
     (["serve", "--port", "5999"], {"DATABASE_URL": "mysql://user@127.0.0.1/x"}),
     (["serve", "--port", "5999"],
      {"DATABASE_URL": f"postgresql+psycopg://user@127.0.0.1:{free_port()}/x"})],
)
def test_serve_refuses_bad_input_with_one_line(tmp_path: Path, args: list[str],
                                               extra_env: dict[str, str]) -> None:
    done = cardsim(*args, env=instance_env(tmp_path, **extra_env))
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr



def call(url: str, method: str = "GET", body: Any = None, token: str | None = None
         ) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def gunicorn_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", "--port", str(port), "--workers", "3",
             "--demo-staff"], cwd=REPO, env=instance_env(tmp_path), stdout=out,
            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if call(url + "/api/v1/openapi.json")[0] == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise AssertionError(log.read_text())
        yield url, log
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_several_workers_serve_one_applicant(gunicorn_server: tuple[str, Path]) -> None:
    url, log = gunicorn_server
    status, created = call(url + "/api/v1/applications", "POST", {"consent": True})
    assert status == 201
    base, token = f"{url}/api/v1/applications/{created['id']}", created["access_token"]
    assert call(base + "/identity", "POST", IDENTITY, token)[0] == 200
    for _ in range(12):  # requests land on different workers; all see the same state
        status, body = call(base, token=token)
        assert status == 200 and body["state"] == "identity_submitted"
    status, session = call(base + "/liveness/sessions", "POST", {}, token)
    assert status == 201 and session["attempts_left"] == 2
    status, phone = call(url + "/device/phones", "POST", {"profile": "genuine"})
    assert status == 201
    for _ in range(6):
        assert call(f"{url}/device/phones/{phone['device_id']}")[0] == 200
    text = log.read_text()
    assert len(set(re.findall(r"Booting worker with pid: (\d+)", text))) == 3, text
    assert re.search(r"demo staff account demo \(supervisor\) password demo-[0-9a-f]{16}", text)


@pytest.mark.slow
def test_demo_prints_the_issued_masked_card(tmp_path: Path) -> None:
    instance = tmp_path / "instance"  # made by the demo: owner-only, like its database
    done = cardsim("demo", "--instance", str(instance), env=dict(os.environ), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert stat.S_IMODE((instance / "cardsim.db").stat().st_mode) == 0o600
    last = done.stdout.strip().splitlines()[-1]
    assert re.match(r"Issued card: 62\d{4}\*{6}\d{4}  expires \d\d/\d\d  holder \S+  "
                    r"status active  credit limit CNY [\d,]+$", last), last
    assert "[demo] liveness passed" in done.stdout
    assert not re.search(r"(?<!\d)62\d{14}(?!\d)", done.stdout)  # never a full PAN


def test_default_instance_and_database_are_owner_only(tmp_path: Path) -> None:
    """`make run` serves the default `sqlite:///instance/cardsim.db`: the database holds staff
    password hashes and sealed personal data, so the instance directory and the file made for
    it are not readable by other users under the usual umask 022."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(["sh", "-c", f'umask 022 && exec "{sys.executable}" -m web.cli init-db'],
                          cwd=tmp_path, env={**env, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((tmp_path / "instance").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "instance" / "cardsim.db").stat().st_mode) == 0o600


@pytest.mark.parametrize("url", [
    "garbage", "foo://bar", "mysql://user:secret@127.0.0.1/x",
    f"postgresql+psycopg://user:secret@127.0.0.1:{free_port()}/x", "sqlite:///x.db?timeout=abc",
])
@pytest.mark.parametrize("command", [
    ["init-db"], ["create-staff", "alice", "--role", "reviewer", "--password", "x" * 16],
    ["audit", "verify"], ["audit", "anchor"],
])
def test_bad_database_url_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str], url: str,
                                      command: list[str]) -> None:
    from web.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.db").write_bytes(b"")  # exists: the URL's query is what is wrong
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CARDSIM_KEY_FILE", str(tmp_path / "keys.json"))
    assert main(command) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("cardsim: cannot open database "), err
    assert "secret" not in err


@pytest.mark.parametrize("command", [
    ["create-staff", "alice", "--role", "reviewer", "--password", "x" * 16],
    ["audit", "verify"], ["audit", "anchor"],
])
def test_read_only_commands_never_create_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    from web.cli import main

    typo = tmp_path / "typo" / "cardsim.db"
    monkeypatch.setenv("CARDSIM_KEY_FILE", str(tmp_path / "keys.json"))
    assert main([*command, "--database-url", f"sqlite:///{typo}"]) == 1
    assert capsys.readouterr().err == f"cardsim: no database at {typo} (check DATABASE_URL, " \
                                      "or run `cardsim init-db` to create one)\n"
    assert not typo.parent.exists()
    file = tmp_path / "file"
    file.write_text("")
    assert main([*command, "--database-url", f"sqlite:///{file}/sub/cardsim.db"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Not a directory" in err


def test_demo_staff_never_prints_a_password_that_does_not_work(tmp_path: Path) -> None:
    from sqlalchemy import select

    from issuer.audit import verify_audit_chain
    from issuer.clock import utc_now
    from issuer.db import make_engine, make_session_factory, upgrade_database
    from issuer.keys import IssuerKeys
    from issuer.models import StaffUser
    from issuer.staff_accounts import create_staff
    from web.commands.serve import demo_password, ensure_demo_staff

    url = f"sqlite:///{tmp_path / 'cardsim.db'}"
    upgrade_database(url)
    key_file = tmp_path / "keys.json"
    IssuerKeys.load_or_create(key_file)
    engine = make_engine(url)
    with make_session_factory(engine).begin() as session:  # made by hand with create-staff
        create_staff(session, username="demo", password="another-password-1", role="auditor",
                     now=utc_now())
    engine.dispose()
    config: dict[str, object] = {"DATABASE_URL": url, "CARDSIM_KEY_FILE": key_file}
    for _ in range(2):  # the second run finds both accounts already there
        demo, reviewer = ensure_demo_staff(config)
        assert demo.line() == ("cardsim: demo staff account demo already exists and has "
                               "another password; its password was not changed")
        assert reviewer.line() == ("cardsim: demo staff account reviewer (reviewer) password "
                                   f"{demo_password(key_file, 'reviewer')}")
    engine = make_engine(url)
    with make_session_factory(engine)() as session:  # the checks logged nothing in
        assert verify_audit_chain(session).checked == 2  # the two staff.created entries
        assert session.scalars(select(StaffUser.failed_logins)).all() == [0, 0]
    engine.dispose()


@pytest.mark.parametrize(("argv", "expected"), [
    ([], "cardsim: error: choose a command: serve, init-db, create-staff, audit, demo, "
         "liveness, probe (see cardsim -h)"),
    (["--bogus"], "cardsim: error: unknown option --bogus (see cardsim -h)"),
    (["serve", "--bogus=1"], "cardsim: error: unknown option --bogus (see cardsim -h)"),
    (["audit"], "cardsim audit: error: choose a command: verify, anchor (see cardsim audit -h)"),
    (["liveness", "generate-corpus", "--per-half", "x"],
     "cardsim liveness generate-corpus: error: argument --per-half: 'x' is not a whole number "
     "(see cardsim liveness generate-corpus -h)"),
    (["serve", "--port", "abc"],
     "cardsim serve: error: argument --port: invalid int value: 'abc' (see cardsim serve -h)"),
])
def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str], argv: list[str],
                                   expected: str) -> None:
    from web.cli import main

    assert main(argv) == 2
    assert capsys.readouterr().err == expected + "\n"


def test_demo_refuses_a_bad_instance_in_one_line(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from web.cli import main

    file = tmp_path / "file"
    file.write_text("")
    assert main(["demo", "--instance", str(file)]) == 1
    assert capsys.readouterr().err == (f"cardsim demo: --instance {file} is a file; it must be "
                                       "a directory (made if absent)\n")
    (tmp_path / "cardsim.db").write_text("garbage " * 200)
    assert main(["demo", "--instance", str(tmp_path)]) == 1
    assert capsys.readouterr().err == (
        f"cardsim demo: cannot prepare the instance {tmp_path}: cannot open database "
        f"sqlite:///{tmp_path / 'cardsim.db'}: file is not a database\n")


def test_demo_and_probe_refuse_bad_arguments_before_any_slow_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    from web.cli import main

    def no_slow_work(*_: object, **__: object) -> None:
        raise AssertionError("the slow part ran although the arguments were bad")

    monkeypatch.setattr("web.commands.demo.drive", no_slow_work)
    monkeypatch.setattr("web.commands.probe.run_probe", no_slow_work)
    assert main(["demo", "--profile", "bogus"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'bogus'" in err and "'rooted'" in err
    for target, problem in ((tmp_path, "it is a directory"),
                            (tmp_path / "no" / "r.json", f"{tmp_path / 'no'} is not a directory")):
        assert main(["probe", "--base-url", "http://127.0.0.1:1", "--json", str(target)]) == 2
        err = capsys.readouterr().err
        assert err == f"cardsim probe: cannot write --json {target}: {problem}\n"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_a_busy_port_is_one_line_before_anything_else(tmp_path: Path,
                                                               workers: str) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = cardsim("serve", "--port", str(port), "--workers", workers,
                       env=instance_env(tmp_path), timeout=60)
    assert done.returncode == 1
    assert done.stderr == f"cardsim serve: cannot listen on 127.0.0.1:{port}: " \
                          "Address already in use\n"
    assert done.stdout == ""  # no URL banner for a server that never started
    assert not (tmp_path / "cardsim.db").exists()  # nor a migrated database


def test_serve_on_an_unknown_host_is_one_line(tmp_path: Path) -> None:
    done = cardsim("serve", "--host", "no-such-host.invalid", env=instance_env(tmp_path))
    assert done.returncode == 1
    assert done.stderr.startswith("cardsim serve: cannot listen on no-such-host.invalid:5000: ")
    assert done.stderr.count("\n") == 1 and done.stdout == ""
