"""The `tee-sim` command for security testers: create, inspect, drive and tamper with devices.

Every failure prints exactly one line on stderr and exits non-zero (2 for bad input, 1 when the
device refused the request).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tee_sim.apdu import SW
from tee_sim.client import _TAS, TA_NAMES
from tee_sim.device import DeviceStore
from tee_sim.errors import TeeError
from tee_sim.profiles import PROFILES
from tee_sim.status import TeeStatus
from tee_sim.storage import SealedStorage
from tee_sim.ta_keystore import KeystoreCommand

DEFAULT_DIR = "instance/devices"


class CliError(Exception):
    """Bad command-line input: reported as one line, exit status 2."""


class Refused(Exception):
    """The device answered with an error (exit status 1)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(message)


def _hex(text: str, what: str) -> bytes:
    cleaned = "".join(text.split())
    try:
        return bytes.fromhex(cleaned)
    except ValueError as exc:
        raise CliError(f"{what} is not valid hex: {text!r}") from exc


def _param(text: str) -> tuple[str, object]:
    """name=type:value with type one of str, hex, int, bool."""
    name, sep, typed = text.partition("=")
    kind, sep2, raw = typed.partition(":")
    if not (sep and sep2 and name):
        raise CliError(f"parameter {text!r} must look like name=str:..|hex:..|int:..|bool:true")
    if kind == "str":
        return name, raw
    if kind == "hex":
        return name, _hex(raw, f"parameter {name}")
    if kind == "int":
        try:
            return name, int(raw, 0)
        except ValueError as exc:
            raise CliError(f"parameter {name}: {raw!r} is not an integer") from exc
    if kind == "bool":
        if raw not in ("true", "false"):
            raise CliError(f"parameter {name}: bool must be true or false")
        return name, raw == "true"
    raise CliError(f"parameter {name}: unknown type {kind!r} (str, hex, int, bool)")


