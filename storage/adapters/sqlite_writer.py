"""The SQLite writer thread: hands batches of queued writes to the writer process, one at a time.

Only :class:`storage.adapters.sqlite.SQLiteAdapter` uses this. A batch is everything queued
when the thread comes round; while the process commits it, the next batch gathers. Nothing waits
on a timer: the commit itself is the window, so one game writing alone pays one fsync and no
added latency. The process (:mod:`storage.adapters.sqlite_process`) owns the only writing
connection and runs each batch in one transaction; this thread sends it the batch and waits for
the outcomes on a pipe, without the GIL, and so takes it from the event loop twice a batch
rather than at every row.

The schema is checked and migrated on this thread, before the process starts. If the process
dies, the writes of the batch it held fail (they may or may not have been committed), and the
next batch starts a new process.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import IO, Any, cast

from storage.adapters import sqlite_process
from storage.adapters.batching import Op, Result, WriteStats, resolve
from storage.errors import StorageError

_WHAT = {
    "snapshot": "saving the snapshot",
    "decision": "saving a decision",
    "round": "appending a round",
    "advance": "appending a round",
    "delete": "deleting",
    "pragma": "reading a pragma",
}
#: Seconds the process has to exit once its input is closed (it has nothing left to commit).
_EXIT_TIMEOUT = 10.0


class Writer:
    """The thread that feeds the writer process; see the module docstring."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        prepare: Callable[[], None],
        settings: Sequence[str],
        max_batch: int,
        stats: WriteStats,
    ) -> None:
        """``prepare`` checks and migrates the schema (on the thread, before the process
        starts); ``settings`` are the process's arguments (see :mod:`sqlite_process`)."""
        self._loop = loop
        self._prepare = prepare
        self._settings = list(settings)
        self._max_batch = max_batch
        self.stats = stats
        # SimpleQueue: a C-level put that never blocks the event loop.
        self._queue: queue.SimpleQueue[list[Op] | None] = queue.SimpleQueue()
        self._started: asyncio.Future[None] = loop.create_future()
        self._stopped: asyncio.Future[None] = loop.create_future()
        self._process: _Process | None = None

    async def start(self) -> None:
        """Start the thread and the process; returns once the connection is open and migrated
        (or raises)."""
        # A daemon thread, so a process that never calls close() can still exit; writes whose
        # await returned are committed either way (and the writer process exits with it).
        threading.Thread(target=self._main, name="sqlite-writer", daemon=True).start()
        await self._started

    def submit(self, batch: list[Op]) -> None:
        """Queue writes for the next transaction (called on the event loop)."""
        self._queue.put(batch)

    async def stop(self) -> None:
        """Commit everything queued so far, then end the thread and the process."""
        self._queue.put(None)
        await self._stopped

    @property
    def pid(self) -> int | None:
        """The writer process's id, while it runs."""
        process = self._process
        return process.pid if process is not None else None

    # -- on the writer thread

    def _call(self, callback: Callable[..., None], *args: Any) -> None:
        # A closed loop has nobody left waiting.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)

    def _main(self) -> None:
        try:
            self._prepare()
            self._process = _Process.start(self._settings)
        except BaseException as exc:
            self._call(_settle, self._started, exc)
            self._call(_settle, self._stopped, None)
            return
        self._call(_settle, self._started, None)
        try:
            self._serve()
        finally:
            if self._process is not None:
                self._process.stop()
                self._process = None
            self._call(_settle, self._stopped, None)

    def _serve(self) -> None:
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
                self._run(ops[start : start + self._max_batch])

    def _run(self, ops: list[Op]) -> None:
        results, seconds = self._commit(ops)
        stats = self.stats
        stats.busy_seconds += seconds
        stats.batches += 1
        stats.writes += len(ops)
        stats.failed += sum(1 for _, exc in results if exc is not None)
        stats.largest_batch = max(stats.largest_batch, len(ops))
        self._call(resolve, ops, results, _error)

    def _commit(self, ops: list[Op]) -> tuple[list[Result], float]:
        """The batch's outcomes from the process, and the seconds it took there; if the
        process is gone, every write fails and the next batch starts a new one."""
        try:
            if self._process is None:
                self._process = _Process.start(self._settings)
            outcomes, seconds = self._process.commit([(op.kind, op.params) for op in ops])
        except StorageError as exc:
            if self._process is not None:
                self._process.kill()
                self._process = None
            return [(None, exc)] * len(ops), 0.0
        return [(value, _refusal(error)) for value, error in outcomes], seconds


class _Process:
    """The writer process, and the pipes to it."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid
        self._in = cast(IO[bytes], popen.stdin)
        self._out = cast(IO[bytes], popen.stdout)

    @classmethod
    def start(cls, settings: Sequence[str]) -> _Process:
        """Start it; returns once its connection is open (else raises StorageError)."""
        # -I -S: no site packages, no PYTHON* variables; it needs the standard library alone.
        command = [sys.executable, "-I", "-S", sqlite_process.__file__, *settings]
        try:
            popen = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError as exc:
            raise StorageError(f"sqlite: the writer process could not start: {exc}") from exc
        process = cls(popen)
        try:
            failure = sqlite_process.read_frame(process._out)
        except EOFError:
            failure = f"it exited with code {process._ended()}"
        if failure is not None:
            process.kill()
            raise StorageError(f"sqlite: the writer process could not open the database: {failure}")
        return process

    def commit(
        self, writes: list[sqlite_process.Write]
    ) -> tuple[list[sqlite_process.Outcome], float]:
        """Run ``writes`` in one transaction of the process."""
        try:
            sqlite_process.write_frame(self._in, writes)
            result: tuple[list[sqlite_process.Outcome], float] = sqlite_process.read_frame(
                self._out
            )
        except (EOFError, OSError):
            raise StorageError(
                f"sqlite: the writer process ended (exit code {self._ended()}); the batch may not"
                " have been committed"
            ) from None
        return result

    def stop(self) -> None:
        """Close its input: it exits, having committed everything it was sent."""
        with contextlib.suppress(OSError):
            self._in.close()
        try:
            self._popen.wait(_EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
        self._out.close()

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self._popen.kill()
        self._popen.wait()
        for pipe in (self._in, self._out):
            with contextlib.suppress(OSError):
                pipe.close()

    def _ended(self) -> int | None:
        try:
            return self._popen.wait(1.0)
        except subprocess.TimeoutExpired:
            return None


class WriteRefused(Exception):
    """A write the writer process refused with an exception other than an ``sqlite3`` error
    (which comes back as the ``sqlite3`` class of its name); the message is that exception's."""


def _refusal(error: tuple[str, str] | None) -> BaseException | None:
    if error is None:
        return None
    name, message = error
    found = getattr(sqlite3, name, None)
    if isinstance(found, type) and issubclass(found, sqlite3.Error):
        return found(message)
    return WriteRefused(message)


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if not future.done():
        if exc is None:
            future.set_result(None)
        else:
            future.set_exception(exc)


def _error(op: Op, exc: BaseException) -> Exception:
    """What a caller gets when its write failed."""
    if isinstance(exc, StorageError):  # the process is gone: its message says so
        return StorageError(f"{exc} (game {op.game_id!r})", op.game_id or None)
    what = _WHAT.get(op.kind, op.kind)
    return StorageError(f"sqlite: {what} of game {op.game_id!r} failed: {exc}", op.game_id or None)
