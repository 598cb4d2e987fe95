"""Subcommands of the `cardsim` CLI."""
