"""The Store: what the server writes through. It encodes; the adapter below it moves bytes.

The server hands the Store plain dicts; the Store turns them into records (JSON by orjson,
compressed by :class:`storage.codec.Codec`), stamps the times and the record schema version,
and hands the bytes to a :class:`storage.adapter.StorageAdapter`. Reading goes the other way, and
every record that cannot be decoded becomes a :class:`CorruptRecord` naming its game.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import field
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson

from storage import adapters
from storage.adapter import (
    DAMAGED,
    DecisionRecord,
    Document,
    HeaderQuery,
    RoundRecord,
    Snapshot,
    SnapshotHeader,
    StorageAdapter,
    check_document_key,
)
from storage.codec import Codec
from storage.errors import CorruptRecord, StorageError
from storage.frozen import frozen

T = TypeVar("T")

#: The version of the record format written by this code. Reading any other one fails.
RECORD_VERSION = 1


@frozen
class StoredGame:
    """A game's decoded snapshot. Times are Unix seconds; 0 means "let the Store set it".

    ``group`` is the group the game belongs to: ``""`` for none, None if unknown (a game saved
    before games had a group); see :class:`storage.adapter.Snapshot`. ``summary`` is a small
    JSON object describing the game for listings (:meth:`Store.load_headers` gives it back
    without ``data``), or None.
    """

    game_id: str
    kind: str
    status: str
    in_progress: bool
    round: int
    created_at: float = 0.0
    updated_at: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
    group: str | None = None
    summary: dict[str, Any] | None = None


@frozen
class GameHeader:
    """A game as a listing reads it: its snapshot's columns and summary, never its data.
    ``summary`` is None when the snapshot has none (written before summaries) or it is not a
    JSON object."""

    game_id: str
    kind: str
    status: str
    in_progress: bool
    round: int
    created_at: float
    updated_at: float
    group: str | None
    summary: dict[str, Any] | None


@frozen
class StoredRound:
    """A decoded round record: the round just played and what it produced."""

    game_id: str
    round: int
    created_at: float
    data: dict[str, Any]


@frozen
class LoadResult:
    """Games that loaded, and one error per game that did not."""

    games: list[StoredGame]
    errors: list[StorageError]


@contextmanager
def _gc_paused() -> Iterator[None]:
    # Decoding thousands of records allocates millions of small objects, each allocation
    # counting towards a collection that finds nothing to free: measured here, pausing the
    # collector halves the time to restore 1,000 games.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class Store:
    """Saves and loads games, decisions and rounds through one adapter.

    ``compression`` is ``"zstd"`` (default), ``"zlib"`` or None; it only affects writing, since
    reading recognises every format. Use from one event loop.
    """

    def __init__(self, adapter: StorageAdapter, *, compression: str | None = "zstd") -> None:
        self.adapter = adapter
        self._codec = Codec(compression)

    @property
    def compression(self) -> str | None:
        """The codec used for new records."""
        return self._codec.compression

    async def open(self) -> None:
        """Open the adapter (create tables, folders, recover after a crash)."""
        await self.adapter.open()

    async def close(self) -> None:
        """Finish pending writes and close the adapter."""
        await self.adapter.close()

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- games

    async def save_game(self, game: StoredGame) -> None:
        """Create or replace the game's snapshot; durable when this returns."""
        await self._write(game.game_id, self.adapter.save_snapshot(self._snapshot(game)))

    async def load_game(self, game_id: str) -> StoredGame | None:
        """The game, or None if there is none; :class:`CorruptRecord` if it cannot be decoded."""
        snapshot = await self._read(game_id, self.adapter.load_snapshot(game_id))
        return None if snapshot is None else self._game(snapshot)

    async def load_games(
        self, *, in_progress_only: bool = False, in_thread: bool = False
    ) -> LoadResult:
        """Every game (or those in progress). A damaged record is reported in ``errors``.

        ``in_thread`` decodes in a worker thread: for a request served while other games play,
        so that decoding thousands of games never holds the event loop for its whole length.
        """
        call = self.adapter.load_snapshots(in_progress_only=in_progress_only)
        return await self._load_all(call, in_thread)

    async def load_group(self, group: str | None, *, in_thread: bool = False) -> LoadResult:
        """The games of ``group`` (None: those of unknown group), reported as :meth:`load_games`."""
        return await self._load_all(self.adapter.load_group(group), in_thread)

    async def _load_all(self, call: Awaitable[list[Snapshot]], in_thread: bool) -> LoadResult:
        # Paused across the read too: the adapter builds a record object per game as well.
        with _gc_paused():
            snapshots = await self._read(None, call)
        if in_thread:
            return await asyncio.to_thread(self._decode_all, snapshots)
        return self._decode_all(snapshots)

    def _decode_all(self, snapshots: list[Snapshot]) -> LoadResult:
        games: list[StoredGame] = []
        errors: list[StorageError] = []
        with _gc_paused():
            for snapshot in snapshots:
                try:
                    games.append(self._game(snapshot))
                except StorageError as exc:
                    errors.append(exc)
        return LoadResult(games, errors)

    async def load_headers(self, query: HeaderQuery) -> list[GameHeader]:
        """A page of games as ``query`` selects and orders them (see
        :class:`storage.adapter.HeaderQuery`), their summaries decoded and their data not
        read where the adapter can avoid it."""
        headers = await self._read(None, self.adapter.load_headers(query))
        return [_header(h) for h in headers]

    async def delete_game(self, game_id: str) -> bool:
        """Remove the game with its decisions and rounds; False if nothing was stored."""
        return await self._write(game_id, self.adapter.delete_game(game_id))

    # -- decisions and rounds

    async def save_decision(
        self, game_id: str, round: int, seat: str, data: dict[str, Any]
    ) -> None:
        """Create or replace ``seat``'s decision for ``round``; durable when this returns."""
        _check_round(game_id, round)
        record = DecisionRecord(
            game_id, round, seat, RECORD_VERSION, time.time(), self._codec.encode(data)
        )
        await self._write(game_id, self.adapter.save_decision(record))

    async def save_decisions(
        self, decisions: Sequence[tuple[str, int, str, dict[str, Any]]]
    ) -> list[StorageError | None]:
        """Save ``(game_id, round, seat, data)`` decisions together: one result each, None
        once durable or the :class:`StorageError` that stopped it (the others still go)."""
        now = time.time()
        results: list[StorageError | None] = [None] * len(decisions)
        records, places = [], []
        for place, (game_id, round, seat, data) in enumerate(decisions):
            try:
                _check_round(game_id, round)
                payload = self._codec.encode(data)
            except (ValueError, TypeError) as exc:  # this one alone is refused
                results[place] = self._failed(game_id, exc)
                continue
            records.append(DecisionRecord(game_id, round, seat, RECORD_VERSION, now, payload))
            places.append(place)
        try:
            outcomes = await self.adapter.save_decisions(records)
        except Exception as exc:  # the whole call failed: every decision with it
            outcomes = [exc] * len(records)
        for place, record, outcome in zip(places, records, outcomes, strict=True):
            if outcome is not None:
                results[place] = self._failed(record.game_id, outcome)
        return results

    def _failed(self, game_id: str, exc: BaseException) -> StorageError:
        if isinstance(exc, StorageError):
            return exc
        error = StorageError(
            f"{self.adapter.name}: writing game {game_id!r} failed: {exc}", game_id
        )
        error.__cause__ = exc
        return error

    async def load_decisions(self, game_id: str, round: int) -> dict[str, dict[str, Any]]:
        """Seat -> decision data for this round of this game (empty if none)."""
        records = await self._read(game_id, self.adapter.load_decisions(game_id, round))
        return {
            r.seat: self._decode(
                r.game_id, r.schema_version, r.payload, f"decision {round}/{r.seat}"
            )
            for r in records
        }

    async def append_round(
        self, game_id: str, round: int, data: dict[str, Any], game: StoredGame
    ) -> None:
        """Store a completed round together with the game's new snapshot, atomically."""
        record = self._round(game_id, round, data, game)
        await self._write(game_id, self.adapter.append_round(record, self._snapshot(game)))

    async def advance_round(
        self, game_id: str, round: int, data: dict[str, Any], game: StoredGame
    ) -> None:
        """Store a completed round and bring the game's columns (status, round, summary) up
        to ``game``'s, atomically, keeping its stored data as it is (``game.data`` is not
        written): see :meth:`storage.adapter.StorageAdapter.advance_round`."""
        record = self._round(game_id, round, data, game)
        _check_round(game_id, game.round)
        header = SnapshotHeader(
            game_id,
            game.kind,
            game.status,
            game.in_progress,
            game.round,
            game.created_at,
            record.created_at,
            game.group,
            _summary_text(game),
        )
        await self._write(game_id, self.adapter.advance_round(record, header))

    def _round(
        self, game_id: str, round: int, data: dict[str, Any], game: StoredGame
    ) -> RoundRecord:
        """The record of round ``round``, stored with (the columns of) ``game``."""
        if game.game_id != game_id:
            raise ValueError(
                f"round of game {game_id!r} given with the snapshot of {game.game_id!r}"
            )
        _check_round(game_id, round)
        return RoundRecord(game_id, round, RECORD_VERSION, time.time(), self._codec.encode(data))

    async def load_rounds(self, game_id: str, after: int = 0) -> list[StoredRound]:
        """The game's rounds numbered above ``after``, in order."""
        records = await self._read(game_id, self.adapter.load_rounds(game_id, after))
        with _gc_paused():
            return [
                StoredRound(
                    r.game_id,
                    r.round,
                    r.created_at,
                    self._decode(r.game_id, r.schema_version, r.payload, f"round {r.round}"),
                )
                for r in records
            ]

    # -- documents

    async def save_document(self, collection: str, key: str, data: dict[str, Any]) -> None:
        """Create or replace the document ``(collection, key)``; durable when this returns.
        ValueError for a collection or key that cannot name one."""
        check_document_key(collection, key)
        document = Document(collection, key, RECORD_VERSION, time.time(), self._codec.encode(data))
        subject = f"document {collection}/{key}"
        await self._write(None, self.adapter.save_document(document), subject)

    async def load_document(self, collection: str, key: str) -> dict[str, Any] | None:
        """The document's data, or None if there is none; :class:`CorruptRecord` if it cannot
        be decoded."""
        check_document_key(collection, key)
        subject = f"document {collection}/{key}"
        document = await self._read(None, self.adapter.load_document(collection, key), subject)
        if document is None:
            return None
        return self._decode_document(subject, document)

    # -- encoding

    def _snapshot(self, game: StoredGame) -> Snapshot:
        _check_round(game.game_id, game.round)
        now = time.time()
        return Snapshot(
            game.game_id,
            game.kind,
            game.status,
            game.in_progress,
            game.round,
            RECORD_VERSION,
            game.created_at or now,
            now,
            self._codec.encode(game.data),
            game.group,
            _summary_text(game),
        )

    def _game(self, s: Snapshot) -> StoredGame:
        data = self._decode(s.game_id, s.schema_version, s.payload, "snapshot")
        return StoredGame(
            s.game_id,
            s.kind,
            s.status,
            s.in_progress,
            s.round,
            s.created_at,
            s.updated_at,
            data,
            s.group,
            _summary(s.summary),
        )

    def _decode_document(self, subject: str, document: Document) -> dict[str, Any]:
        version = document.schema_version
        if version != RECORD_VERSION:
            raise CorruptRecord(f"{subject} is damaged: record version {version}")
        try:
            return self._codec.decode(document.payload)
        except Exception as exc:
            raise CorruptRecord(
                f"{subject} cannot be decoded: {type(exc).__name__}: {exc}"
            ) from exc

    def _decode(self, game_id: str, version: int, payload: bytes, what: str) -> dict[str, Any]:
        if version != RECORD_VERSION:
            why = (
                "the adapter could not parse the stored record"
                if version == DAMAGED
                else f"unknown schema version {version} (this code reads {RECORD_VERSION})"
            )
            raise CorruptRecord(f"game {game_id!r}: {what} is damaged: {why}", game_id)
        try:
            return self._codec.decode(payload)
        except Exception as exc:
            raise CorruptRecord(
                f"game {game_id!r}: {what} cannot be decoded: {type(exc).__name__}: {exc}",
                game_id,
            ) from exc

    # -- error translation at the adapter boundary

    async def _write(self, game_id: str | None, call: Awaitable[T], subject: str = "") -> T:
        try:
            return await call
        except (StorageError, ValueError, TypeError):
            raise
        except Exception as exc:
            subject = subject or f"game {game_id!r}"
            raise StorageError(
                f"{self.adapter.name}: writing {subject} failed: {exc}", game_id
            ) from exc

    async def _read(self, game_id: str | None, call: Awaitable[T], subject: str = "") -> T:
        try:
            return await call
        except (StorageError, ValueError, TypeError):
            raise
        except Exception as exc:
            subject = subject or ("games" if game_id is None else f"game {game_id!r}")
            raise StorageError(
                f"{self.adapter.name}: reading {subject} failed: {exc}", game_id
            ) from exc


