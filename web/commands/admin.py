"""Administrative subcommands: `init-db`, `create-staff`, `audit verify`, `audit anchor`."""

from __future__ import annotations

import argparse
import getpass
import os
import stat
import sys
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from issuer.audit import verify_audit_chain
from issuer.audit_anchor import (
    AuditAnchor,
    ForgedAnchor,
    anchor_head,
    parse_anchor,
    verify_with_anchors,
)
from issuer.clock import utc_now
from issuer.db import (
    READ_ONLY,
    database_url_from_env,
    make_session_factory,
    open_database,
)
from issuer.errors import IssuerError, ValidationFailed
from issuer.key_check import check_key_file, upgrade_with_key_file
from issuer.keys import IssuerKeys, key_file_from_env
from issuer.permissions import Role
from issuer.regular_files import FileUnreadable, kind_of, read_regular_file
from issuer.staff_accounts import create_staff

PASSWORD_ENV = "CARDSIM_STAFF_PASSWORD"  # noqa: S105  (the variable name, not a secret)


def _fail(message: str, status: int = 2) -> int:
    print(f"cardsim: {message}", file=sys.stderr)
    return status


def _database_url(args: argparse.Namespace) -> str:
    url: str = args.database_url or database_url_from_env()
    return url


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationFailed):
        return " ".join(exc.field_errors.values())
    if isinstance(exc, IssuerError):
        return exc.message
    if isinstance(exc, OperationalError | ProgrammingError) and (
        "no such table" in str(exc) or "does not exist" in str(exc)
    ):
        return "the database has no schema yet; run `cardsim init-db` first"
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"database error: {type(exc).__name__}: {first_line}"


def init_db(args: argparse.Namespace) -> int:
    """Create or upgrade the schema with the packaged Alembic migrations.

    The issuer keys (`CARDSIM_KEY_FILE`, created if absent) go to migrations that seal data;
    a key file that is not this database's (`issuer.key_check`) is refused before migrating.
    """
    try:
        upgrade_with_key_file(_database_url(args), key_file=key_file_from_env(), now=utc_now())
    except (SQLAlchemyError, OSError, ValueError, IssuerError) as exc:
        return _fail(_describe(exc), 1)
    print("database schema is up to date")
    return 0


def _password(args: argparse.Namespace) -> str | None:
    if args.password is not None:
        password: str = args.password
        return password
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise ValueError("the passwords do not match")
    return first


def create_staff_command(args: argparse.Namespace) -> int:
    """Create a staff account (password from --password, $CARDSIM_STAFF_PASSWORD or prompt)."""
    try:
        password = _password(args)
    except ValueError as exc:
        return _fail(str(exc))
    if password is None:
        return _fail(f"no password: pass --password, set {PASSWORD_ENV}, or run in a terminal")
    try:
        engine = open_database(_database_url(args), create=False)
    except IssuerError as exc:
        return _fail(exc.message, 1)
    try:
        with make_session_factory(engine).begin() as session:
            view = create_staff(session, username=args.username, password=password,
                                role=args.role, now=utc_now(), actor="cli")
    except ValidationFailed as exc:
        return _fail(_describe(exc))
    except (IssuerError, SQLAlchemyError) as exc:
        return _fail(_describe(exc), 1)
    finally:
        engine.dispose()
    print(f"created staff user {view.username} with role {view.role.value}")
    return 0


MAX_ANCHOR_FILE_BYTES = 16 * 1024 * 1024


