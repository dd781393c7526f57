"""CLI subcommands, one module each (see :mod:`tryon_sdk.cli`)."""
