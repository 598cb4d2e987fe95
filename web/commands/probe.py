"""`cardsim probe`: run the attack suite against a live server, print a table, write JSON.

Exit status: 0 every attack detected, 1 some attack was not detected, 2 bad arguments, an
unreachable server, or a scenario that could not run (one line on stderr).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from web.probe.api import Server
from web.probe.context import ProbeContext, StaffAccount
from web.probe.result import ProbeAborted, table, write_report
from web.probe.runner import ALL_SCENARIOS, run_probe


def register(subparsers: Any) -> None:
    """Add the `probe` subcommand."""
    parser = subparsers.add_parser(
        "probe", help="run the security attack suite against a live server",
        description="Drive the server's HTTP API (and tee_sim phones) through every known "
                    "attack; report detected / not detected with the server's reason.")
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:5000")
    parser.add_argument("--json", type=Path, help="write the JSON report here")
    parser.add_argument("--staff-user", action="append", default=[], metavar="U",
                        help="a staff username (repeatable; pair with --staff-password)")
    parser.add_argument("--staff-password", action="append", default=[], metavar="P",
                        help="the password of the staff user at the same position")
    parser.add_argument("--device-dir", type=Path,
                        help="the server's CARDSIM_DEVICE_DIR (needed for phone attacks)")
    parser.add_argument("--only", metavar="TEXT",
                        help="run only scenarios whose function name contains TEXT")
    parser.set_defaults(func=probe)


def _fail(message: str) -> int:
    print(f"cardsim probe: {message}", file=sys.stderr)
    return 2


def _unwritable_file(path: Path) -> str | None:
    """Why the report could not be written at `path` (None: as far as one can tell, it can),
    checked before the attacks run rather than after."""
    if path.is_dir():
        return "it is a directory"
    if path.exists() and not path.is_file():
        return "it is not a regular file"
    if not path.parent.is_dir():
        return f"{path.parent} is not a directory"
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        return "permission denied"
    return None


def probe(args: argparse.Namespace) -> int:
    """Run the suite; see the module docstring for the exit status."""
    if len(args.staff_user) != len(args.staff_password):
        return _fail("give one --staff-password for each --staff-user")
    if not str(args.base_url).startswith(("http://", "https://")):
        return _fail(f"--base-url must start with http:// or https://, not {args.base_url!r}")
    if args.device_dir is not None and not args.device_dir.is_dir():
        return _fail(f"--device-dir {args.device_dir} is not a directory")
    if args.json is not None:
        problem = _unwritable_file(args.json)
        if problem:
            return _fail(f"cannot write --json {args.json}: {problem}")
    scenarios = [s for s in ALL_SCENARIOS if not args.only or args.only in s.__name__]
    if not scenarios:
        return _fail(f"no scenario name contains {args.only!r}")
    staff = tuple(StaffAccount(u, p) for u, p in zip(args.staff_user, args.staff_password,
                                                      strict=True))
    ctx = ProbeContext(server=Server(args.base_url), device_dir=args.device_dir, staff=staff)
    try:
        report = run_probe(ctx, scenarios=scenarios,
                           progress=lambda line: print(line, file=sys.stderr, flush=True))
    except ProbeAborted as exc:
        return _fail(str(exc))
    print(table(report.results))
    for name, why in report.skipped:
        print(f"skipped {name}: {why}")
    if args.json is not None:
        try:
            write_report(args.json, report.results, base_url=args.base_url,
                         skipped=report.skipped, errors=report.errors)
        except OSError as exc:
            return _fail(f"cannot write {args.json}: {exc.strerror}")
    if report.errors:
        names = ", ".join(f"{n} ({why})" for n, why in report.errors)
        return _fail(f"{len(report.errors)} scenario(s) could not run: {names}")
    return 0 if report.all_detected else 1
