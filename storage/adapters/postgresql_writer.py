"""The PostgreSQL writer: batches of many games' writes, one transaction per batch.

Only :class:`storage.adapters.postgresql.PostgreSQLAdapter` uses this. Writes queue up; when a
writer is free, everything queued goes in one batch, one transaction on a connection from the
pool, and while it commits the next batch gathers. Nothing waits on a timer, so a game writing
alone pays one commit and no added delay, and many games writing at once share commits. Up to
``writers`` batches run at once; a large queue is shared between the free writers, so one
batch's round trips overlap another's WAL flush (PostgreSQL flushes commits that arrive together
in one fsync). A game's write never starts while an earlier write of the same game is queued
before it or running, so each game's writes are applied in the order they were issued, and two
batches running at once never touch the same game's rows.

A batch whose writes are all of one kind is one ``executemany``: asyncpg sends every row's
Bind/Execute and a single Sync, which PostgreSQL runs as one implicit transaction, so the whole
batch is one round trip and one commit. A mixed batch runs in ``BEGIN ... COMMIT``. If anything
in a batch fails, it is rolled back and run again with a savepoint around each write: only the
failing write's caller gets the error; the others commit. If the commit itself fails, or the
connection breaks, every write of the batch fails and none was acknowledged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

import asyncpg

from storage.adapters.batching import Op, Result, WriteStats, resolve
from storage.errors import Fenced, StorageError

#: What asyncpg raises when the server or the link fails a request (InternalClientError: a
#: connection PostgreSQL ended, for example an idle transaction past its timeout, in mid-request).
FAILURES = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)

UPSERT_SNAPSHOT = """
    INSERT INTO games (game_id, kind, status, in_progress, round, schema_version, created_at,
                       updated_at, payload, grp, summary)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    ON CONFLICT (game_id) DO UPDATE SET
        kind = excluded.kind, status = excluded.status, in_progress = excluded.in_progress,
        round = excluded.round, schema_version = excluded.schema_version,
        created_at = excluded.created_at, updated_at = excluded.updated_at,
        payload = excluded.payload, grp = excluded.grp, summary = excluded.summary"""
UPSERT_DECISION = """
    INSERT INTO decisions (game_id, round, seat, schema_version, created_at, payload)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (game_id, round, seat) DO UPDATE SET
        schema_version = excluded.schema_version, created_at = excluded.created_at,
        payload = excluded.payload"""
# One statement, so atomic on its own: the round, then the snapshot (different tables).
APPEND_ROUND = """
    WITH stored_round AS (
        INSERT INTO rounds (game_id, round, schema_version, created_at, payload)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (game_id, round) DO UPDATE SET
            schema_version = excluded.schema_version, created_at = excluded.created_at,
            payload = excluded.payload)
    INSERT INTO games (game_id, kind, status, in_progress, round, schema_version, created_at,
                       updated_at, payload, grp, summary)
    VALUES ($6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
    ON CONFLICT (game_id) DO UPDATE SET
        kind = excluded.kind, status = excluded.status, in_progress = excluded.in_progress,
        round = excluded.round, schema_version = excluded.schema_version,
        created_at = excluded.created_at, updated_at = excluded.updated_at,
        payload = excluded.payload, grp = excluded.grp, summary = excluded.summary"""
# A round, and the game row's columns (not its payload) brought up to it: advance_round.
# Nothing at all is stored for a game without its row.
ADVANCE_ROUND = """
    WITH stored_round AS (
        INSERT INTO rounds (game_id, round, schema_version, created_at, payload)
        SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT FROM games WHERE game_id = $1)
        ON CONFLICT (game_id, round) DO UPDATE SET
            schema_version = excluded.schema_version, created_at = excluded.created_at,
            payload = excluded.payload)
    UPDATE games SET status = $6, in_progress = $7, round = $8, updated_at = $9, summary = $10
    WHERE game_id = $1"""
# Data-modifying WITH clauses always run to completion, read or not.
DELETE_GAME = """
    WITH d AS (DELETE FROM decisions WHERE game_id = $1 RETURNING 1),
         r AS (DELETE FROM rounds WHERE game_id = $1 RETURNING 1),
         g AS (DELETE FROM games WHERE game_id = $1 RETURNING 1)
    SELECT EXISTS (SELECT FROM d) OR EXISTS (SELECT FROM r) OR EXISTS (SELECT FROM g)"""

STATEMENTS = {
    "snapshot": UPSERT_SNAPSHOT,
    "decision": UPSERT_DECISION,
    "round": APPEND_ROUND,
    "advance": ADVANCE_ROUND,
}

_WHAT = {
    "snapshot": "saving the snapshot",
    "decision": "saving a decision",
    "round": "appending a round",
    "advance": "appending a round",
    "delete": "deleting",
}

#: A condition checked in the same transaction as a batch's writes, before them: given the
#: connection (inside the transaction) and the ids of the games the batch writes, it returns
#: the games whose writes must be refused. See the adapter's docstring.
Fence = Callable[[asyncpg.Connection, Sequence[str]], Awaitable[Collection[str]]]


#: Writes per batch below which pending writes are not split between writers (see _dispatch).
SPLIT = 32


class Writer:
    """Runs submitted writes in batches over ``pool``, at most ``writers`` batches at a time."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        writers: int,
        max_batch: int,
        stats: WriteStats,
        fence: Fence | None = None,
        split: int = SPLIT,
    ) -> None:
        self._pool = pool
        self._writers = writers
        self._max_batch = max_batch
        self._split = split
        #: Checked first in every batch's transaction (see the adapter's docstring).
        self.fence = fence
        self.stats = stats
        self._pending: list[Op] = []
        #: Game id -> its writes in batches that are running: its next writes wait for them.
        self._busy: dict[str, int] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._scheduled = False
        self._loop = asyncio.get_running_loop()

    def submit(self, op: Op) -> None:
        """Queue a write; it goes in the next batch that starts (called on the event loop)."""
        self._pending.append(op)
        if not self._scheduled:
            # Everything submitted during this loop iteration is looked at together.
            self._scheduled = True
            self._loop.call_soon(self._dispatch)

    async def stop(self) -> None:
        """Commit everything queued so far; returns when no batch is left running."""
        self._dispatch()
        while self._running:
            # A batch that ends starts the next one from what is pending: wait for those too.
            await asyncio.gather(*self._running)

    def _dispatch(self) -> None:
        """Start batches from the pending writes while fewer than ``writers`` are running."""
        self._scheduled = False
        while self._pending and len(self._running) < self._writers:
            ready = sum(1 for op in self._pending if op.game_id not in self._busy)
            if not ready:
                return
            # Split only what is worth splitting: below 2 * split writes one batch holds all,
            # since a commit costs about the same for 5 writes as for 50. Above, the free
            # writers share them, so one batch's round trips overlap another's WAL flush.
            free = self._writers - len(self._running)
            parts = max(1, min(free, ready // self._split))
            share = min(self._max_batch, -(-ready // parts))
            batch: list[Op] = []
            held: list[Op] = []
            stopped: set[str] = set()
            for op in self._pending:
                game = op.game_id
                # A game's write never starts while an earlier one of the same game waits or
                # runs: its writes are applied in the order they were issued.
                if game in self._busy or game in stopped or len(batch) >= share:
                    held.append(op)
                    stopped.add(game)
                else:
                    batch.append(op)
            self._pending = held
            for op in batch:
                self._busy[op.game_id] = self._busy.get(op.game_id, 0) + 1
            task = self._loop.create_task(self._run(batch))
            self._running.add(task)

    async def _run(self, ops: list[Op]) -> None:
        started = time.perf_counter()
        try:
            try:
                async with self._pool.acquire() as conn:
                    results = await _commit(conn, ops, self.fence)
            except Exception as exc:  # no connection to be had, or it broke: nothing acked
                results = [(None, exc)] * len(ops)
            stats = self.stats
            stats.busy_seconds += time.perf_counter() - started
            stats.batches += 1
            stats.writes += len(ops)
            stats.failed += sum(1 for _, exc in results if exc is not None)
            stats.largest_batch = max(stats.largest_batch, len(ops))
            resolve(ops, results, _error)
        finally:
            for op in ops:
                left = self._busy[op.game_id] - 1
                if left:
                    self._busy[op.game_id] = left
                else:
                    del self._busy[op.game_id]
            task = asyncio.current_task()
            if task is not None:
                self._running.discard(task)
            self._dispatch()


async def _commit(conn: asyncpg.Connection, ops: list[Op], fence: Fence | None) -> list[Result]:
    """Run ``ops`` in one transaction; if one fails, redo the batch so only that one fails."""
    try:
        kind = ops[0].kind
        if fence is None and kind != "delete" and all(op.kind == kind for op in ops):
            # One executemany is one implicit transaction: one round trip, one commit.
            await conn.executemany(STATEMENTS[kind], [op.params for op in ops])
            return [(None, None)] * len(ops)
        async with conn.transaction():
            refused = await _fenced(conn, ops, fence)
            values = await _run_batch(conn, [op for op in ops if op.game_id not in refused])
        return _merge(ops, refused, values)
    except Exception:
        if conn.is_closed():
            raise  # the connection broke: the commit's fate is unknown, so nothing is acked
    return await _run_isolated(conn, ops, fence)


async def _fenced(conn: asyncpg.Connection, ops: list[Op], fence: Fence | None) -> set[str]:
    if fence is None:
        return set()
    return set(await fence(conn, sorted({op.game_id for op in ops})))


async def _run_batch(conn: asyncpg.Connection, ops: list[Op]) -> list[Any]:
    # Runs of the same kind go to executemany: every row in one round trip.
    values: list[Any] = []
    i, n = 0, len(ops)
    while i < n:
        kind = ops[i].kind
        if kind == "delete":
            values.append(await conn.fetchval(DELETE_GAME, *ops[i].params))
            i += 1
            continue
        j = i + 1
        while j < n and ops[j].kind == kind:
            j += 1
        await conn.executemany(STATEMENTS[kind], [op.params for op in ops[i:j]])
        values.extend([None] * (j - i))
        i = j
    return values


async def _run_isolated(
    conn: asyncpg.Connection, ops: list[Op], fence: Fence | None
) -> list[Result]:
    # The slow path after a failure: a savepoint per write, so a bad write rolls back alone.
    results: list[Result] = []
    async with conn.transaction():
        refused = await _fenced(conn, ops, fence)
        for op in ops:
            if op.game_id in refused:
                results.append((None, _refused()))
                continue
            try:
                async with conn.transaction():  # nested: a savepoint
                    value = await _apply(conn, op)
            # PostgreSQL refused the write, or asyncpg one of its values (ValueError, TypeError)
            except (asyncpg.PostgresError, ValueError, TypeError) as exc:
                if conn.is_closed():
                    raise
                results.append((None, exc))
            else:
                results.append((value, None))
    return results


async def _apply(conn: asyncpg.Connection, op: Op) -> Any:
    if op.kind == "delete":
        return await conn.fetchval(DELETE_GAME, *op.params)
    await conn.execute(STATEMENTS[op.kind], *op.params)
    return None


def _refused() -> Fenced:
    return Fenced("this server no longer holds the game's lease: refused by the fence")


def _merge(ops: list[Op], refused: set[str], values: list[Any]) -> list[Result]:
    run = iter(values)
    return [(None, _refused()) if op.game_id in refused else (next(run), None) for op in ops]


def _error(op: Op, exc: BaseException) -> Exception:
    """What a caller gets when its write failed (:class:`Fenced` when the fence refused it)."""
    kind = Fenced if isinstance(exc, Fenced) else StorageError
    return kind(f"postgresql: {_WHAT[op.kind]} of game {op.game_id!r} failed: {exc}", op.game_id)
