"""SQLiteAdapter: one database file in WAL mode, with group commit.

Writes: one writer process owns the only writing connection (:mod:`sqlite_process`), fed by
the writer (:mod:`sqlite_writer`) on the event loop. Coroutines append their write to a list;
once per event-loop iteration the list is handed to the writer. Whenever the process is free,
the writer sends it everything queued; the process runs it in one transaction and commits (one
fsync for the whole batch with ``synchronous=FULL``), and its answer on a pipe wakes the loop,
which resolves every caller of the batch. Each await therefore returns only after its own
commit, while 250 games writing at once share a handful of fsyncs.

Why sqlite3 and not aiosqlite here: measured on the target machine, a thread hop costs 11-90 us
and aiosqlite makes two per call, so two per write; this design makes two process hops per
*batch*. And
coroutines sharing one aiosqlite connection end up inside each other's transactions, which a
single owner rules out by construction. Why a process: ``sqlite3`` takes the GIL back after
every row it steps, which a thread of the server's would do at the event loop's expense.

Reads: reads of one game (its snapshot, a round's decisions, its rounds) run inline on a separate
read-only connection. WAL lets readers go alongside the writer without waiting, and a primary-key
lookup in the page cache takes a few microseconds, less than the thread hop that would hide it;
even a 200-round game's history is about a millisecond. Reading every game (start-up) can take
tens of milliseconds, so ``load_snapshots`` and ``load_group`` (a group can hold many games) run
in a worker thread on a short-lived connection of their own and the event loop stays free.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from storage.adapter import (
    DAMAGED,
    DecisionRecord,
    HeaderQuery,
    RoundRecord,
    Snapshot,
    SnapshotHeader,
    StorageAdapter,
)
from storage.adapters import url_path
from storage.adapters.batching import Op, WriteStats
from storage.adapters.sqlite_writer import Writer
from storage.errors import StorageError

#: ``schema_version`` table value this code writes; older databases are migrated on open.
SCHEMA_VERSION = 4

#: MIGRATIONS[n] takes a database from version n to n + 1. Never edit a released step: add one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE games (
            game_id TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
            in_progress INTEGER NOT NULL, round INTEGER NOT NULL, schema_version INTEGER NOT NULL,
            created_at REAL NOT NULL, updated_at REAL NOT NULL, payload BLOB NOT NULL)""",
        """CREATE TABLE decisions (
            game_id TEXT NOT NULL, round INTEGER NOT NULL, seat TEXT NOT NULL,
            schema_version INTEGER NOT NULL, created_at REAL NOT NULL, payload BLOB NOT NULL,
            PRIMARY KEY (game_id, round, seat))""",
        """CREATE TABLE rounds (
            game_id TEXT NOT NULL, round INTEGER NOT NULL, schema_version INTEGER NOT NULL,
            created_at REAL NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (game_id, round))""",
    ),
    # Start-up loads only the games in progress, a small share of a long-lived database.
    ("CREATE INDEX games_in_progress ON games (in_progress) WHERE in_progress",),
    # A game's group (its class), found by index instead of by decoding every game. Rows that
    # were there before keep NULL: their group is unknown.
    (
        "ALTER TABLE games ADD COLUMN grp TEXT",
        "CREATE INDEX games_grp ON games (grp)",
    ),
    # A game's summary for listings, and pages of games in the order they were created, read
    # without their payloads. Rows that were there before keep NULL: no summary.
    (
        "ALTER TABLE games ADD COLUMN summary TEXT",
        "CREATE INDEX games_created ON games (created_at, game_id)",
    ),
)

SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")

_SNAPSHOT_COLUMNS = (
    "game_id, kind, status, in_progress, round, schema_version, created_at, updated_at, payload,"
    " grp, summary"
)
_SELECT_SNAPSHOTS = f"SELECT {_SNAPSHOT_COLUMNS} FROM games"
_SELECT_HEADERS = (
    "SELECT game_id, kind, status, in_progress, round, created_at, updated_at, grp, summary"
    " FROM games"
)
#: Seconds a transaction of decisions only waits for more (see :class:`SQLiteAdapter`). One game of
#: four bots: its first decision of a round reached the writer 0.1-0.2 ms before the round the
#: other three closed, and the round's commit waited for the decision's; with the wait both share
#: one (``gameserver bots``, 200 weeks: round p50 1.16-1.40 -> 0.98-1.10 ms).
COMMIT_DELAY = 0.0005

#: A page of at most this many headers is read inline (by index, well under a millisecond);
#: a bigger listing, or all of it, in a worker thread.
_INLINE_HEADERS = 1000


