"""FileAdapter: one folder per game, every file written atomically.

Layout under the root directory::

    <game_id>/snapshot.rec                  the current snapshot
    <game_id>/decisions/<round>/s<hex>.rec  one file per seat (hex of the seat's UTF-8)
    <game_id>/rounds/<round:010d>.rec       one file per completed round
    <game_id>/journal.rec                   only between the two writes of append_round

Every write goes to a temporary file beside its target, is fsynced, renamed over the target with
``os.replace`` and followed by an fsync of the folder, so a crash leaves the old file or the new
one, never a torn one. ``append_round`` first writes the round and the snapshot together into the
journal (its commit point), then the two real files, then removes the journal; :meth:`open` rolls
a leftover journal forward and removes leftover temporary files.

File format (:mod:`storage.adapters.record_file`): one JSON header line with each part's
metadata, length and CRC-32, then the payload bytes. A file that fails those checks is returned
as damaged. A snapshot's metadata holds its group and summary; a file written before them has
neither and loads with None for each.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from storage.adapter import DAMAGED, DecisionRecord, RoundRecord, Snapshot, StorageAdapter
from storage.adapters import url_path
from storage.adapters.record_file import Damaged, metadata, pack, unpack
from storage.errors import StorageError

T = TypeVar("T")

_GAME_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
_ROUND_FILE = re.compile(r"(\d{1,18})\.rec")
_SEAT_FILE = re.compile(r"s((?:[0-9a-f]{2}){0,100})\.rec")
_LOCK_STRIPES = 64


def check_game_id(game_id: str) -> None:
    """Raise ValueError unless ``game_id`` is safe as a folder name on any common filesystem."""
    if not isinstance(game_id, str) or not _GAME_ID.fullmatch(game_id):
        raise ValueError(
            f"game id {game_id!r} cannot be a folder name: use 1-128 letters, digits, '_', '-'"
            " or '.', not starting with '.' or '-'"
        )


def _seat_name(seat: str) -> str:
    encoded = seat.encode()
    if len(encoded) > 100:
        raise ValueError(f"seat {seat[:20]!r}... is longer than 100 bytes")
    return f"s{encoded.hex()}.rec"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(path: Path) -> None:
    """Create ``path`` and missing parents, fsyncing each parent so the new entry is durable."""
    if path.is_dir():
        return
    _make_dirs(path.parent)
    with contextlib.suppress(FileExistsError):
        path.mkdir()
    _fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: temp file, fsync, rename, fsync of the folder."""
    _make_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:  # os.write may write less than asked; each pass writes at least a byte
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None


