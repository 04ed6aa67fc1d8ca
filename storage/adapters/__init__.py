"""The adapters that ship with ``storage``, one module each, and the table of their URL schemes.

::

    sqlite.py          SQLiteAdapter: one database file, WAL, group commit (the default)
    sqlite_writer.py   its writer: batches to the writer process, outcomes to their callers
    sqlite_process.py  the writer process (standard library only)
    postgresql.py      PostgreSQLAdapter: a PostgreSQL database through asyncpg, group commit
    postgresql_writer.py  its writer: lanes of batches, one transaction each
    files.py           FileAdapter: one folder per game, every file written atomically
    record_file.py     its file format
    memory.py          MemoryAdapter: dicts, nothing survives a restart

:data:`SCHEMES` maps each URL scheme to the module that serves it. :func:`storage.open_store`
imports that module only when its scheme is used, so a server on ``memory://`` never loads
``sqlite3``, and ``storage`` works without asyncpg unless ``postgresql://`` is used. Each module
has a ``from_url`` function (see :class:`FromUrl`) that checks the URL and makes the adapter,
unopened. A module whose driver is not installed raises ImportError naming what to install;
:func:`from_url_for` turns that into a ValueError with the same one line.

A new adapter is a change in one place: a module here with its adapter class and ``from_url``,
plus its line in :data:`SCHEMES`. An adapter kept in a package of your own needs neither: pass
the adapter object to ``open_store``.
"""

from __future__ import annotations

import importlib
from typing import Protocol
from urllib.parse import SplitResult, unquote

from storage.adapter import StorageAdapter

#: URL scheme -> the module whose ``from_url`` makes that scheme's adapter.
SCHEMES: dict[str, str] = {
    "sqlite": "storage.adapters.sqlite",
    "memory": "storage.adapters.memory",
    "file": "storage.adapters.files",
    "postgresql": "storage.adapters.postgresql",
}


class FromUrl(Protocol):
    """An adapter module's ``from_url``: the adapter named by ``url``, or ValueError."""

    def __call__(self, url: str, *, synchronous: str) -> StorageAdapter: ...


def from_url_for(scheme: str) -> FromUrl | None:
    """The ``from_url`` of the module serving ``scheme``, imported now; None for no such scheme.

    ValueError if the module's driver is not installed (the message says what to install).
    """
    module = SCHEMES.get(scheme)
    if module is None:
        return None
    try:
        from_url: FromUrl = importlib.import_module(module).from_url
    except ImportError as exc:
        if exc.name == module:
            raise  # the adapter module itself is missing: a broken install, not a driver
        raise ValueError(str(exc)) from exc
    return from_url


def url_path(url: SplitResult) -> str:
    """The URL's path, unquoted. A leading ``//`` means ``/``: SQLAlchemy's ``sqlite:////abs``."""
    path = unquote(url.path)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    return path
