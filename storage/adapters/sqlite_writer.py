"""The SQLite writer thread: one connection, one transaction per batch of queued writes.

Only :class:`storage.adapters.sqlite.SQLiteAdapter` uses this. A batch is everything queued
when the thread comes round; while it commits, the next batch gathers. Nothing waits on a timer:
the commit itself is the window, so one game writing alone pays one fsync and no added latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from storage.adapters.batching import Op, Result, WriteStats, resolve
from storage.errors import StorageError

UPSERT_SNAPSHOT = """
    INSERT INTO games (game_id, kind, status, in_progress, round, schema_version, created_at,
                       updated_at, payload, grp, summary)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (game_id) DO UPDATE SET
        kind = excluded.kind, status = excluded.status, in_progress = excluded.in_progress,
        round = excluded.round, schema_version = excluded.schema_version,
        created_at = excluded.created_at, updated_at = excluded.updated_at,
        payload = excluded.payload, grp = excluded.grp, summary = excluded.summary"""
UPSERT_DECISION = """
    INSERT INTO decisions (game_id, round, seat, schema_version, created_at, payload)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (game_id, round, seat) DO UPDATE SET
        schema_version = excluded.schema_version, created_at = excluded.created_at,
        payload = excluded.payload"""
UPSERT_ROUND = """
    INSERT INTO rounds (game_id, round, schema_version, created_at, payload)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (game_id, round) DO UPDATE SET
        schema_version = excluded.schema_version, created_at = excluded.created_at,
        payload = excluded.payload"""

# The game row's columns a round brings up to date when its payload is kept (advance_round).
UPDATE_COLUMNS = """
    UPDATE games SET status = ?, in_progress = ?, round = ?, updated_at = ?, summary = ?
    WHERE game_id = ?"""

_WHAT = {
    "snapshot": "saving the snapshot",
    "decision": "saving a decision",
    "round": "appending a round",
    "advance": "appending a round",
    "delete": "deleting",
    "pragma": "reading a pragma",
}


class Writer:
    """Owns the writing connection on its own thread; see the module docstring."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        connect: Callable[[], sqlite3.Connection],
        max_batch: int,
        stats: WriteStats,
    ) -> None:
        self._loop = loop
        self._connect = connect
        self._max_batch = max_batch
        self.stats = stats
        # SimpleQueue: a C-level put that never blocks the event loop.
        self._queue: queue.SimpleQueue[list[Op] | None] = queue.SimpleQueue()
        self._started: asyncio.Future[None] = loop.create_future()
        self._stopped: asyncio.Future[None] = loop.create_future()

    async def start(self) -> None:
        """Start the thread; returns once the connection is open and migrated (or raises)."""
        # A daemon thread, so a process that never calls close() can still exit; writes whose
        # await returned are committed either way.
        threading.Thread(target=self._main, name="sqlite-writer", daemon=True).start()
        await self._started

    def submit(self, batch: list[Op]) -> None:
        """Queue writes for the next transaction (called on the event loop)."""
        self._queue.put(batch)

    async def stop(self) -> None:
        """Commit everything queued so far, then end the thread."""
        self._queue.put(None)
        await self._stopped

    # -- on the writer thread

    def _call(self, callback: Callable[..., None], *args: Any) -> None:
        # A closed loop has nobody left waiting.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)

    def _main(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:
            self._call(_settle, self._started, exc)
            self._call(_settle, self._stopped, None)
            return
        self._call(_settle, self._started, None)
        try:
            self._serve(conn)
        finally:
            conn.close()
            self._call(_settle, self._stopped, None)

    def _serve(self, conn: sqlite3.Connection) -> None:
        stopping = False
        while not stopping:  # ends at the sentinel that stop() queues
            item = self._queue.get()
            ops: list[Op] = []
            if item is None:
                stopping = True
            else:
                ops.extend(item)
            while len(ops) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                else:
                    ops.extend(item)
            # One list from the event loop can hold more than max_batch writes: split it.
            for start in range(0, len(ops), self._max_batch):
                self._run(conn, ops[start : start + self._max_batch])

    def _run(self, conn: sqlite3.Connection, ops: list[Op]) -> None:
        started = time.perf_counter()
        results = _commit(conn, ops)
        stats = self.stats
        stats.busy_seconds += time.perf_counter() - started
        stats.batches += 1
        stats.writes += len(ops)
        stats.failed += sum(1 for _, exc in results if exc is not None)
        stats.largest_batch = max(stats.largest_batch, len(ops))
        self._call(resolve, ops, results, _error)


def _commit(conn: sqlite3.Connection, ops: list[Op]) -> list[Result]:
    """Run ``ops`` in one transaction; if one fails, redo the batch so only that one fails."""
    try:
        return [(value, None) for value in _run_batch(conn, ops)]
    except Exception:
        _rollback(conn)
    try:
        return _run_isolated(conn, ops)
    except Exception as exc:
        _rollback(conn)
        return [(None, exc)] * len(ops)


def _run_batch(conn: sqlite3.Connection, ops: list[Op]) -> list[Any]:
    # The fast path: runs of the same kind go to executemany, which binds rows in C.
    conn.execute("BEGIN IMMEDIATE")
    values: list[Any] = []
    i, n = 0, len(ops)
    while i < n:
        kind = ops[i].kind
        if kind not in ("snapshot", "decision", "round", "advance"):
            values.append(_apply(conn, ops[i]))
            i += 1
            continue
        j = i + 1
        while j < n and ops[j].kind == kind:
            j += 1
        group = ops[i:j]
        if kind == "snapshot":
            conn.executemany(UPSERT_SNAPSHOT, [op.params for op in group])
        elif kind == "decision":
            conn.executemany(UPSERT_DECISION, [op.params for op in group])
        elif kind == "advance":
            conn.executemany(UPSERT_ROUND, [op.params[0] for op in group])
            before = conn.total_changes
            conn.executemany(UPDATE_COLUMNS, [op.params[1] for op in group])
            if conn.total_changes - before != len(group):  # a game without its row
                raise _NoSnapshot  # the slow path finds which, and fails that one alone
        else:
            # All rounds of the run, then all snapshots: different tables, and each table
            # still sees its rows in submission order, so the last snapshot wins as it should.
            conn.executemany(UPSERT_ROUND, [op.params[0] for op in group])
            conn.executemany(UPSERT_SNAPSHOT, [op.params[1] for op in group])
        values.extend([None] * (j - i))
        i = j
    conn.execute("COMMIT")
    return values


def _run_isolated(conn: sqlite3.Connection, ops: list[Op]) -> list[Result]:
    # The slow path after a failure: a savepoint per write, so a bad write rolls back alone.
    conn.execute("BEGIN IMMEDIATE")
    results: list[Result] = []
    for op in ops:
        conn.execute("SAVEPOINT write")
        try:
            value = _apply(conn, op)
        except Exception as exc:
            if not conn.in_transaction:
                raise  # SQLite ended the whole transaction (disk full, I/O error)
            conn.execute("ROLLBACK TO write")
            conn.execute("RELEASE write")
            results.append((None, exc))
        else:
            conn.execute("RELEASE write")
            results.append((value, None))
    conn.execute("COMMIT")
    return results


def _apply(conn: sqlite3.Connection, op: Op) -> Any:
    if op.kind == "snapshot":
        conn.execute(UPSERT_SNAPSHOT, op.params)
    elif op.kind == "decision":
        conn.execute(UPSERT_DECISION, op.params)
    elif op.kind == "round":
        conn.execute(UPSERT_ROUND, op.params[0])
        conn.execute(UPSERT_SNAPSHOT, op.params[1])
    elif op.kind == "advance":
        conn.execute(UPSERT_ROUND, op.params[0])
        if conn.execute(UPDATE_COLUMNS, op.params[1]).rowcount != 1:
            raise _NoSnapshot("the game has no snapshot to advance")
    elif op.kind == "delete":
        removed = 0
        for table in ("games", "decisions", "rounds"):
            removed += conn.execute(f"DELETE FROM {table} WHERE game_id = ?", op.params).rowcount
        return removed > 0
    elif op.kind == "pragma":
        return conn.execute(f"PRAGMA {op.params[0]}").fetchone()[0]
    else:
        raise ValueError(f"unknown write kind {op.kind!r}")
    return None


class _NoSnapshot(Exception):
    """A round advanced a game that has no row (see StorageAdapter.advance_round)."""


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        # It may have been rolled back by SQLite itself already.
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if not future.done():
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)


def _error(op: Op, exc: BaseException) -> Exception:
    """What a caller gets when its write failed."""
    what = _WHAT.get(op.kind, op.kind)
    return StorageError(f"sqlite: {what} of game {op.game_id!r} failed: {exc}", op.game_id or None)