class FileAdapter(StorageAdapter):
    """Stores each game in its own folder under ``directory`` (created if missing)."""

    name = "files"

    def __init__(self, directory: str | Path) -> None:
        self.root = Path(directory)
        # Striped locks keep one game's operations in call order without a lock per game ever
        # created; asyncio.Lock wakes waiters first come, first served.
        self._locks = [asyncio.Lock() for _ in range(_LOCK_STRIPES)]

    def _dir(self, game_id: str) -> Path:
        check_game_id(game_id)
        return self.root / game_id

    async def _locked(self, game_id: str, fn: Callable[..., T], *args: Any) -> T:
        async with self._locks[hash(game_id) % _LOCK_STRIPES]:
            task = asyncio.ensure_future(asyncio.to_thread(fn, *args))
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                # The thread goes on writing: keep the game locked until it has finished.
                await asyncio.wait({task})
                if not task.cancelled():
                    task.exception()  # retrieved: nobody is left to report it to
                raise
            except OSError as exc:
                raise StorageError(
                    f"files: writing game {game_id!r} failed: {exc}", game_id
                ) from exc

    async def _in_thread(self, game_id: str, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args)
        except OSError as exc:
            subject = f"game {game_id!r}" if game_id else "games"
            raise StorageError(f"files: reading {subject} failed: {exc}", game_id or None) from exc

    # -- life cycle

    async def open(self) -> None:
        """Create the root folder, then finish or clean up whatever a crash interrupted."""
        await self._in_thread("", self._recover)

    def _recover(self) -> None:
        _make_dirs(self.root)
        for entry in self.root.iterdir():
            if entry.name.startswith(".deleted-"):
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.is_dir() and not entry.name.startswith("."):
                for tmp in entry.glob("**/.*.tmp"):
                    tmp.unlink(missing_ok=True)
                self._roll_forward(entry)

    def _roll_forward(self, game_dir: Path) -> None:
        data = _read(game_dir / "journal.rec")
        if data is None:
            return
        try:
            round_part, snapshot_part = unpack(data)
            _apply_journal(game_dir, round_part, snapshot_part)
        except (Damaged, ValueError, KeyError, TypeError):
            # The journal is written atomically, so only outside damage gets here.
            (game_dir / "journal.rec").unlink()

    # -- writes

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """Replace ``<game>/snapshot.rec`` atomically."""
        game_dir = self._dir(snapshot.game_id)
        data = _pack_snapshot(snapshot)

        def write() -> None:
            # A journal left by an append_round that failed half way is older than this write:
            # apply it first, or a restart would roll it forward over this snapshot.
            self._roll_forward(game_dir)
            write_atomic(game_dir / "snapshot.rec", data)

        await self._locked(snapshot.game_id, write)

    async def save_decision(self, decision: DecisionRecord) -> None:
        """Replace the seat's decision file for the round atomically."""
        d = decision
        path = self._dir(d.game_id) / "decisions" / str(d.round) / _seat_name(d.seat)
        meta = {"version": d.schema_version, "created_at": d.created_at}
        await self._locked(d.game_id, write_atomic, path, pack([(meta, d.payload)]))

    async def append_round(self, record: RoundRecord, snapshot: Snapshot) -> None:
        """Journal both records, write each to its file, drop the journal."""
        game_dir = self._dir(record.game_id)
        round_meta = {
            "round": record.round,
            "version": record.schema_version,
            "created_at": record.created_at,
        }
        round_part = (round_meta, record.payload)
        snapshot_part = (_snapshot_meta(snapshot), snapshot.payload)
        journal = pack([round_part, snapshot_part])

        def write() -> None:
            self._roll_forward(game_dir)  # see save_snapshot
            write_atomic(game_dir / "journal.rec", journal)
            _apply_journal(game_dir, round_part, snapshot_part)

        await self._locked(record.game_id, write)

    async def delete_game(self, game_id: str) -> bool:
        """Rename the folder out of the way (atomic), then remove it."""
        game_dir = self._dir(game_id)

        def delete() -> bool:
            grave = self.root / f".deleted-{game_id}-{secrets.token_hex(4)}"
            try:
                game_dir.rename(grave)
            except FileNotFoundError:
                return False
            _fsync_dir(self.root)
            shutil.rmtree(grave)
            return True

        return await self._locked(game_id, delete)

    # -- reads

    async def load_snapshot(self, game_id: str) -> Snapshot | None:
        """The game's snapshot file, or None."""
        path = self._dir(game_id) / "snapshot.rec"
        return await self._in_thread(game_id, _load_snapshot, game_id, path)

    async def load_snapshots(self, *, in_progress_only: bool = False) -> list[Snapshot]:
        """Every game folder's snapshot, read in one worker thread."""

        def load_all() -> list[Snapshot]:
            found = []
            for entry in sorted(self.root.iterdir()):
                if entry.name.startswith(".") or not _GAME_ID.fullmatch(entry.name):
                    continue
                snapshot = _load_snapshot(entry.name, entry / "snapshot.rec")
                if snapshot is not None and (snapshot.in_progress or not in_progress_only):
                    found.append(snapshot)
            return found

        return await self._in_thread("", load_all)

    async def load_decisions(self, game_id: str, round: int) -> list[DecisionRecord]:
        """Every seat file in the round's decisions folder."""
        folder = self._dir(game_id) / "decisions" / str(round)

        def load() -> list[DecisionRecord]:
            found = []
            for seat_hex, meta, payload in _read_folder(folder, _SEAT_FILE):
                seat = bytes.fromhex(seat_hex).decode(errors="replace")
                version, created = _version(meta)
                found.append(DecisionRecord(game_id, round, seat, version, created, payload))
            return found

        return await self._in_thread(game_id, load)

    async def load_rounds(self, game_id: str, after: int = 0) -> list[RoundRecord]:
        """The round files numbered above ``after``, in order."""
        folder = self._dir(game_id) / "rounds"

        def load() -> list[RoundRecord]:
            found = [
                RoundRecord(game_id, int(number), *_version(meta), payload)
                for number, meta, payload in _read_folder(folder, _ROUND_FILE)
                if int(number) > after
            ]
            return sorted(found, key=lambda r: r.round)

        return await self._in_thread(game_id, load)


