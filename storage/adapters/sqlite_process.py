"""The SQLite writer process: owns the only writing connection, commits the batches it is sent.

The SQLite adapter's writer (:mod:`storage.adapters.sqlite_writer`) starts this module as a
process of its own (``python -I -S sqlite_process.py PATH SYNCHRONOUS AUTOCHECKPOINT
BUSY_TIMEOUT [MAX_BATCH [COMMIT_DELAY]]``) and sends it batches over its standard input. Why a
process and not a thread of the server: the ``sqlite3`` module takes Python's GIL back after
every row it steps, and a thread doing that hundreds of times a commit keeps taking the GIL from
the event loop (measured: 10-20 us of the loop's CPU per decision, a third of it in futex
calls). A process has its own GIL, and the event loop talks to it through pipes, one message
each way per batch.

It runs on the standard library only (no ``storage`` import, no site packages: it starts in
tens of milliseconds) and speaks in frames, each a 4-byte big-endian length and a pickle:

- out, once at start: ``None`` when the connection is open, else the line that says why not;
- in: a batch, a list of ``(kind, params)`` writes (:func:`commit`);
- out, per batch and in the order they came: ``(results, seconds, size)``, a ``(value, error)``
  per write, ``error`` being None or ``(exception class name, message)``; for the first batch
  of a transaction the seconds it took and its number of writes, for a batch that shared the
  transaction of the one before it ``0.0`` and ``0``.

The batches that arrived while it committed are run together, in one transaction (one fsync),
up to ``MAX_BATCH`` writes (a batch is never split; no limit without it): a group commit that
needs nothing of the server, which sends a batch as soon as it has one. When all that has
arrived is decisions, it first waits up to ``COMMIT_DELAY`` seconds (0 without it) for more,
and commits at once when anything else comes: a game's first decision of a round is then
committed with the round the next decisions close, in one fsync, instead of the round's commit
waiting behind the decision's (the event loop cannot wait less than a millisecond; this
process waits with ``select``, to the microsecond).

At the end of its input it closes the connection and exits. It ignores SIGINT and SIGTERM, which
a terminal or a service manager sends to the whole process group: the server stops it by closing
its input once the last batch is committed. If the server dies (even by SIGKILL), the pipe
closes, and a transaction it had begun is rolled back unless it was already committing: before
``COMMIT`` the process checks its parent is still the one that started it. A server started
after the crash takes the write lock before it reads anything (its schema check), so it never
reads around a commit of the dead server's still in flight.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import sqlite3
import struct
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

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

#: One write: its kind and its parameters.
Write = tuple[str, Any]
#: One write's outcome: its value, or the class name and message of what refused it.
Outcome = tuple[Any, tuple[str, str] | None]
#: The answer to one batch: its writes' outcomes, and its transaction's seconds and writes (0.0
#: and 0 for a batch that shared the transaction of the batch before it).
Answer = tuple[list[Outcome], float, int]

_LENGTH = struct.Struct(">I")


class Orphaned(Exception):
    """The server that started this process is gone: nothing more may be committed."""


def connect(
    path: str, synchronous: str, autocheckpoint: int, busy_timeout: float
) -> sqlite3.Connection:
    """The writing connection, with the adapter's settings (SQLite keeps them per connection)."""
    # isolation_level=None: no implicit transactions; commit() says BEGIN and COMMIT itself.
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=busy_timeout
    )
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    # A checkpoint runs inside the commit that crosses the threshold and fsyncs the database
    # file; at SQLite's default (1,000 pages) 250 games writing at once pay one every few
    # commits. 4,000 pages (16 MB of WAL) measured about 15% more writes/s.
    conn.execute(f"PRAGMA wal_autocheckpoint = {int(autocheckpoint)}")
    if synchronous.upper() != "OFF":
        prefill_wal(conn, path, autocheckpoint)
    return conn


