"""The PostgreSQL writer: lanes of batched writes, one transaction per batch.

Only :class:`storage.adapters.postgresql.PostgreSQLAdapter` uses this. Each game belongs to one
*lane* (by a hash of its id). A lane runs one batch at a time: everything queued for it when it
comes round, in one transaction on a connection from the pool; while that batch commits, the
next one gathers. Nothing waits on a timer, so a game writing alone pays one commit and no added
delay, and many games writing at once share commits. A game's writes all go through its lane,
one batch after the other, so they are applied in the order they were issued.

Several lanes commit at the same time on different connections: PostgreSQL flushes the WAL of
commits that arrive together in one fsync, so two lanes overlap one batch's round trips with the
other's flush. Games of different lanes never touch the same rows, so lanes never wait on each
other's locks.

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
import zlib
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from storage.errors import StorageError

UPSERT_SNAPSHOT = """
    INSERT INTO games (game_id, kind, status, in_progress, round, schema_version, created_at,
                       updated_at, payload, grp)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    ON CONFLICT (game_id) DO UPDATE SET
        kind = excluded.kind, status = excluded.status, in_progress = excluded.in_progress,
        round = excluded.round, schema_version = excluded.schema_version,
        created_at = excluded.created_at, updated_at = excluded.updated_at,
        payload = excluded.payload, grp = excluded.grp"""
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
                       updated_at, payload, grp)
    VALUES ($6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
    ON CONFLICT (game_id) DO UPDATE SET
        kind = excluded.kind, status = excluded.status, in_progress = excluded.in_progress,
        round = excluded.round, schema_version = excluded.schema_version,
        created_at = excluded.created_at, updated_at = excluded.updated_at,
        payload = excluded.payload, grp = excluded.grp"""
# Data-modifying WITH clauses always run to completion, read or not.
DELETE_GAME = """
    WITH d AS (DELETE FROM decisions WHERE game_id = $1 RETURNING 1),
         r AS (DELETE FROM rounds WHERE game_id = $1 RETURNING 1),
         g AS (DELETE FROM games WHERE game_id = $1 RETURNING 1)
    SELECT EXISTS (SELECT FROM d) OR EXISTS (SELECT FROM r) OR EXISTS (SELECT FROM g)"""

STATEMENTS = {"snapshot": UPSERT_SNAPSHOT, "decision": UPSERT_DECISION, "round": APPEND_ROUND}

_WHAT = {
    "snapshot": "saving the snapshot",
    "decision": "saving a decision",
    "round": "appending a round",
    "delete": "deleting",
}

#: A condition checked in the same transaction as a batch's writes, before them: given the
#: connection (inside the transaction) and the ids of the games the batch writes, it returns
#: the games whose writes must be refused. See the adapter's docstring.
Fence = Callable[[asyncpg.Connection, Sequence[str]], Awaitable[Collection[str]]]


@dataclass(slots=True)
class WriteStats:
    """Counters kept by the writer: how well group commit is batching."""

    batches: int = 0
    writes: int = 0
    failed: int = 0
    largest_batch: int = 0
    #: Seconds spent running and committing batches, summed over the lanes.
    busy_seconds: float = 0.0


@dataclass(slots=True)
class Op:
    """One caller's write: what to do, with what, and the future its caller awaits."""

    kind: str
    game_id: str
    params: tuple[Any, ...]
    future: asyncio.Future[Any]


Result = tuple[Any, BaseException | None]


class _Lane:
    __slots__ = ("pending", "task", "wake")

    def __init__(self) -> None:
        self.pending: list[Op] = []
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None


class Writer:
    """Runs submitted writes in batches over ``pool``, ``lanes`` batches at a time at most."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        lanes: int,
        max_batch: int,
        stats: WriteStats,
        fence: Fence | None = None,
    ) -> None:
        self._pool = pool
        self._lanes = [_Lane() for _ in range(lanes)]
        self._max_batch = max_batch
        self._fence = fence
        self._closing = False
        self.stats = stats

    def start(self) -> None:
        """Start one task per lane; :meth:`stop` waits for them."""
        for n, lane in enumerate(self._lanes):
            lane.task = asyncio.create_task(self._serve(lane), name=f"postgresql-lane-{n}")

    def submit(self, op: Op) -> None:
        """Queue a write on its game's lane (called on the event loop)."""
        # crc32, not hash(): the same game lands in the same lane in every process, which
        # keeps lock order between processes sharing a database the same as within one.
        lane = self._lanes[zlib.crc32(op.game_id.encode()) % len(self._lanes)]
        lane.pending.append(op)
        # The lane wakes after the callbacks already due in this loop iteration have run, so
        # writes submitted together go together.
        lane.wake.set()

    async def stop(self) -> None:
        """Commit everything queued so far, then end the lanes."""
        self._closing = True
        for lane in self._lanes:
            lane.wake.set()
        await asyncio.gather(*(lane.task for lane in self._lanes if lane.task is not None))

    async def _serve(self, lane: _Lane) -> None:
        while True:
            await lane.wake.wait()
            lane.wake.clear()
            while lane.pending:
                batch = lane.pending[: self._max_batch]
                del lane.pending[: self._max_batch]
                await self._run(batch)
            if self._closing:
                return

    async def _run(self, ops: list[Op]) -> None:
        started = time.perf_counter()
        try:
            async with self._pool.acquire() as conn:
                results = await _commit(conn, ops, self._fence)
        except Exception as exc:  # no connection to be had, or it broke: nothing was committed
            results = [(None, exc)] * len(ops)
        stats = self.stats
        stats.busy_seconds += time.perf_counter() - started
        stats.batches += 1
        stats.writes += len(ops)
        stats.failed += sum(1 for _, exc in results if exc is not None)
        stats.largest_batch = max(stats.largest_batch, len(ops))
        _resolve(ops, results)


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
                results.append((None, _Refused()))
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


class _Refused(Exception):
    def __str__(self) -> str:
        return "refused by the fence"


def _merge(ops: list[Op], refused: set[str], values: list[Any]) -> list[Result]:
    run = iter(values)
    return [(None, _Refused()) if op.game_id in refused else (next(run), None) for op in ops]


def _resolve(ops: list[Op], results: list[Result]) -> None:
    """Wake every caller of a finished batch with its value or its error."""
    for op, (value, exc) in zip(ops, results, strict=True):
        if op.future.done():
            continue  # the caller was cancelled; its write may still have been committed
        if exc is None:
            op.future.set_result(value)
        else:
            error = StorageError(
                f"postgresql: {_WHAT[op.kind]} of game {op.game_id!r} failed: {exc}",
                op.game_id,
            )
            error.__cause__ = exc
            op.future.set_exception(error)