class SQLiteAdapter(StorageAdapter):
    """Stores games in one SQLite file; see the module docstring for the threading design.

    ``synchronous`` is SQLite's setting: ``FULL`` (default) makes every commit survive a power
    cut; ``NORMAL`` can lose the last commits on a power cut (not on a process crash); ``OFF``
    leaves it to the OS. ``busy_timeout`` is how long (seconds) to wait for another process's
    lock; ``max_batch`` caps the writes in one transaction; ``commit_delay`` is how long (seconds,
    0 for none) a transaction of decisions only waits for more writes, such as the round the
    next decisions close, before it commits; ``wal_autocheckpoint`` is SQLite's setting, in
    pages. Use one instance from one event loop.
    """

    name = "sqlite"

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        busy_timeout: float = 5.0,
        max_batch: int = 10_000,
        wal_autocheckpoint: int = 4000,
        commit_delay: float = COMMIT_DELAY,
    ) -> None:
        if synchronous.upper() not in SYNCHRONOUS:
            raise ValueError(
                f"synchronous must be one of {', '.join(SYNCHRONOUS)}, not {synchronous!r}"
            )
        if not 0 <= commit_delay <= 0.1:
            raise ValueError(f"commit_delay must be 0 to 0.1 seconds, not {commit_delay!r}")
        self.path = Path(path)
        self.synchronous = synchronous.upper()
        self.busy_timeout = busy_timeout
        self.wal_autocheckpoint = wal_autocheckpoint
        self.commit_delay = float(commit_delay)
        self.stats = WriteStats()
        self._max_batch = max_batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: Writer | None = None
        self._reader: sqlite3.Connection | None = None
        self._pending: list[Op] = []
        self._flush_scheduled = False

    # -- life cycle

    async def open(self) -> None:
        """Create or migrate the schema, start the writer process, open the read connection."""
        if self._writer is not None:
            raise StorageError(f"sqlite: {self.path} is already open")
        self._loop = asyncio.get_running_loop()
        settings = [
            str(self.path),
            self.synchronous,
            str(int(self.wal_autocheckpoint)),
            str(self.busy_timeout),
            str(int(self._max_batch)),
            repr(self.commit_delay),
        ]
        writer = Writer(self._loop, self._prepare, settings, self._max_batch, self.stats)
        await writer.start()
        self._writer = writer
        # The inline reader runs on the event loop, so it must not sit out a long lock wait:
        # in WAL mode only a recovery or another process's forced checkpoint makes it wait.
        self._reader = self._connect(query_only=True, timeout=min(self.busy_timeout, 0.2))

    async def close(self) -> None:
        """Commit everything already submitted, stop the writer, close the connections."""
        writer = self._writer
        if writer is None:
            return
        self._flush()  # hand over what this loop iteration queued, then refuse new writes
        self._writer = None
        await writer.stop()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _connect(
        self, *, query_only: bool = False, timeout: float | None = None
    ) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions (the migration says BEGIN itself).
        wait = self.busy_timeout if timeout is None else timeout
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=wait
        )
        if query_only:
            conn.execute("PRAGMA query_only = ON")
        return conn

    def _prepare(self) -> None:
        """Runs in a worker thread before the writer process starts: WAL, then the schema's
        check and migration in one transaction (which waits for the write lock: a writer
        process of a server that just died finishes its commit first)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            _migrate(conn, self.path)
        finally:
            conn.close()

    # -- writes: handed to the writer process in batches

    async def _submit(self, kind: str, game_id: str, params: Any) -> Any:
        loop = self._loop
        if self._writer is None or loop is None:
            raise StorageError(f"sqlite: {self.path} is not open", game_id)
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append(Op(kind, game_id, params, future))
        if not self._flush_scheduled:
            # Everything submitted during this loop iteration goes to the writer as one batch:
            # one queue put and one thread wake-up per batch rather than per write.
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._pending and self._writer is not None:
            batch, self._pending = self._pending, []
            self._writer.submit(batch)

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """Create or replace the game's row in ``games``."""
        await self._submit("snapshot", snapshot.game_id, _snapshot_row(snapshot))

    async def save_decision(self, decision: DecisionRecord) -> None:
        """Create or replace the decision row."""
        d = decision
        row = (d.game_id, d.round, d.seat, d.schema_version, d.created_at, d.payload)
        await self._submit("decision", d.game_id, row)

    async def save_decisions(
        self, decisions: Sequence[DecisionRecord]
    ) -> list[BaseException | None]:
        """All of them into the writer's next transaction, awaited together (no task each)."""
        loop = self._loop
        if self._writer is None or loop is None:
            error = StorageError(f"sqlite: {self.path} is not open")
            return [error] * len(decisions)
        futures: list[asyncio.Future[Any]] = []
        for d in decisions:
            future: asyncio.Future[Any] = loop.create_future()
            row = (d.game_id, d.round, d.seat, d.schema_version, d.created_at, d.payload)
            self._pending.append(Op("decision", d.game_id, row, future))
            futures.append(future)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        return [o if isinstance(o, BaseException) else None for o in outcomes]

    async def append_round(self, record: RoundRecord, snapshot: Snapshot) -> None:
        """Insert the round and replace the snapshot in the same transaction."""
        r = record
        row = (r.game_id, r.round, r.schema_version, r.created_at, r.payload)
        await self._submit("round", r.game_id, (row, _snapshot_row(snapshot)))

    async def advance_round(self, record: RoundRecord, header: SnapshotHeader) -> None:
        """Insert the round and update the game row's columns (not its payload) in the same
        transaction; StorageError, and nothing stored, if the game has no row."""
        r, h = record, header
        row = (r.game_id, r.round, r.schema_version, r.created_at, r.payload)
        columns = (h.status, h.in_progress, h.round, h.updated_at, h.summary, h.game_id)
        await self._submit("advance", r.game_id, (row, columns))

    async def delete_game(self, game_id: str) -> bool:
        """Delete the game's rows from all three tables in one transaction."""
        deleted: bool = await self._submit("delete", game_id, (game_id,))
        return deleted

    @property
    def writer_pid(self) -> int | None:
        """The process id of the writer process, while the adapter is open."""
        return self._writer.pid if self._writer is not None else None

    async def pragma(self, name: str) -> Any:
        """The value of ``PRAGMA name`` on the writer's connection (settings are per connection)."""
        if not re.fullmatch(r"[a-z_]+", name):
            raise ValueError(f"not a pragma name: {name!r}")
        return await self._submit("pragma", "", (name,))

    # -- reads

    def _read(self, game_id: str, sql: str, params: tuple[Any, ...]) -> list[Any]:
        if self._reader is None:
            raise StorageError(f"sqlite: {self.path} is not open", game_id)
        try:
            return self._reader.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"sqlite: reading game {game_id!r} failed: {exc}", game_id) from exc

    async def load_snapshot(self, game_id: str) -> Snapshot | None:
        """The game's row, read inline (see the module docstring)."""
        rows = self._read(game_id, f"{_SELECT_SNAPSHOTS} WHERE game_id = ?", (game_id,))
        return _snapshot(rows[0]) if rows else None

    async def load_decisions(self, game_id: str, round: int) -> list[DecisionRecord]:
        """The round's decision rows, read inline."""
        rows = self._read(
            game_id,
            "SELECT seat, schema_version, created_at, payload FROM decisions"
            " WHERE game_id = ? AND round = ?",
            (game_id, round),
        )
        return [_decision(game_id, round, row) for row in rows]

    async def load_snapshots(self, *, in_progress_only: bool = False) -> list[Snapshot]:
        """Every game's row, read in a worker thread on its own connection."""
        sql = f"{_SELECT_SNAPSHOTS} WHERE in_progress" if in_progress_only else _SELECT_SNAPSHOTS
        rows = await asyncio.to_thread(self._read_all, sql)
        return [_snapshot(row) for row in rows]

    async def load_group(self, group: str | None) -> list[Snapshot]:
        """The group's rows by the ``grp`` index, read in a worker thread (a group can be big)."""
        if group is None:
            rows = await asyncio.to_thread(self._read_all, f"{_SELECT_SNAPSHOTS} WHERE grp IS NULL")
        else:
            sql = f"{_SELECT_SNAPSHOTS} WHERE grp = ?"
            rows = await asyncio.to_thread(self._read_all, sql, (group,))
        return [_snapshot(row) for row in rows]

    async def load_headers(self, query: HeaderQuery) -> list[SnapshotHeader]:
        """A page by the ``games_created`` index, without payloads: inline for a page of up to
        1,000, in a worker thread for more (or everything)."""
        sql, params = header_sql(query)
        if query.limit is not None and query.limit <= _INLINE_HEADERS:
            rows = self._read("", sql, params)
        else:
            rows = await asyncio.to_thread(self._read_all, sql, params)
        return [
            SnapshotHeader(g, k, st, bool(ip), r, c, u, grp, sm)
            for g, k, st, ip, r, c, u, grp, sm in rows
        ]

    async def load_rounds(self, game_id: str, after: int = 0) -> list[RoundRecord]:
        """The game's round rows above ``after`` in order, read inline."""
        rows = self._read(
            game_id,
            "SELECT round, schema_version, created_at, payload FROM rounds"
            " WHERE game_id = ? AND round > ? ORDER BY round",
            (game_id, after),
        )
        return [_round(game_id, row) for row in rows]

    def _read_all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        if self._writer is None:
            raise StorageError(f"sqlite: {self.path} is not open")
        try:
            conn = self._connect(query_only=True)
            try:
                return conn.execute(sql, params).fetchall()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise StorageError(f"sqlite: reading games failed: {exc}") from exc