#: Bytes of a WAL file's header, and of each frame's header before its page (SQLite's format).
_WAL_HEADER, _FRAME_HEADER = 32, 24
_ZEROS = bytes(1 << 20)


def prefill_wal(conn: sqlite3.Connection, path: str, pages: int) -> int:
    """Make the WAL file as long as the frames of ``pages`` pages, with zeros after what it
    holds; the bytes added (0 when it is that long already, or the disk has no room for them).

    SQLite appends a commit's frames to the WAL until a checkpoint lets it start again from the
    top, and the fsync of a commit that makes the file longer also commits the file's new size
    and blocks to the file system's journal: 190-250 us on this project's ext4 machine, against
    135-150 us for the same pages written inside the file. A new WAL (SQLite removes it at each
    clean stop) would be written inside only once it had grown to ``pages`` pages; filled with
    zeros here, before the first commit, every commit is written inside it (PostgreSQL's
    ``wal_init_zero`` does the same to its new WAL segments). The zeros are never taken for
    frames: a frame counts only with the salt of the WAL's header and a valid checksum, so a
    recovery stops at the first zero as it stops at frames left from before a checkpoint. Only
    bytes past the file's end are written, before this connection commits anything, by the
    database's only writer: no frame is ever overwritten. A disk without room for them gets its
    space back, and SQLite appends as it would have."""
    conn.execute("BEGIN IMMEDIATE")  # the write lock: the WAL file exists, and nobody writes it
    try:
        page_size: int = conn.execute("PRAGMA page_size").fetchone()[0]
        target = _WAL_HEADER + int(pages) * (_FRAME_HEADER + page_size)
        with open(f"{path}-wal", "r+b", buffering=0) as file:
            original = size = file.seek(0, os.SEEK_END)
            if size >= target:
                return 0
            try:
                while size < target:
                    size += file.write(_ZEROS[: target - size])
                os.fsync(file.fileno())  # the size and blocks on disk now, not in a commit's fsync
            except OSError:  # no room (or a file size limit): as SQLite would have had it
                with contextlib.suppress(OSError):
                    file.truncate(original)
                return 0
            return target - original
    finally:
        conn.execute("ROLLBACK")


def commit(
    conn: sqlite3.Connection, writes: Sequence[Write], parent: int | None = None
) -> list[Outcome]:
    """Run ``writes`` in one transaction; if one fails, redo the batch so only that one fails.
    ``parent``: the pid the transaction's commit requires as this process's parent (raises
    :class:`Orphaned`, nothing committed, once it is not)."""
    try:
        return [(value, None) for value in _run_batch(conn, writes, parent)]
    except Orphaned:
        _rollback(conn)
        raise
    except Exception:
        _rollback(conn)
    try:
        return _run_isolated(conn, writes, parent)
    except Orphaned:
        _rollback(conn)
        raise
    except Exception as exc:
        _rollback(conn)
        return [(None, _named(exc))] * len(writes)


def _run_batch(conn: sqlite3.Connection, writes: Sequence[Write], parent: int | None) -> list[Any]:
    # The fast path: runs of the same kind go to executemany, which binds rows in C.
    conn.execute("BEGIN IMMEDIATE")
    values: list[Any] = []
    i, n = 0, len(writes)
    while i < n:
        kind = writes[i][0]
        if kind not in ("snapshot", "decision", "round", "advance"):
            values.append(_apply(conn, writes[i]))
            i += 1
            continue
        j = i + 1
        while j < n and writes[j][0] == kind:
            j += 1
        group = writes[i:j]
        if kind == "snapshot":
            conn.executemany(UPSERT_SNAPSHOT, [params for _, params in group])
        elif kind == "decision":
            conn.executemany(UPSERT_DECISION, [params for _, params in group])
        elif kind == "advance":
            conn.executemany(UPSERT_ROUND, [params[0] for _, params in group])
            before = conn.total_changes
            conn.executemany(UPDATE_COLUMNS, [params[1] for _, params in group])
            if conn.total_changes - before != len(group):  # a game without its row
                raise _NoSnapshot  # the slow path finds which, and fails that one alone
        else:
            # All rounds of the run, then all snapshots: different tables, and each table
            # still sees its rows in submission order, so the last snapshot wins as it should.
            conn.executemany(UPSERT_ROUND, [params[0] for _, params in group])
            conn.executemany(UPSERT_SNAPSHOT, [params[1] for _, params in group])
        values.extend([None] * (j - i))
        i = j
    _check_parent(parent)
    conn.execute("COMMIT")
    return values


