"""The `cardsim` command: one subcommand family per module, each registering itself."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

# Each module exposes `register(subparsers) -> None`; its subcommands set `func(args) -> int`.
COMMAND_MODULES = (
    "web.commands.serve",
    "web.commands.admin",
    "web.commands.demo",
    "liveness.cli",
    "web.commands.probe",
)
USAGE_ERROR = 2


class UsageError(Exception):
    """The command line is wrong; the message is the one line to print (exit status 2)."""


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr, not a usage block.

    Every subcommand parser is one too (`add_subparsers` makes its parsers of the class of
    the parser it is called on).
    """

    def error(self, message: str) -> NoReturn:
        """Raise `UsageError` with a one-line, plain-words version of argparse's message."""
        raise UsageError(f"{self.prog}: error: {self._plain(message)} (see {self.prog} -h)")

    def _plain(self, message: str) -> str:
        unrecognized = "unrecognized arguments: "
        if message.startswith(unrecognized):
            extras = message.removeprefix(unrecognized).split()
            options = [extra for extra in extras if extra.startswith("-")]
            if options:
                return f"unknown option {options[0].partition('=')[0]}"
            return f"unexpected argument{'s' if len(extras) > 1 else ''} {' '.join(extras)}"
        required = "the following arguments are required: "
        if message.startswith(required):
            names = message.removeprefix(required).split(", ")
            for action in self._actions:
                if action.nargs == argparse.PARSER and isinstance(action.choices, dict) \
                        and action.dest in names:
                    return "choose a command: " + ", ".join(action.choices)
        return message


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser from every command module."""
    parser = CommandParser(prog="cardsim", description="cardsim issuance simulator")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    args = list(sys.argv[1:] if argv is None else argv)
    # argparse checks for a missing command before it reports an unknown option: look first.
    if args and args[0].startswith("-") and args[0] not in ("-h", "--help"):
        parser.error(f"unrecognized arguments: {args[0]}")
    return parser.parse_args(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `cardsim` console script; returns the process exit status."""
    parser = build_parser()
    try:
        args = _parse(parser, argv)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return USAGE_ERROR
    try:
        status: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