def _summary_text(game: StoredGame) -> str | None:
    return None if game.summary is None else orjson.dumps(game.summary).decode()


def _summary(text: str | None) -> dict[str, Any] | None:
    # A summary is a convenience beside the data: one that cannot be read is as good as none,
    # and the reader falls back to the data.
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _header(h: SnapshotHeader) -> GameHeader:
    return GameHeader(
        h.game_id,
        h.kind,
        h.status,
        h.in_progress,
        h.round,
        h.created_at,
        h.updated_at,
        h.group,
        _summary(h.summary),
    )


def _check_round(game_id: str, round: int) -> None:
    if round < 0:
        raise ValueError(f"game {game_id!r}: round must be >= 0, got {round}")


def open_store(
    target: str | StorageAdapter,
    *,
    compression: str | None = "zstd",
    synchronous: str = "FULL",
) -> Store:
    """A Store over an adapter object or a URL; call :meth:`Store.open` (or ``async with``).

    URLs: ``sqlite:///abs/path/games.db`` (``sqlite:relative/path.db`` for a relative path),
    ``memory://``, ``file:///abs/dir``; :data:`storage.adapters.SCHEMES` is the table of schemes.
    ``synchronous`` applies to SQLite only. The adapter module is imported only when its scheme
    is used.
    """
    if isinstance(target, StorageAdapter):
        return Store(target, compression=compression)
    return Store(adapter_for_url(target, synchronous=synchronous), compression=compression)


def adapter_for_url(url: str, *, synchronous: str = "FULL") -> StorageAdapter:
    """The adapter named by ``url`` (see :func:`open_store`), not yet opened."""
    scheme = urlsplit(url).scheme
    from_url = adapters.from_url_for(scheme)
    if from_url is None:
        known = ", ".join(f"{name}://" for name in adapters.SCHEMES)
        raise ValueError(f"unknown storage URL scheme {scheme!r} in {url!r}: use {known}")
    return from_url(url, synchronous=synchronous)