def _jsonable(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _print_json(value: object) -> None:
    print(json.dumps(_jsonable(value), indent=2, sort_keys=True))


def _store(args: argparse.Namespace, *, create: bool = False) -> DeviceStore:
    """The store in --dir. Only `create` and `init` may make a new manufacturer PKI; every
    other command refuses a directory without one (a mistyped --dir writes nothing)."""
    if not args.dir.strip():
        raise CliError("--dir must not be empty")
    directory = Path(args.dir)
    try:
        return DeviceStore(directory, create_manufacturer=create)
    except TeeError as exc:
        if exc.status is not TeeStatus.TEEC_ERROR_ITEM_NOT_FOUND:
            raise
        raise TeeError(
            f"no device store in {directory} (no manufacturer PKI): "
            "`tee-sim init` or `tee-sim create` makes one",
            status=exc.status,
        ) from exc


def cmd_init(args: argparse.Namespace) -> int:
    pki = Path(args.dir) / ".manufacturer"
    existed = os.path.lexists(pki / "intermediate_cert.pem")
    _store(args, create=True)
    print(f"manufacturer PKI in {pki} {'already exists' if existed else 'created'}")
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    issuer_key = None if args.issuer_key is None else _hex(args.issuer_key, "--issuer-key")
    print(_store(args, create=True).create(args.profile, issuer_public_key=issuer_key))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    for s in _store(args).list():
        print(f"{s.device_id}\t{s.profile or '-'}\t{s.created_at or '-'}\t{s.state}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    _print_json(_store(args).open(args.device).public_state())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    _store(args).manufacturer.export(out)
    print(f"wrote {out / 'trust_anchors.pem'} and {out / 'revoked_serials.json'}")
    return 0


def cmd_chain(args: argparse.Namespace) -> int:
    device = _store(args).open(args.device)
    from tee_sim.client import KEYSTORE_TA

    result = device.open_session(KEYSTORE_TA).invoke(
        KeystoreCommand.GET_CHAIN, {"alias": args.alias}
    )
    if not result.ok:
        raise TeeError(str(result.values["error"]), status=result.status)
    chain = result.values["chain"]
    assert isinstance(chain, list)
    for der in chain:
        sys.stdout.write(x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM).decode())
    return 0


def _resolve_ta(name: str) -> uuid.UUID:
    for ta, ta_name in TA_NAMES.items():
        if name.lower() == ta_name:
            return ta
    try:
        return uuid.UUID(name)
    except ValueError as exc:
        raise CliError(
            f"unknown TA {name!r}: use {', '.join(TA_NAMES.values())} or a UUID"
        ) from exc


def cmd_invoke(args: argparse.Namespace) -> int:
    device = _store(args).open(args.device)
    ta = _resolve_ta(args.ta)
    session = device.open_session(ta)
    commands = _TAS[ta][0]
    try:
        command = int(args.command, 0)
    except ValueError:
        try:
            command = commands[args.command.upper()]
        except KeyError as exc:
            names = ", ".join(c.name for c in commands)
            raise CliError(f"{TA_NAMES[ta]} TA has no command {args.command!r} ({names})") from exc
    params = dict(_param(p) for p in args.param)
    result = session.invoke(command, params)
    if not result.ok:
        raise TeeError(str(result.values.get("error", "")), status=result.status)
    _print_json({"status": result.status.name, "values": result.values})
    return 0


def cmd_apdu(args: argparse.Namespace) -> int:
    device = _store(args).open(args.device)
    apdus = [_hex(a, "APDU") for a in args.apdu]
    for apdu in apdus:
        answer = device.transmit(apdu)
        print(answer.hex().upper())
        sw = int.from_bytes(answer[-2:], "big")
        if sw != SW.OK:
            raise Refused(f"secure element answered {sw:04X} ({SW(sw).name})")
    return 0


def cmd_press(args: argparse.Namespace) -> int:
    _store(args).open(args.device).press_confirmation_button()
    print("confirmation button pressed")
    return 0


def _state_file(args: argparse.Namespace) -> Path:
    store = _store(args)
    store.open(args.device)
    return SealedStorage(store.directory, args.device).state_path


def _copy(source: Path, target: Path, *, snapshot: Path) -> None:
    try:
        shutil.copyfile(source, target)
    except shutil.SameFileError as exc:  # its message shows PosixPath(...) reprs
        raise CliError(f"{snapshot} is the device's own state file; use another file") from exc


def cmd_snapshot(args: argparse.Namespace) -> int:
    target = Path(args.file)
    _copy(_state_file(args), target, snapshot=target)
    print(f"copied the sealed state of {args.device} to {target}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    source = Path(args.file)
    if not source.is_file():
        raise CliError(f"no snapshot file {source}")
    _copy(source, _state_file(args), snapshot=source)
    print(f"restored {args.device} from {source} (the next operation will check it)")
    return 0


def cmd_flip(args: argparse.Namespace) -> int:
    path = _state_file(args)
    data = bytearray(path.read_bytes())
    offset = len(data) // 2 if args.offset is None else args.offset
    if not 0 <= offset < len(data):
        raise CliError(f"--offset must be in 0..{len(data) - 1}")
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    print(f"flipped one bit at byte {offset} of {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `tee-sim`."""
    parser = _Parser(prog="tee-sim", description="Emulated phone secure hardware for testers")
    parser.add_argument(
        "--dir",
        default=os.environ.get("CARDSIM_DEVICE_DIR", "").strip() or DEFAULT_DIR,
        help="device directory (env CARDSIM_DEVICE_DIR, default %(default)s)",
    )
    sub = parser.add_subparsers(dest="command_name", required=True, parser_class=_Parser)

    sub.add_parser(
        "init", help="create the manufacturer PKI in --dir if it has none (create does too)"
    ).set_defaults(func=cmd_init)

    p = sub.add_parser("create", help="manufacture a device")
    p.add_argument("--profile", required=True, choices=sorted(PROFILES))
    p.add_argument("--issuer-key", help="issuer Ed25519 public key (64 hex digits)")
    p.set_defaults(func=cmd_create)

    sub.add_parser("list", help="list devices").set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="show a device's non-secret state")
    p.add_argument("device")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("export-anchors", help="export the manufacturer root and revocation list")
    p.add_argument("out")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("chain", help="print a key's attestation chain as PEM (leaf first)")
    p.add_argument("device")
    p.add_argument("alias")
    p.set_defaults(func=cmd_chain)

    p = sub.add_parser("invoke", help="run a TA command, e.g. invoke DEV keystore list_keys")
    p.add_argument("device")
    p.add_argument("ta", help="keystore, confirmation, pin, channel, or a TA UUID")
    p.add_argument("command", help="command name or number")
    p.add_argument(
        "--param", "-p", action="append", default=[], help="name=str:..|hex:..|int:..|bool:.."
    )
    p.set_defaults(func=cmd_invoke)

    p = sub.add_parser("apdu", help="send raw APDUs (hex) to the secure element")
    p.add_argument("device")
    p.add_argument("apdu", nargs="+")
    p.set_defaults(func=cmd_apdu)

    p = sub.add_parser("press", help="press the physical confirmation button")
    p.add_argument("device")
    p.set_defaults(func=cmd_press)

    p = sub.add_parser("snapshot", help="copy the sealed state file (to restore later)")
    p.add_argument("device")
    p.add_argument("file")
    p.set_defaults(func=cmd_snapshot)

    tamper = sub.add_parser("tamper", help="deliberately tamper with a device's state file")
    tamper_sub = tamper.add_subparsers(dest="tamper_name", required=True, parser_class=_Parser)
    p = tamper_sub.add_parser("restore", help="put back an older snapshot (rollback attack)")
    p.add_argument("device")
    p.add_argument("file")
    p.set_defaults(func=cmd_restore)
    p = tamper_sub.add_parser("flip", help="flip one bit of the sealed state")
    p.add_argument("device")
    p.add_argument("--offset", type=int)
    p.set_defaults(func=cmd_flip)
    return parser


def _one_line(text: str) -> str:
    """`text` with every non-printable character (line breaks, controls, the surrogates that
    stand for undecodable bytes in file names) written as a Python escape: one line, always
    encodable."""
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


def _fail(message: str) -> None:
    print(f"tee-sim: {_one_line(message)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tee-sim` console script; returns the exit status."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        # File names need not be text: print what the encoding cannot hold as escapes.
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        args = build_parser().parse_args(argv)
        status: int = args.func(args)
    except CliError as exc:
        _fail(f"error: {exc}")
        return 2
    except TeeError as exc:
        _fail(f"{exc.status.name}: {exc}")
        return 1
    except Refused as exc:
        _fail(str(exc))
        return 1
    except OSError as exc:
        _fail(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return 1
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
