"""The SQLite writer: hands batches of queued writes to the writer process, in order.

Only :class:`storage.adapters.sqlite.SQLiteAdapter` uses this. The process
(:mod:`storage.adapters.sqlite_process`) owns the only writing connection. The event loop talks
to it through two pipes. The writes of a turn of the loop (the adapter gathers them) go out as
one batch at the end of that turn, whether or not the process is busy; the process runs the
batches that arrived while it committed together (up to ``max_batch`` writes), in one
transaction, in the order sent: a group commit that needs nothing of the loop (a busy loop may
take milliseconds to read an answer and send more; the process does not wait for it). The
commits themselves are the window; the one wait is the process's: with nothing but decisions
arrived, it waits up to ``commit_delay`` for more (the round they close) before it commits. Each
answer wakes the loop, which resolves every caller of its batch. No thread of this process
touches SQLite, so nothing takes the GIL from the event loop while a batch commits.

The schema is checked and migrated in a worker thread, before the process starts. If the process
dies, the writes of the batches it was sent and had not answered fail (they may or may not have
been committed), and the next batch starts a new process.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Sequence
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

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
#: Bytes of the pipe that carries batches to the process (Linux's largest by default).
_PIPE_SIZE = 1 << 20
#: Batches sent to the process and not answered yet, at most; more wait in the queue.
IN_FLIGHT = 64


class Writer:
    """Sends batches to the writer process and resolves their callers; see the module
    docstring."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        prepare: Callable[[], None],
        settings: Sequence[str],
        max_batch: int,
        stats: WriteStats,
    ) -> None:
        """``prepare`` checks and migrates the schema (in a worker thread, before the process
        starts); ``settings`` are the process's arguments (see :mod:`sqlite_process`)."""
        self._loop = loop
        self._prepare = prepare
        self._settings = list(settings)
        self._max_batch = max_batch
        self.stats = stats
        self._queued: deque[Op] = deque()
        self._sent: deque[list[Op]] = deque()  # batches sent and not answered, oldest first
        self._process: _Process | None = None
        self._starting: asyncio.Task[None] | None = None
        self._idle: asyncio.Future[None] | None = None  # what stop() waits for

    async def start(self) -> None:
        """Migrate, then start the process; returns once its connection is open (or raises)."""
        await asyncio.to_thread(self._prepare)
        self._process = await _Process.start(self._loop, self._settings, self._answered)

    def submit(self, batch: list[Op]) -> None:
        """Send writes to the process (the adapter gathers a turn of the loop's into one)."""
        self._queued.extend(batch)
        self._send()

    async def stop(self) -> None:
        """Commit everything queued so far, then end the process."""
        if self._sent or self._queued or self._starting is not None:
            self._idle = self._loop.create_future()
            await self._idle
        process, self._process = self._process, None
        if process is not None:
            await process.stop()

    @property
    def pid(self) -> int | None:
        """The writer process's id, while it runs."""
        return self._process.pid if self._process is not None else None

    def _send(self) -> None:
        """What is queued to the process, in batches of at most ``max_batch`` writes while
        fewer than :data:`IN_FLIGHT` are out (and a new process if there is none)."""
        queued, sent = self._queued, self._sent
        while queued and len(sent) < IN_FLIGHT:
            process = self._process
            if process is None or not process.running:
                if self._starting is None and not sent:
                    self._starting = self._loop.create_task(self._restart())
                return
            size = min(self._max_batch, len(queued))
            batch = [queued.popleft() for _ in range(size)]
            sent.append(batch)
            process.send([(op.kind, op.params) for op in batch])

    def _answered(self, answer: sqlite_process.Answer | StorageError) -> None:
        """The process's answer to the oldest batch it was sent; or why none will come (it
        ended): then every batch it was sent fails."""
        if isinstance(answer, StorageError):
            batches, self._sent = list(self._sent), deque()
            for ops in batches:
                failed: list[Result] = [(None, answer)] * len(ops)
                self._count(ops, failed, 0.0, len(ops))
                resolve(ops, failed, _error)
        elif self._sent:
            ops = self._sent.popleft()
            outcomes, seconds, size = answer
            results: list[Result] = [(value, _refusal(error)) for value, error in outcomes]
            self._count(ops, results, seconds, size)
            resolve(ops, results, _error)
        self._send()
        self._check_idle()

    async def _restart(self) -> None:
        """A new process after the last one died; if it cannot start, what is queued fails."""
        try:
            self._process = await _Process.start(self._loop, self._settings, self._answered)
        except StorageError as exc:
            ops = list(self._queued)
            self._queued.clear()
            results: list[Result] = [(None, exc)] * len(ops)
            self._count(ops, results, 0.0, len(ops))
            resolve(ops, results, _error)
        finally:
            self._starting = None
        self._send()
        self._check_idle()

    def _count(self, ops: list[Op], results: list[Result], seconds: float, size: int) -> None:
        """Count a batch's writes; ``size``: the writes of the transaction it began (0: it
        shared the transaction of the batch before it, counted there)."""
        stats = self.stats
        stats.writes += len(ops)
        stats.failed += sum(1 for _, exc in results if exc is not None)
        if size:
            stats.busy_seconds += seconds
            stats.batches += 1
            stats.largest_batch = max(stats.largest_batch, size)

    def _check_idle(self) -> None:
        idle = self._idle
        if idle is not None and not self._sent and not self._queued and self._starting is None:
            self._idle = None
            if not idle.done():
                idle.set_result(None)