def _run_isolated(
    conn: sqlite3.Connection, writes: Sequence[Write], parent: int | None
) -> list[Outcome]:
    # The slow path after a failure: a savepoint per write, so a bad write rolls back alone.
    conn.execute("BEGIN IMMEDIATE")
    results: list[Outcome] = []
    for write in writes:
        conn.execute("SAVEPOINT write")
        try:
            value = _apply(conn, write)
        except Exception as exc:
            if not conn.in_transaction:
                raise  # SQLite ended the whole transaction (disk full, I/O error)
            conn.execute("ROLLBACK TO write")
            conn.execute("RELEASE write")
            results.append((None, _named(exc)))
        else:
            conn.execute("RELEASE write")
            results.append((value, None))
    _check_parent(parent)
    conn.execute("COMMIT")
    return results


def _apply(conn: sqlite3.Connection, write: Write) -> Any:
    kind, params = write
    if kind == "snapshot":
        conn.execute(UPSERT_SNAPSHOT, params)
    elif kind == "decision":
        conn.execute(UPSERT_DECISION, params)
    elif kind == "round":
        conn.execute(UPSERT_ROUND, params[0])
        conn.execute(UPSERT_SNAPSHOT, params[1])
    elif kind == "advance":
        conn.execute(UPSERT_ROUND, params[0])
        if conn.execute(UPDATE_COLUMNS, params[1]).rowcount != 1:
            raise _NoSnapshot("the game has no snapshot to advance")
    elif kind == "delete":
        removed = 0
        for table in ("games", "decisions", "rounds"):
            removed += conn.execute(f"DELETE FROM {table} WHERE game_id = ?", params).rowcount
        return removed > 0
    elif kind == "pragma":
        return conn.execute(f"PRAGMA {params[0]}").fetchone()[0]
    else:
        raise ValueError(f"unknown write kind {kind!r}")
    return None


class _NoSnapshot(Exception):
    """A round advanced a game that has no row (see StorageAdapter.advance_round)."""


def _check_parent(parent: int | None) -> None:
    if parent is not None and os.getppid() != parent:
        raise Orphaned("the server that started the SQLite writer process is gone")


def _named(exc: BaseException) -> tuple[str, str]:
    # By name: this module runs as __main__ in the process, so its own classes do not unpickle.
    return (type(exc).__name__, str(exc))


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        # It may have been rolled back by SQLite itself already.
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


# -- frames, shared with the writer that talks to this process


def frame(value: Any) -> tuple[bytes, ...]:
    """``value`` as one frame: its length and the pickle, joined if small (one write), else
    in two parts (so that a batch of a megabyte is not copied once more to join them)."""
    data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    head = _LENGTH.pack(len(data))
    return (head + data,) if len(data) < _JOIN_BELOW else (head, data)


#: Frames of fewer bytes than this are written in one piece.
_JOIN_BELOW = 1 << 16


def frames(buffer: bytearray) -> Iterator[Any]:
    """The values of the whole frames at the start of ``buffer``, taken out of it."""
    size = _LENGTH.size
    while len(buffer) >= size:
        end = size + _LENGTH.unpack_from(buffer)[0]
        if len(buffer) < end:
            return
        value = pickle.loads(memoryview(buffer)[size:end])
        del buffer[:end]
        yield value


