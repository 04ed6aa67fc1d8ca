"""The ``gameserver`` command line: serve, simulate, bots, backup (see :mod:`.main`)."""

from gameserver.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