def from_url(url: str, *, synchronous: str = "FULL") -> SQLiteAdapter:
    """``sqlite:///abs/path.db``, ``sqlite:relative/path.db`` or ``sqlite:////abs/path.db``."""
    parts = urlsplit(url)
    path = url_path(parts)
    if parts.netloc or not path or path.lstrip("/") == ":memory:":
        raise ValueError(
            f"bad SQLite URL {url!r}: use sqlite:///absolute/path.db or sqlite:relative.db"
            " (memory:// for a store that is not kept)"
        )
    return SQLiteAdapter(path, synchronous=synchronous)


def header_sql(query: HeaderQuery) -> tuple[str, tuple[Any, ...]]:
    """The SELECT of a header query, with its parameters."""
    where: list[str] = []
    params: list[Any] = []
    if query.groups is not None:
        parts = []
        for group in sorted(query.groups, key=lambda g: (g is None, g or "")):
            if group is None:
                parts.append("grp IS NULL")
            else:
                parts.append("grp = ?")
                params.append(group)
        where.append("(" + (" OR ".join(parts) or "0") + ")")
    if query.status is not None:
        where.append("status = ?")
        params.append(query.status)
    if query.after is not None:
        where.append("(created_at, game_id) " + ("<" if query.newest_first else ">") + " (?, ?)")
        params.extend(query.after)
    sql = _SELECT_HEADERS
    if where:
        sql += " WHERE " + " AND ".join(where)
    order = " DESC" if query.newest_first else ""
    sql += f" ORDER BY created_at{order}, game_id{order}"
    if query.limit is not None:
        sql += " LIMIT ?"
        params.append(query.limit)
    return sql, tuple(params)