class Batches:
    """The batches arriving on a pipe (a file descriptor), as many at a time as have come."""

    def __init__(self, fd: int, max_writes: int = 0, delay: float = 0.0) -> None:
        self._fd = fd
        self._max_writes = max_writes
        self._delay = delay
        self._buffer = bytearray()
        #: Every read lands here. os.read(fd, 1 MiB) made a new megabyte each time, which
        #: glibc mapped, shrank and unmapped again: three system calls and a page fault a
        #: batch, 12% of this process's CPU in a game alone (perf stat, 500 rounds).
        self._chunk = memoryview(bytearray(_READ_SIZE))
        self._arrived: deque[list[Write]] = deque()
        self._ended = False

    def take(self) -> list[list[Write]]:
        """The batches that have arrived, oldest first and up to ``max_writes`` writes in all
        (at least one batch; 0: no limit), waiting for one if none has, and for up to ``delay``
        seconds more while all of them are decisions; EOFError once the pipe has ended (a frame
        cut short by its end is dropped)."""
        arrived = self._arrived
        while not arrived:
            if self._ended or not self._read():
                raise EOFError("the stream ended")
            arrived.extend(frames(self._buffer))
        # More may be on the way already: what is there now comes too, without waiting.
        self._more(0.0)
        if self._delay and _decisions_only(arrived):
            deadline = time.perf_counter() + self._delay
            while not self._full():
                left = deadline - time.perf_counter()
                came = self._more(left) if left > 0 else []
                if not came or not _decisions_only(came):
                    break
        taken = [arrived.popleft()]
        writes = len(taken[0])
        limit = self._max_writes
        while arrived and (not limit or writes + len(arrived[0]) <= limit):
            writes += len(arrived[0])
            taken.append(arrived.popleft())
        return taken

    def _more(self, wait: float) -> list[list[Write]]:
        """The batches that arrive within ``wait`` seconds, and what follows them without
        waiting (added to those that arrived before)."""
        while not self._ended and select.select([self._fd], [], [], wait)[0]:
            self._read()
            wait = 0.0
        came = list(frames(self._buffer))
        self._arrived.extend(came)
        return came

    def _full(self) -> bool:
        limit = self._max_writes
        return bool(limit) and sum(len(batch) for batch in self._arrived) >= limit

    def _read(self) -> bool:
        count = os.readv(self._fd, (self._chunk,))
        if not count:
            self._ended = True
            return False
        self._buffer += self._chunk[:count]
        return True


def _decisions_only(batches: Iterable[list[Write]]) -> bool:
    return all(kind == "decision" for batch in batches for kind, _ in batch)


#: Bytes read from the pipe at a time (the size the server gives the pipe).
_READ_SIZE = 1 << 20


def _write(out: IO[bytes], *values: Any) -> None:
    for value in values:
        for part in frame(value):
            out.write(part)
    out.flush()


def main(argv: Sequence[str]) -> int:
    """The process: see the module docstring."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
    out = sys.stdout.buffer
    parent = os.getppid()
    try:
        path, synchronous, autocheckpoint, busy_timeout, *rest = argv
        max_batch = int(rest[0]) if rest else 0
        delay = float(rest[1]) if len(rest) > 1 else 0.0
        source = Batches(sys.stdin.fileno(), max_batch, delay)
        conn = connect(path, synchronous, int(autocheckpoint), float(busy_timeout))
    except Exception as exc:
        _write(out, f"{type(exc).__name__}: {exc}")
        return 1
    _write(out, None)
    try:
        while True:
            try:
                batches = source.take()
            except EOFError:
                return 0
            started = time.perf_counter()
            writes = [write for batch in batches for write in batch]
            results = commit(conn, writes, parent)
            seconds = time.perf_counter() - started
            answers, start = [], 0
            for batch in batches:
                end = start + len(batch)
                shared = start > 0  # its transaction is counted with the first batch's
                answers.append(
                    (results[start:end], 0.0 if shared else seconds, 0 if shared else len(writes))
                )
                start = end
            _write(out, *answers)
    except (Orphaned, BrokenPipeError):
        return 1
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
