"""Run the admin subcommands exactly as `cardsim` dispatches them (web/cli.py)."""

from __future__ import annotations

import argparse

from web.commands import admin


def run_admin(argv: list[str]) -> int:
    """Parse `argv` with the admin subcommands and run the chosen one; its exit status."""
    parser = argparse.ArgumentParser(prog="cardsim")
    admin.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status: int = args.func(args)
    return status
