"""PostgreSQLAdapter: games in a PostgreSQL database through asyncpg, with group commit.

``postgresql://user:password@host:5432/games?min_size=2&max_size=10`` (see :func:`from_url`).
Needs the ``postgresql`` extra (``pip install "gameserver[postgresql]"``, which brings asyncpg);
nothing else in ``storage`` imports this module.

Writes: PostgreSQL makes one durable commit per transaction (a WAL flush), so what makes it fast
is putting many games' writes in one transaction. The writer
(:mod:`storage.adapters.postgresql_writer`) does that the way the SQLite writer does: writes
queue up while a batch commits and go together in the next one, each caller's await returns
after the commit that holds its write, and a write that fails in a batch fails alone (the batch
is rerun with a savepoint per write). ``synchronous_commit`` is kept on, so an acknowledged write
survives a crash of the database server too.

Reads are single queries on a connection from the pool; they never wait for the writer.

Tables ``games``, ``decisions`` and ``rounds`` with the same columns as SQLite's (``payload`` is
``bytea``), plus ``schema_version``; :data:`MIGRATIONS` brings a database to
:data:`SCHEMA_VERSION` on open, in one transaction, under an advisory lock so that several
servers opening one database at once migrate it once.

Servers sharing a database hold a lease per game (:meth:`PostgreSQLAdapter.leases`,
:mod:`storage.adapters.postgresql_leases`) and check it in the same transaction as the game's
writes, so that a server that lost a game can no longer write it: the fence is an async function
that the writer calls first in every batch's transaction, with the connection and the ids of
the batch's games, and that returns the games whose writes must be refused; those writes fail
alone with a :class:`~storage.errors.Fenced` error, the others commit (a batch with a fence
always runs in ``BEGIN ... COMMIT``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

try:
    import asyncpg
except ImportError as exc:  # the extra is not installed; open_store turns this into one line
    raise ImportError(
        "postgresql:// storage needs the asyncpg package: pip install 'gameserver[postgresql]'",
        name="asyncpg",
    ) from exc

from storage.adapter import (
    DecisionRecord,
    Document,
    HeaderQuery,
    RoundRecord,
    Snapshot,
    SnapshotHeader,
    StorageAdapter,
    check_document_key,
)
from storage.adapters.batching import Op, WriteStats
from storage.adapters.postgresql_schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    init_connection,
    keep_session,
    migrate,
)
from storage.adapters.postgresql_writer import FAILURES, Fence, Writer
from storage.errors import StorageError
from storage.leases import Leases

#: URL query parameters read by the adapter (the others go to asyncpg): name -> (low, high).
POOL_PARAMETERS: dict[str, tuple[int, int]] = {
    "min_size": (0, 1000),
    "max_size": (1, 1000),
    "writers": (1, 64),
    "max_batch": (1, 1_000_000),
}

_SNAPSHOT_COLUMNS = (
    "game_id, kind, status, in_progress, round, schema_version, created_at, updated_at, payload,"
    " grp, summary"
)
_SELECT_SNAPSHOTS = f"SELECT {_SNAPSHOT_COLUMNS} FROM games"
_UPSERT_DOCUMENT = """
    INSERT INTO documents (collection, key, schema_version, updated_at, payload)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (collection, key) DO UPDATE SET
        schema_version = excluded.schema_version, updated_at = excluded.updated_at,
        payload = excluded.payload"""
_SELECT_HEADERS = (
    "SELECT game_id, kind, status, in_progress, round, created_at, updated_at, grp, summary"
    " FROM games"
)


class PostgreSQLAdapter(StorageAdapter):
    """Stores games in a PostgreSQL database; see the module docstring for the design.

    ``dsn`` is what asyncpg takes (a ``postgresql://`` URL without this adapter's parameters).
    ``min_size`` and ``max_size`` size the connection pool; ``writers`` is how many batches may
    commit at once, each on a connection of its own (default 2, or ``max_size`` if smaller; a
    game's writes always go through the same writer, so they keep their order); ``max_batch``
    caps the writes in one transaction. ``fence`` is checked in every write transaction (see
    the module docstring). Use one instance from one event loop.
    """

    name = "postgresql"

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 2,
        max_size: int = 10,
        writers: int | None = None,
        max_batch: int = 10_000,
        fence: Fence | None = None,
    ) -> None:
        if writers is None:
            writers = min(2, max_size)
        for param, value in (
            ("min_size", min_size),
            ("max_size", max_size),
            ("writers", writers),
            ("max_batch", max_batch),
        ):
            low, high = POOL_PARAMETERS[param]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(
                    f"{param} must be a whole number from {low} to {high}, not {value!r}"
                )
        if min_size > max_size:
            raise ValueError(f"min_size ({min_size}) must not be more than max_size ({max_size})")
        if writers > max_size:
            raise ValueError(f"writers ({writers}) must not be more than max_size ({max_size})")
        self.dsn = dsn
        self.min_size = min_size
        self.max_size = max_size
        self.writers = writers
        self.max_batch = max_batch
        self.stats = WriteStats()
        self._fence = fence
        self._pool: asyncpg.Pool | None = None
        self._writer: Writer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"PostgreSQLAdapter({redacted(self.dsn)!r})"

    # -- life cycle

    async def open(self) -> None:
        """Connect the pool, create or migrate the schema, start the writer."""
        if self._pool is not None:
            raise StorageError(f"postgresql: {redacted(self.dsn)} is already open")
        try:
            pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self.min_size,
                max_size=self.max_size,
                init=init_connection,
                reset=keep_session,
            )
        except FAILURES as exc:
            raise StorageError(
                f"postgresql: cannot connect to {redacted(self.dsn)}: {exc}"
            ) from exc
        try:
            async with pool.acquire() as conn:
                await migrate(conn, redacted(self.dsn))
        except BaseException as exc:
            await pool.close()
            if isinstance(exc, FAILURES):
                raise StorageError(f"postgresql: migrating failed: {exc}") from exc
            raise
        writer = Writer(
            pool,
            writers=self.writers,
            max_batch=self.max_batch,
            stats=self.stats,
            fence=self._fence,
        )
        self._loop = asyncio.get_running_loop()
        self._pool, self._writer = pool, writer

    @property
    def pool(self) -> asyncpg.Pool:
        """The connection pool (for :mod:`storage.adapters.postgresql_leases`)."""
        if self._pool is None:
            raise StorageError(f"postgresql: {redacted(self.dsn)} is not open")
        return self._pool

    def set_fence(self, fence: Fence | None) -> None:
        """Check ``fence`` in every write transaction from now on."""
        self._fence = fence
        if self._writer is not None:
            self._writer.fence = fence

    def leases(self, name: str, seconds: float) -> Leases:
        """Leases for a server called ``name`` sharing this database with others; open them
        after the adapter."""
        from storage.adapters.postgresql_leases import PostgreSQLLeases

        return PostgreSQLLeases(self, name, seconds)

    async def close(self) -> None:
        """Commit everything already submitted, stop the writer, close the pool."""
        writer, pool = self._writer, self._pool
        if writer is None or pool is None:
            return
        self._writer = None  # refuse new writes; those queued still commit
        await writer.stop()
        self._pool = None
        await pool.close()

    # -- writes: queued for the writer, which batches them

    async def _submit(self, kind: str, game_id: str, params: tuple[Any, ...]) -> Any:
        writer, loop = self._writer, self._loop
        if writer is None or loop is None:
            raise StorageError(f"postgresql: {redacted(self.dsn)} is not open", game_id)
        future: asyncio.Future[Any] = loop.create_future()
        writer.submit(Op(kind, game_id, params, future))
        return await future

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """Create or replace the game's row in ``games``."""
        await self._submit("snapshot", snapshot.game_id, _snapshot_row(snapshot))

    async def save_decision(self, decision: DecisionRecord) -> None:
        """Create or replace the decision row."""
        d = decision
        row = (d.game_id, d.round, d.seat, d.schema_version, float(d.created_at), d.payload)
        await self._submit("decision", d.game_id, row)

    async def save_decisions(
        self, decisions: Sequence[DecisionRecord]
    ) -> list[BaseException | None]:
        """All of them queued for the writers at once and awaited together, so they share
        commits (one by one, each would wait for the commit of the one before)."""
        writer, loop = self._writer, self._loop
        if writer is None or loop is None:
            return [StorageError(f"postgresql: {redacted(self.dsn)} is not open")] * len(decisions)
        futures: list[asyncio.Future[Any]] = []
        for d in decisions:
            future: asyncio.Future[Any] = loop.create_future()
            row = (d.game_id, d.round, d.seat, d.schema_version, float(d.created_at), d.payload)
            writer.submit(Op("decision", d.game_id, row, future))
            futures.append(future)
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        return [o if isinstance(o, BaseException) else None for o in outcomes]

    async def append_round(self, record: RoundRecord, snapshot: Snapshot) -> None:
        """Insert the round and replace the snapshot in one statement (so atomically)."""
        r = record
        row = (r.game_id, r.round, r.schema_version, float(r.created_at), r.payload)
        await self._submit("round", r.game_id, row + _snapshot_row(snapshot))

    async def advance_round(self, record: RoundRecord, header: SnapshotHeader) -> None:
        """Insert the round and update the game row's columns (not its payload) in one
        statement; nothing is stored if the game has no row."""
        r, h = record, header
        row = (r.game_id, r.round, r.schema_version, float(r.created_at), r.payload)
        columns = (h.status, h.in_progress, h.round, float(h.updated_at), h.summary)
        await self._submit("advance", r.game_id, row + columns)

    async def delete_game(self, game_id: str) -> bool:
        """Delete the game's rows from all three tables in one statement."""
        deleted: bool = await self._submit("delete", game_id, (game_id,))
        return deleted

    # -- reads

    async def _fetch(self, game_id: str | None, sql: str, *args: Any) -> list[Any]:
        pool = self._pool
        if pool is None:
            raise StorageError(f"postgresql: {redacted(self.dsn)} is not open", game_id)
        try:
            rows: list[Any] = await pool.fetch(sql, *args)
        except FAILURES as exc:
            subject = "games" if game_id is None else f"game {game_id!r}"
            raise StorageError(f"postgresql: reading {subject} failed: {exc}", game_id) from exc
        return rows

    async def load_snapshot(self, game_id: str) -> Snapshot | None:
        """The game's row."""
        rows = await self._fetch(game_id, f"{_SELECT_SNAPSHOTS} WHERE game_id = $1", game_id)
        return Snapshot(*rows[0]) if rows else None

    async def load_snapshots(self, *, in_progress_only: bool = False) -> list[Snapshot]:
        """Every game's row (by the partial index ``games_in_progress`` if only those)."""
        sql = f"{_SELECT_SNAPSHOTS} WHERE in_progress" if in_progress_only else _SELECT_SNAPSHOTS
        return [Snapshot(*row) for row in await self._fetch(None, sql)]

    async def load_group(self, group: str | None) -> list[Snapshot]:
        """The group's rows, by the ``games_grp`` index."""
        if group is None:
            rows = await self._fetch(None, f"{_SELECT_SNAPSHOTS} WHERE grp IS NULL")
        else:
            rows = await self._fetch(None, f"{_SELECT_SNAPSHOTS} WHERE grp = $1", group)
        return [Snapshot(*row) for row in rows]

    async def load_headers(self, query: HeaderQuery) -> list[SnapshotHeader]:
        """A page by the ``games_created`` index, without payloads."""
        where: list[str] = []
        args: list[Any] = []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if query.groups is not None:
            parts = ["grp IS NULL" if g is None else f"grp = {arg(g)}" for g in query.groups]
            where.append("(" + (" OR ".join(parts) or "false") + ")")
        if query.status is not None:
            where.append(f"status = {arg(query.status)}")
        if query.after is not None:
            created, game_id = query.after
            sign = "<" if query.newest_first else ">"
            where.append(f"(created_at, game_id) {sign} ({arg(float(created))}, {arg(game_id)})")
        sql = _SELECT_HEADERS + (" WHERE " + " AND ".join(where) if where else "")
        order = " DESC" if query.newest_first else ""
        sql += f" ORDER BY created_at{order}, game_id{order}"
        if query.limit is not None:
            sql += f" LIMIT {arg(query.limit)}"
        return [SnapshotHeader(*row) for row in await self._fetch(None, sql, *args)]

    async def save_document(self, document: Document) -> None:
        """Create or replace the document's row, in one statement committed on its own: the
        writer's batches are fenced game by game, and a document is no game's (it has no
        lease). Documents are written seldom (a student joining a class), so sharing commits
        would gain little."""
        d = document
        check_document_key(d.collection, d.key)
        pool = self._pool
        if pool is None or self._writer is None:
            raise StorageError(f"postgresql: {redacted(self.dsn)} is not open")
        row = (d.collection, d.key, d.schema_version, float(d.updated_at), d.payload)
        try:
            await pool.execute(_UPSERT_DOCUMENT, *row)
        except FAILURES as exc:
            where = f"{d.collection}/{d.key}"
            raise StorageError(f"postgresql: saving document {where} failed: {exc}") from exc

    async def load_document(self, collection: str, key: str) -> Document | None:
        """The document's row."""
        check_document_key(collection, key)
        sql = (
            "SELECT schema_version, updated_at, payload FROM documents"
            " WHERE collection = $1 AND key = $2"
        )
        rows = await self._fetch(None, sql, collection, key)
        return Document(collection, key, *rows[0]) if rows else None

    async def load_decisions(self, game_id: str, round: int) -> list[DecisionRecord]:
        """The round's decision rows."""
        rows = await self._fetch(
            game_id,
            "SELECT seat, schema_version, created_at, payload FROM decisions"
            " WHERE game_id = $1 AND round = $2",
            game_id,
            round,
        )
        return [DecisionRecord(game_id, round, *row) for row in rows]

    async def load_rounds(self, game_id: str, after: int = 0) -> list[RoundRecord]:
        """The game's round rows above ``after``, in order."""
        rows = await self._fetch(
            game_id,
            "SELECT round, schema_version, created_at, payload FROM rounds"
            " WHERE game_id = $1 AND round > $2 ORDER BY round",
            game_id,
            after,
        )
        return [RoundRecord(game_id, *row) for row in rows]

    async def setting(self, name: str) -> str:
        """The value of a server setting as the adapter's connections see it."""
        rows = await self._fetch(None, "SELECT current_setting($1)", name)
        value: str = rows[0][0]
        return value


def _snapshot_row(s: Snapshot) -> tuple[Any, ...]:
    return (
        s.game_id,
        s.kind,
        s.status,
        bool(s.in_progress),
        s.round,
        s.schema_version,
        float(s.created_at),
        float(s.updated_at),
        s.payload,
        s.group,
        s.summary,
    )


def redacted(url: str) -> str:
    """``url`` with its password replaced by ``***``, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))


def from_url(url: str, *, synchronous: str = "FULL") -> PostgreSQLAdapter:
    """``postgresql://user:password@host:port/database?min_size=2&max_size=10``.

    ``min_size``, ``max_size``, ``writers`` and ``max_batch`` are the adapter's (see
    :class:`PostgreSQLAdapter`); every other query parameter goes to asyncpg (``sslmode``,
    ``application_name``, ``search_path``, ...). ``synchronous_commit`` is refused: the adapter
    keeps it on. ``synchronous`` is SQLite's setting and does not apply here.
    """
    parts = urlsplit(url)
    if parts.scheme != "postgresql":
        raise ValueError(f"bad PostgreSQL URL {redacted(url)!r}: it must start with postgresql://")
    ours: dict[str, int] = {}
    rest: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        problem = _parameter_problem(name, value, ours)
        if problem:
            raise ValueError(f"bad PostgreSQL URL {redacted(url)!r}: {problem}")
        if name in POOL_PARAMETERS:
            ours[name] = int(value)
        else:
            rest.append((name, value))
    dsn = urlunsplit(SplitResult(*parts[:3], urlencode(rest), parts.fragment))
    try:
        return PostgreSQLAdapter(dsn, fence=None, **ours)
    except ValueError as exc:
        raise ValueError(f"bad PostgreSQL URL {redacted(url)!r}: {exc}") from None


def _parameter_problem(name: str, value: str, seen: dict[str, int]) -> str | None:
    if name == "synchronous_commit":
        return "synchronous_commit cannot be set: the adapter keeps it on (durable writes)"
    if name not in POOL_PARAMETERS:
        return None
    if name in seen:
        return f"{name} is given twice"
    low, high = POOL_PARAMETERS[name]
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        return f"{name} must be a whole number from {low} to {high}, not {value!r}"
    return None


__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Fence",
    "PostgreSQLAdapter",
    "WriteStats",
    "from_url",
    "redacted",
]
