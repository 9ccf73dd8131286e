"""Subcommands of the `wavlink` CLI, one module each (see `wavlink.cli`)."""