def _read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file; ValueError (naming the file) for anything else."""
    try:
        data = read_regular_file(path, limit=MAX_ANCHOR_FILE_BYTES)
    except OSError as exc:  # missing
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except FileUnreadable as exc:
        raise ValueError(f"cannot read {path}: {exc.reason}") from None
    if len(data) > MAX_ANCHOR_FILE_BYTES:
        raise ValueError(f"{path} is larger than 16 MB; it is not an anchor file")
    return data


def _open_for_append(path: Path) -> int:
    """A descriptor appending to `path` (created 0644 if absent); ValueError unless it is a
    regular file (a FIFO without a reader would block, a device is no place for anchors)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o644)
    except OSError as exc:
        try:  # a directory, or a FIFO with no reader (ENXIO): say what it is
            mode = os.stat(path).st_mode
        except OSError:
            mode = stat.S_IFREG
        reason = exc.strerror if stat.S_ISREG(mode) else f"it is {kind_of(mode)}"
        raise ValueError(f"cannot write {path}: {reason}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise ValueError(f"cannot write {path}: it is {kind_of(mode)}")
    os.set_blocking(fd, True)
    return fd


def _read_anchors(path: Path) -> list[tuple[int, AuditAnchor]]:
    """Every anchor in a file of `cardsim audit anchor` lines, with its line number;
    ValueError names a bad line."""
    try:
        text = _read_regular_file(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not a text file of anchors (byte {exc.start} is not "
                         "UTF-8)") from None
    anchors = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                anchors.append((number, parse_anchor(line)))
            except ValidationFailed as exc:
                fields = "; ".join(f"{name} {text}" if name != "anchor" else text
                                   for name, text in sorted(exc.field_errors.items()))
                raise ValueError(f"{path}:{number}: {fields}") from None
    if not anchors:
        raise ValueError(f"{path} holds no anchors")
    return anchors


def audit_verify(args: argparse.Namespace) -> int:
    """Recompute the audit chain (and check it against anchors); exit 1 if tampered."""
    try:
        anchors = _read_anchors(Path(args.anchors)) if args.anchors else []
        keys = IssuerKeys.load(key_file_from_env()) if anchors else None
    except (OSError, ValueError, IssuerError) as exc:
        return _fail(exc.message if isinstance(exc, IssuerError) else str(exc))
    try:
        engine = open_database(_database_url(args), create=False)
        if keys is not None:  # else every anchor would look forged
            check_key_file(_database_url(args), keys=keys, key_file=key_file_from_env(),
                           now=utc_now(), store=False)
    except IssuerError as exc:
        return _fail(exc.message, 1)
    try:
        with make_session_factory(engine)() as session:
            session.connection(execution_options=READ_ONLY)  # never wait for the app's writers
            if keys is not None:
                result = verify_with_anchors(session, anchors=[a for _, a in anchors],
                                             verify_key=keys.verify_key)
            else:
                result = verify_audit_chain(session)
    except ForgedAnchor as exc:
        return _fail(f"{args.anchors}:{anchors[exc.index][0]}: {exc.message}", 1)
    except SQLAlchemyError as exc:
        return _fail(_describe(exc), 1)
    finally:
        engine.dispose()
    if not result.ok:
        return _fail(f"audit log tampered at entry {result.first_broken_seq}: {result.reason} "
                     f"({result.checked} entries verified)", 1)
    held = f"; it holds all {len(anchors)} anchored heads" if anchors else ""
    print(f"audit chain intact: {result.checked} entries verified{held}")
    return 0


def audit_anchor(args: argparse.Namespace) -> int:
    """Print (and with --out append to a file) the signed head of the audit chain."""
    try:
        engine = open_database(_database_url(args), create=False)
    except IssuerError as exc:
        return _fail(exc.message, 1)
    try:
        keys = IssuerKeys.load(key_file_from_env())
        # An anchor signed with another installation's key could never be verified here.
        check_key_file(_database_url(args), keys=keys, key_file=key_file_from_env(),
                       now=utc_now(), store=False)
        with make_session_factory(engine)() as session:
            session.connection(execution_options=READ_ONLY)
            anchor = anchor_head(session, signing_key=keys.signing_key, now=utc_now())
        line = anchor.to_json()
        if args.out:
            with os.fdopen(_open_for_append(Path(args.out)), "a", encoding="utf-8") as out:
                out.write(line + "\n")
    except (SQLAlchemyError, IssuerError) as exc:
        return _fail(_describe(exc), 1)
    except ValueError as exc:
        return _fail(str(exc), 1)
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror}", 1)
    finally:
        engine.dispose()
    print(line)
    return 0


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", default=None,
                        help="database URL (default: $DATABASE_URL or sqlite:///instance/cardsim.db)")


def register(subparsers: Any) -> None:
    """Add `init-db`, `create-staff`, `audit verify` and `audit anchor` to the `cardsim` CLI."""
    init = subparsers.add_parser("init-db", help="create or upgrade the database schema")
    _database_option(init)
    init.set_defaults(func=init_db)

    staff = subparsers.add_parser("create-staff", help="create a staff account")
    staff.add_argument("username")
    staff.add_argument("--role", required=True, choices=[role.value for role in Role])
    staff.add_argument("--password", default=None,
                       help=f"password (else ${PASSWORD_ENV}, else prompt)")
    _database_option(staff)
    staff.set_defaults(func=create_staff_command)

    audit = subparsers.add_parser("audit", help="audit log tools")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="recompute the tamper-evident audit chain")
    verify.add_argument("--anchors", default=None, metavar="FILE",
                        help="also check that the log still holds every head anchored in FILE "
                             "(lines written by `cardsim audit anchor`)")
    _database_option(verify)
    verify.set_defaults(func=audit_verify)
    anchor = audit_commands.add_parser(
        "anchor", help="print the signed head of the audit chain, to keep outside the database")
    anchor.add_argument("--out", default=None, metavar="FILE", help="also append it to FILE")
    _database_option(anchor)
    anchor.set_defaults(func=audit_anchor)