def from_url(url: str, *, synchronous: str = "FULL") -> FileAdapter:
    """``file:///abs/dir`` (or ``file://localhost/abs/dir``); ``synchronous`` does not apply."""
    parts = urlsplit(url)
    path = url_path(parts)
    if parts.netloc not in ("", "localhost") or not path:
        raise ValueError(f"bad file URL {url!r}: use file:///absolute/directory")
    return FileAdapter(path)


Part = tuple[dict[str, Any], bytes]


def _apply_journal(game_dir: Path, round_part: Part, snapshot_part: Part) -> None:
    """Write the journal's two records to their own files, then drop the journal."""
    round_name = f"{int(round_part[0]['round']):010d}.rec"
    write_atomic(game_dir / "rounds" / round_name, pack([round_part]))
    write_atomic(game_dir / "snapshot.rec", pack([snapshot_part]))
    (game_dir / "journal.rec").unlink()
    _fsync_dir(game_dir)


def _snapshot_meta(s: Snapshot) -> dict[str, Any]:
    return {
        "kind": s.kind,
        "status": s.status,
        "in_progress": s.in_progress,
        "round": s.round,
        "version": s.schema_version,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "group": s.group,
        "summary": s.summary,
    }


def _pack_snapshot(s: Snapshot) -> bytes:
    return pack([(_snapshot_meta(s), s.payload)])


def _load_snapshot(game_id: str, path: Path) -> Snapshot | None:
    data = _read(path)
    if data is None:
        return None
    try:
        ((m, payload),) = unpack(data)
        return Snapshot(
            game_id,
            str(m["kind"]),
            str(m["status"]),
            bool(m["in_progress"]),
            int(m["round"]),
            int(m["version"]),
            float(m["created_at"]),
            float(m["updated_at"]),
            payload,
            _group(m),
            _text_or_none(m, "summary"),
        )
    except (Damaged, ValueError, KeyError, TypeError):
        # Reported, not raised: in progress, so that start-up shows it among the errors, and in
        # its group if the header still says which, so that the group's listing shows it too.
        return Snapshot(game_id, "", "", True, 0, DAMAGED, 0.0, 0.0, data, _damaged_group(data))


def _group(meta: dict[str, Any]) -> str | None:
    # Files written before snapshots had a group have no "group": unknown, like null.
    return _text_or_none(meta, "group")


def _text_or_none(meta: dict[str, Any], name: str) -> str | None:
    value = meta.get(name)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} should be a string or null, not {type(value).__name__}")
    return value


def _damaged_group(data: bytes) -> str | None:
    try:
        (meta,) = metadata(data)
        return _group(meta)
    except (Damaged, ValueError, TypeError):
        return None


def _version(meta: dict[str, Any] | None) -> tuple[int, float]:
    if meta is None:
        return DAMAGED, 0.0
    try:
        return int(meta["version"]), float(meta["created_at"])
    except (KeyError, TypeError, ValueError):
        return DAMAGED, 0.0


def _read_folder(
    folder: Path, pattern: re.Pattern[str]
) -> list[tuple[str, dict[str, Any] | None, bytes]]:
    """(name key, metadata or None if damaged, payload) of each record file in ``folder``."""
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found: list[tuple[str, dict[str, Any] | None, bytes]] = []
    for name in names:
        match = pattern.fullmatch(name)
        data = _read(folder / name) if match else None
        if match is None or data is None:
            continue  # temporary files, or a file deleted meanwhile
        try:
            ((meta, payload),) = unpack(data)
        except (Damaged, ValueError):
            found.append((match.group(1), None, data))
        else:
            found.append((match.group(1), meta, payload))
    return found
