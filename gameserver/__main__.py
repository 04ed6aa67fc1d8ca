"""``python -m gameserver``: the command line of :mod:`gameserver.cli`."""

from gameserver.cli import main

raise SystemExit(main())