def _snapshot_row(s: Snapshot) -> tuple[Any, ...]:
    return (
        s.game_id,
        s.kind,
        s.status,
        s.in_progress,
        s.round,
        s.schema_version,
        s.created_at,
        s.updated_at,
        s.payload,
        s.group,
        s.summary,
    )


def _checked(version: int, payload: Any) -> tuple[int, bytes]:
    """(schema_version, payload) of a row, marked damaged if the payload is not a blob."""
    if isinstance(payload, bytes):
        return version, payload
    # Written by another program (a TEXT payload, say): report it, don't crash.
    return DAMAGED, str(payload).encode()


def _snapshot(row: tuple[Any, ...]) -> Snapshot:
    game_id, kind, status, in_progress, round, version, created_at, updated_at, payload = row[:9]
    grp, summary = row[9:]
    version, payload = _checked(version, payload)
    return Snapshot(
        game_id,
        kind,
        status,
        bool(in_progress),
        round,
        version,
        created_at,
        updated_at,
        payload,
        grp,
        summary,
    )


def _decision(game_id: str, round: int, row: tuple[Any, ...]) -> DecisionRecord:
    seat, version, created_at, payload = row
    version, payload = _checked(version, payload)
    return DecisionRecord(game_id, round, seat, version, created_at, payload)


def _round(game_id: str, row: tuple[Any, ...]) -> RoundRecord:
    number, version, created_at, payload = row
    version, payload = _checked(version, payload)
    return RoundRecord(game_id, number, version, created_at, payload)


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION`, all steps in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        current = row[0] or 0
        if current > SCHEMA_VERSION:
            raise StorageError(
                f"sqlite: {path} has schema version {current}, newer than this code knows"
                f" ({SCHEMA_VERSION}); upgrade the server"
            )
        for step in MIGRATIONS[current:SCHEMA_VERSION]:
            for statement in step:
                conn.execute(statement)
        if current != SCHEMA_VERSION:
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "SQLiteAdapter", "WriteStats", "from_url"]
