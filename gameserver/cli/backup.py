"""``gameserver backup DEST``: a consistent copy of the SQLite database, while the server runs.

It reads the same settings as ``serve`` (``--data``, ``--storage`` and their ``GAMESERVER_*``
variables), so the command that backs up is the command that serves with ``backup`` in place of
``serve``. The copy is made with SQLite's online backup API in one step: one read transaction,
so the copy is the database as it was at one moment, every acknowledged write before that moment
included, and the server's writes go on meanwhile (in WAL mode a reader never blocks the
writer). The copy is checked (``PRAGMA integrity_check``), written to a temporary file beside
DEST, flushed to disk and only then given its name, so DEST is never half a backup.

Only SQLite: PostgreSQL has ``pg_dump``, and the memory and file stores are not databases.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gameserver.errors import GameServerError
from gameserver.server.config import Config

#: What to do instead, for the stores this command does not copy.
HINTS = {
    "postgresql": "use pg_dump (docs/deploy.md)",
    "file": "stop the server, then copy the folder",
    "memory": "a memory store keeps nothing",
}


def add_backup(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "backup",
        help="copy the SQLite database, also while the server runs",
        description="Write a consistent copy of the server's SQLite database to DEST, also "
        "while the server runs. Reads --data and --storage like serve (and GAMESERVER_DATA, "
        "GAMESERVER_STORAGE). For PostgreSQL use pg_dump.",
    )
    p.add_argument("dest", metavar="DEST", help="the file to write the copy to")
    p.add_argument("--data", help="data folder (GAMESERVER_DATA, default ./data)")
    p.add_argument("--storage", help="storage URL, sqlite:///path.db (GAMESERVER_STORAGE)")
    p.add_argument("--force", action="store_true", help="replace DEST if it exists")
    p.set_defaults(run=run_backup)


def run_backup(args: argparse.Namespace) -> int:
    try:
        config = Config.from_env(data=args.data, storage=args.storage)
    except ValueError as exc:
        raise GameServerError(str(exc)) from None
    source = sqlite_path(config.storage_url())
    dest = Path(args.dest)
    if not source.is_file():
        raise GameServerError(f"no database at {source}")
    if dest.exists() and not args.force:
        raise GameServerError(f"{dest} exists: choose another name, or --force to replace it")
    if dest.exists() and dest.resolve() == source.resolve():
        raise GameServerError(f"{dest} is the database itself")
    if not dest.parent.is_dir():
        raise GameServerError(f"no folder {dest.parent} to write {dest.name} in")
    games = backup(source, dest, replace=args.force)
    size = dest.stat().st_size
    print(f"backed up {games} games from {source} to {dest} ({size:,} bytes)")
    return 0


def sqlite_path(url: str) -> Path:
    """The database file of a ``sqlite:`` storage URL; one clear error for any other store."""
    scheme = urlsplit(url).scheme
    if scheme != "sqlite":
        hint = HINTS.get(scheme, "this command copies SQLite databases only")
        raise GameServerError(f"{scheme}:// storage cannot be backed up here: {hint}")
    from storage.adapters.sqlite import from_url

    try:
        return from_url(url).path
    except ValueError as exc:
        raise GameServerError(str(exc)) from None


def backup(source: Path, dest: Path, *, replace: bool = False) -> int:
    """Copy ``source`` to ``dest`` consistently; the number of games in the copy.

    Without ``replace``, an existing ``dest`` is never overwritten (FileExistsError), even one
    that appeared while the copy was made.
    """
    temporary = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    try:
        games = _copy(source, temporary)
        if replace:
            os.replace(temporary, dest)
        else:
            os.link(temporary, dest)  # fails if dest exists: no window to overwrite it
        _fsync_folder(dest.parent)
    except FileExistsError:
        raise GameServerError(
            f"{dest} exists: choose another name, or --force to replace it"
        ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return games


def _copy(source: Path, target: Path) -> int:
    # Read-only: the backup can never create or change the database it copies.
    src = sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            # pages=-1: the whole database in one step, inside one read transaction, so the
            # copy is one moment of the database. Stepping would restart on every write the
            # server commits meanwhile, and a busy server commits many times a second.
            src.backup(dst, pages=-1)
            # One self-contained file, with no -wal beside it to lose when it is copied on.
            dst.execute("PRAGMA journal_mode = DELETE")
            check = dst.execute("PRAGMA integrity_check").fetchall()
            if check != [("ok",)]:
                raise GameServerError(f"the copy of {source} failed its integrity check: {check}")
            tables = dst.execute("SELECT name FROM sqlite_master WHERE name = 'games'").fetchall()
            games: int = dst.execute("SELECT count(*) FROM games").fetchone()[0] if tables else 0
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise GameServerError(f"backing up {source} failed: {exc}") from exc
    finally:
        src.close()
    with open(target, "rb+") as handle:
        os.fsync(handle.fileno())
    return games


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