Answer = Callable[[sqlite_process.Answer | StorageError], None]


class _Process(asyncio.Protocol):
    """The writer process: a batch out on its input, its answer back on its output."""

    def __init__(self, popen: subprocess.Popen[bytes], answer: Answer) -> None:
        self._popen = popen
        self.pid = popen.pid
        self._answer = answer
        self._buffer = bytearray()
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._input: asyncio.WriteTransport | None = None
        self._output: asyncio.ReadTransport | None = None
        #: Whether it can take a batch: started, and its output still open.
        self.running = False

    @classmethod
    async def start(
        cls, loop: asyncio.AbstractEventLoop, settings: Sequence[str], answer: Answer
    ) -> _Process:
        """Start it; returns once its connection is open (else raises StorageError)."""
        # -I -S: no site packages, no PYTHON* variables; it needs the standard library alone.
        command = [sys.executable, "-I", "-S", sqlite_process.__file__, *settings]
        try:
            # Not asyncio's subprocess API: its child watcher is a thread per process; the pipes
            # are all this needs of the loop, and fork and exec take about a millisecond.
            popen = subprocess.Popen(  # noqa: ASYNC220
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
        except OSError as exc:
            raise StorageError(f"sqlite: the writer process could not start: {exc}") from exc
        _widen(popen.stdin)
        process = cls(popen, answer)
        try:
            process._output, _ = await loop.connect_read_pipe(lambda: process, popen.stdout)
            process._input, _ = await loop.connect_write_pipe(asyncio.Protocol, popen.stdin)
            await process._ready
        except BaseException:
            await process.kill()
            raise
        process.running = True
        return process

    def send(self, writes: list[sqlite_process.Write]) -> None:
        """Send a batch; its answer goes to ``answer``."""
        assert self._input is not None  # started
        for part in sqlite_process.frame(writes):
            self._input.write(part)

    async def stop(self) -> None:
        """Close its input: it exits, having committed everything it was sent."""
        self.running = False
        if self._input is not None:
            self._input.close()
        try:
            await asyncio.wait_for(asyncio.to_thread(self._popen.wait), _EXIT_TIMEOUT)
        except TimeoutError:
            await self.kill()

    async def kill(self) -> None:
        self.running = False
        with contextlib.suppress(OSError):
            self._popen.kill()
        await asyncio.to_thread(self._popen.wait)
        for transport in (self._input, self._output):
            if transport is not None:
                transport.close()

    # -- asyncio.Protocol, on its output

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        for value in sqlite_process.frames(buffer):
            if not self._ready.done():  # the first frame: None, or why it could not open
                if value is None:
                    self._ready.set_result(None)
                else:
                    message = f"sqlite: the writer process could not open the database: {value}"
                    self._ready.set_exception(StorageError(message))
            else:
                self._answer(value)

    def connection_lost(self, exc: Exception | None) -> None:
        was_running, self.running = self.running, False
        code = self._popen.poll()
        if not self._ready.done():
            self._ready.set_exception(
                StorageError(f"sqlite: the writer process could not start (exit code {code})")
            )
        elif was_running:
            self._answer(
                StorageError(
                    f"sqlite: the writer process ended (exit code {code}); the batch it held may"
                    " not have been committed"
                )
            )
            self._reap()

    def _reap(self) -> None:
        # Wait for it in a thread, so that it does not stay a zombie.
        asyncio.get_running_loop().run_in_executor(None, self._popen.wait)


def _widen(pipe: IO[bytes] | None) -> None:
    """Give the pipe to the process a buffer of a megabyte where the system allows (Linux;
    64 KB by default): a batch then goes into it at once, rather than into a buffer of the
    event loop's transport, copied, and out again a piece at a time."""
    setting = getattr(fcntl, "F_SETPIPE_SZ", None)  # None without fcntl, or off Linux
    if pipe is None or setting is None:
        return
    with contextlib.suppress(OSError):  # above /proc/sys/fs/pipe-max-size: the default stays
        fcntl.fcntl(pipe.fileno(), setting, _PIPE_SIZE)


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


def _error(op: Op, exc: BaseException) -> Exception:
    """What a caller gets when its write failed."""
    if isinstance(exc, StorageError):  # the process is gone: its message says so
        return StorageError(f"{exc} (game {op.game_id!r})", op.game_id or None)
    what = _WHAT.get(op.kind, op.kind)
    return StorageError(f"sqlite: {what} of game {op.game_id!r} failed: {exc}", op.game_id or None)
