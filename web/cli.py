"""The `cardsim` command: one subcommand family per module, each registering itself."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module exposes `register(subparsers) -> None`; its subcommands set `func(args) -> int`.
COMMAND_MODULES = (
    "web.commands.serve",
    "web.commands.admin",
    "web.commands.demo",
    "liveness.cli",
    "web.commands.probe",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser from every command module."""
    parser = argparse.ArgumentParser(prog="cardsim", description="cardsim issuance simulator")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser



def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `cardsim` console script; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
