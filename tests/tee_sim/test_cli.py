"""The tee-sim CLI: drives devices end to end; every bad input is one stderr line, non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tee_sim.cli import main

pytestmark = pytest.mark.unit

SELECT = "00A4040008A000000333010102"
ISSUER_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"  # RFC 8032 test 1


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    d = str(tmp_path / "devs")
    code, out, _ = run(
        capsys, "--dir", d, "create", "--profile", "genuine", "--issuer-key", ISSUER_KEY
    )
    assert code == 0
    return d, out.strip()


def test_create_list_show_and_invoke(
    device: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    d, dev = device
    code, out, _ = run(capsys, "--dir", d, "list")
    assert code == 0 and out.startswith(dev) and "genuine" in out and out.rstrip().endswith("ok")
    code, out, _ = run(
        capsys,
        "--dir",
        d,
        "invoke",
        dev,
        "keystore",
        "generate_key",
        "-p",
        "alias=str:k1",
        "-p",
        "kind=str:ed25519",
        "-p",
        "challenge=hex:c0ffee",
    )
    assert code == 0 and json.loads(out)["values"]["alias"] == "k1"
    code, out, _ = run(capsys, "--dir", d, "chain", dev, "k1")
    assert code == 0 and out.count("BEGIN CERTIFICATE") == 3
    code, out, _ = run(capsys, "--dir", d, "show", dev)
    state = json.loads(out)
    assert state["keys"]["k1"]["kind"] == "ed25519" and "private" not in out


def test_apdus_and_press(device: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    d, dev = device
    code, out, _ = run(capsys, "--dir", d, "apdu", dev, SELECT, "80CA9F3600")
    assert code == 0 and out.split() == ["6F0C8408A000000333010102A5009000", "9F360200009000"]
    code, out, err = run(capsys, "--dir", d, "apdu", dev, "80CA005A00")
    assert code == 1 and out.strip() == "6982" and len(err.splitlines()) == 1
    code, _, err = run(capsys, "--dir", d, "press", dev)
    assert code == 1 and "no confirmation prompt" in err


def test_tamper_restore_and_flip_are_caught(
    device: tuple[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    d, dev = device
    snap = str(tmp_path / "snap.bin")
    assert run(capsys, "--dir", d, "snapshot", dev, snap)[0] == 0
    assert run(capsys, "--dir", d, "invoke", dev, "pin", "set_pin", "-p", "pin=str:1234")[0] == 0
    assert run(capsys, "--dir", d, "tamper", "restore", dev, snap)[0] == 0
    code, _, err = run(capsys, "--dir", d, "invoke", dev, "pin", "status")
    assert (
        code == 1 and err.startswith("tee-sim: TEE_ERROR_ROLLBACK") and len(err.splitlines()) == 1
    )
    code, out, _ = run(capsys, "--dir", d, "apdu", dev, SELECT)
    assert code == 1 and out.strip() == "6581"


def test_deleting_the_rpmb_does_not_reopen_the_rollback(
    device: tuple[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    d, dev = device
    snap = str(tmp_path / "snap.bin")
    assert run(capsys, "--dir", d, "snapshot", dev, snap)[0] == 0
    assert run(capsys, "--dir", d, "invoke", dev, "pin", "set_pin", "-p", "pin=str:1234")[0] == 0
    (Path(d) / ".rpmb" / dev).unlink()
    assert run(capsys, "--dir", d, "tamper", "restore", dev, snap)[0] == 0
    code, out, err = run(capsys, "--dir", d, "invoke", dev, "pin", "status")
    assert code == 1 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("tee-sim: TEEC_ERROR_SECURITY: RPMB counter is missing")


@pytest.mark.parametrize("command", [["snapshot"], ["tamper", "restore"]])
def test_copying_a_state_onto_itself_names_the_plain_path(
    device: tuple[str, str], capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    d, dev = device
    own = str(Path(d) / dev / "state.bin")
    code, out, err = run(capsys, "--dir", d, *command, dev, own)
    assert code == 2 and out == ""
    assert err == f"tee-sim: error: {own} is the device's own state file; use another file\n"


@pytest.mark.parametrize("broken", ["{d}/{dev}/state.bin", "{d}/.fuses/{dev}"])
def test_list_shows_healthy_devices_and_marks_an_unreadable_one(
    device: tuple[str, str], capsys: pytest.CaptureFixture[str], broken: str
) -> None:
    d, good = device
    code, bad, _ = run(capsys, "--dir", d, "create", "--profile", "rooted")
    assert code == 0
    bad = bad.strip()
    path = Path(broken.format(d=d, dev=bad))
    path.unlink()
    path.mkdir()
    code, out, err = run(capsys, "--dir", d, "list")
    assert code == 0 and err == ""
    lines = dict(line.split("\t", 1) for line in out.splitlines())
    assert lines[good].endswith("\tok")
    assert lines[bad] == f"-\t-\tunreadable: Is a directory: {path}"


def test_flip(device: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    d, dev = device
    assert run(capsys, "--dir", d, "tamper", "flip", dev, "--offset", "40")[0] == 0
    code, _, err = run(capsys, "--dir", d, "show", dev)
    assert code == 1 and "TEEC_ERROR_SECURITY" in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["bogus"],
        ["create", "--profile", "jailbroken"],
        ["create", "--profile", "genuine", "--issuer-key", "xyz"],
        ["create", "--profile", "genuine", "--issuer-key", "abcd"],
        ["create", "--profile", "genuine", "--issuer-key", "ff" * 32],  # not a point
        ["create", "--profile", "genuine", "--issuer-key", "00" * 32],  # small order
        ["create", "--profile", "genuine", "--issuer-key", "01" + "00" * 31],  # the identity
        ["create", "--profile", "genuine", "--issuer-key", "11" * 32],
        ["create", "--profile", "genuine", "--issuer-key", ""],  # made a device without one
        ["create", "--profile", "genuine", "--issuer-key", " "],
        ["show", "dev-0000000000000000"],
        ["show", "../../etc/passwd"],
        ["invoke", "DEV", "nota", "list_keys"],
        ["invoke", "DEV", "keystore", "explode"],
        ["invoke", "DEV", "keystore", "99"],
        ["invoke", "DEV", "keystore", "sign", "-p", "alias"],
        ["invoke", "DEV", "keystore", "sign", "-p", "message=hex:zz"],
        ["invoke", "DEV", "keystore", "sign", "-p", "alias=float:1"],
        ["invoke", "DEV", "keystore", "sign", "-p", "alias=str:nokey", "-p", "message=hex:00"],
        ["invoke", "DEV", "pin", "set_pin", "-p", "pin=str:12"],
        ["apdu", "DEV", "not-hex"],
        ["apdu", "DEV", "00"],
        ["tamper", "restore", "DEV", "/nonexistent/snap"],
        ["tamper", "flip", "DEV", "--offset", "999999"],
        ["chain", "DEV", "missing"],
        # Line breaks and other control characters in what the error message repeats.
        ["--dir", "/nonexistent\nstore", "list"],
        ["invoke", "DEV", "keystore", "list_keys", "-p", "a\nb=str:1"],
        ["snapshot", "DEV", "/nonexistent\r/snap"],
        ["tamper", "restore", "DEV", "/nonexistent\u2028/snap"],
        ["export-anchors", "/dev/null/\x0bx"],
    ],
)
def test_every_bad_input_is_one_line_and_non_zero(
    device: tuple[str, str], capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    d, dev = device
    code, _, err = run(capsys, "--dir", d, *[dev if a == "DEV" else a for a in argv])
    assert code != 0
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize("key", ["ff" * 32, "00" * 32, "ec" + "ff" * 30 + "7f"])
def test_invalid_issuer_keys_are_refused_and_make_no_device(
    device: tuple[str, str], capsys: pytest.CaptureFixture[str], key: str
) -> None:
    d, dev = device
    code, out, err = run(capsys, "--dir", d, "create", "--profile", "genuine", "--issuer-key", key)
    assert code == 1 and out == ""
    assert err.strip() == (
        "tee-sim: TEEC_ERROR_BAD_PARAMETERS: issuer public key is not a valid Ed25519 public key"
        " (not a canonical point of the prime-order subgroup)"
    )
    assert run(capsys, "--dir", d, "list")[1].splitlines()[0].startswith(dev)
    assert len(run(capsys, "--dir", d, "list")[1].splitlines()) == 1


def test_console_script_uses_the_environment_directory(tmp_path: Path) -> None:
    env = {**os.environ, "CARDSIM_DEVICE_DIR": str(tmp_path / "env-devs")}
    made = subprocess.run(
        [sys.executable, "-m", "tee_sim.cli", "create", "--profile", "software"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "env-devs" / made.stdout.strip() / "state.bin").is_file()
    bad = subprocess.run(
        [sys.executable, "-m", "tee_sim.cli", "show", "nope"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert bad.returncode == 1 and len(bad.stderr.splitlines()) == 1


def test_a_file_name_that_is_not_utf8_gives_output_or_one_line_not_a_traceback(
    device: tuple[str, str], tmp_path: Path
) -> None:
    # With a strict UTF-8 stdout (PYTHONIOENCODING=utf-8), printing such a name used to raise.
    d, dev = device
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    snapshot = os.fsencode(tmp_path) + b"/snap\xff"
    command = [sys.executable, "-m", "tee_sim.cli", "--dir", d]
    made = subprocess.run(
        [*command, "snapshot", dev, snapshot], capture_output=True, env=env, check=False
    )
    assert made.returncode == 0 and made.stderr == b"", made.stderr
    assert len(made.stdout.splitlines()) == 1 and os.path.isfile(snapshot)
    missing = subprocess.run(
        [*command, "tamper", "restore", dev, b"/nonexistent/\xff\nsnap"],
        capture_output=True,
        env=env,
        check=False,
    )
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 1, missing.stderr
    assert b"Traceback" not in missing.stderr


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.mark.parametrize("argv", [["list"], ["create", "--profile", "genuine"], ["init"]])
def test_a_partial_pki_is_refused_in_one_line_and_left_as_it_was(
    device: tuple[str, str], capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    d, _ = device
    (Path(d) / ".manufacturer" / "intermediate_cert.pem").unlink()
    before = _files(Path(d))
    code, out, err = run(capsys, "--dir", d, *argv)
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1 and "missing intermediate_cert.pem" in err
    assert _files(Path(d)) == before


@pytest.mark.parametrize("content", ["", "garbage", '{"x":1}', '["abc"]'])
@pytest.mark.parametrize("argv", [["export-anchors", "OUT"], ["create", "--profile", "revoked"]])
def test_a_damaged_revocation_list_is_one_line_and_writes_nothing(
    device: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: str,
    argv: list[str],
) -> None:
    d, _ = device
    (Path(d) / ".manufacturer" / "revoked_serials.json").write_text(content)
    before = _files(Path(d))
    out_dir = tmp_path / "anchors"
    code, out, err = run(capsys, "--dir", d, *[str(out_dir) if a == "OUT" else a for a in argv])
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1 and "revoked_serials.json is damaged" in err
    assert not out_dir.exists()
    assert _files(Path(d)) == before


READ_ONLY = [
    ["list"],
    ["show", "DEV"],
    ["export-anchors", "OUT"],
    ["chain", "DEV", "k"],
    ["invoke", "DEV", "keystore", "list_keys"],
    ["apdu", "DEV", SELECT],
    ["press", "DEV"],
    ["snapshot", "DEV", "OUT"],
    ["tamper", "flip", "DEV"],
]


@pytest.mark.parametrize("argv", READ_ONLY)
def test_commands_on_a_mistyped_dir_create_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    typo = tmp_path / "typo"
    out_path = str(tmp_path / "out")
    argv = [{"DEV": "dev-0123456789abcdef", "OUT": out_path}.get(a, a) for a in argv]
    code, out, err = run(capsys, "--dir", str(typo), *argv)
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1 and "no device store in" in err and "tee-sim init" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_init_creates_the_pki_once_then_list_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(tmp_path / "devs")
    code, out, _ = run(capsys, "--dir", d, "init")
    assert code == 0 and out.strip().endswith("created")
    anchors = (tmp_path / "devs" / ".manufacturer" / "root_cert.pem").read_bytes()
    code, out, _ = run(capsys, "--dir", d, "init")
    assert code == 0 and out.strip().endswith("already exists")
    assert (tmp_path / "devs" / ".manufacturer" / "root_cert.pem").read_bytes() == anchors
    assert run(capsys, "--dir", d, "list") == (0, "", "")
    assert run(capsys, "--dir", d, "export-anchors", str(tmp_path / "a"))[0] == 0
    assert (tmp_path / "a" / "trust_anchors.pem").read_bytes() == anchors


@pytest.mark.parametrize("argv", [["list"], ["init"], ["create", "--profile", "genuine"]])
def test_an_empty_dir_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "--dir", "", *argv)
    assert code == 2 and err.strip() == "tee-sim: error: --dir must not be empty"
    assert list(tmp_path.iterdir()) == []
