"""The SQLite writer process: the batches it was holding when it died fail, the next batch starts
a new one, batches that arrive while it commits are committed together, decisions wait for a
round to share its commit, it outlives neither its server nor a signal meant for the server's
group, and it never commits for a server that is gone."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from storage import DecisionRecord, StorageError
from storage.adapters import sqlite_process
from storage.adapters.sqlite import SQLiteAdapter


def decision(game_id: str, round: int = 1, seat: str = "retailer") -> DecisionRecord:
    return DecisionRecord(game_id, round, seat, 1, 1_700_000_000.0, b"{}")


@pytest.fixture
def adapter(sqlite_adapter: SQLiteAdapter) -> SQLiteAdapter:
    return sqlite_adapter


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that exited but was not waited for yet is a zombie: gone for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


async def test_writes_go_through_a_process_of_its_own(adapter: SQLiteAdapter) -> None:
    pid = adapter.writer_pid
    assert pid is not None and pid != os.getpid() and alive(pid)
    await adapter.save_decision(decision("g1"))
    assert len(await adapter.load_decisions("g1", 1)) == 1
    await adapter.close()
    assert adapter.writer_pid is None and wait_gone(pid)


async def test_a_killed_writer_process_fails_its_batch_and_the_next_starts_another(
    adapter: SQLiteAdapter,
) -> None:
    first = adapter.writer_pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    with pytest.raises(StorageError, match=r"writer process ended.*'g1'"):
        await adapter.save_decision(decision("g1"))
    await a_new_process_takes_over(adapter, first, "g2")


async def a_new_process_takes_over(adapter: SQLiteAdapter, dead: int, game_id: str) -> None:
    """The next write starts a new process, with the settings, and is committed."""
    await adapter.save_decision(decision(game_id))
    assert adapter.writer_pid not in (None, dead)
    assert len(await adapter.load_decisions(game_id, 1)) == 1
    assert await adapter.pragma("synchronous") == 2  # FULL: the new one has the settings too


async def test_every_batch_sent_to_a_writer_process_that_dies_fails(
    adapter: SQLiteAdapter,
) -> None:
    # Stopped, it answers nothing: the first save is with it, the second follows it into its
    # pipe (batches do not wait for the one before), and both fail when it is killed.
    pid = adapter.writer_pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        first = asyncio.ensure_future(adapter.save_decision(decision("g1")))
        await asyncio.sleep(0.05)
        second = asyncio.ensure_future(adapter.save_decision(decision("g2")))
        await asyncio.sleep(0.05)
        assert not first.done() and not second.done()
    finally:
        os.kill(pid, signal.SIGKILL)
    for save, game in ((first, "g1"), (second, "g2")):
        with pytest.raises(StorageError, match=rf"writer process ended.*'{game}'"):
            await save
    await a_new_process_takes_over(adapter, pid, "g3")


@pytest.mark.parametrize(
    ("max_batch", "transactions"),
    [
        ((), [4, 0, 0]),  # no limit: the three batches in one transaction of 4 writes
        (("3",), [3, 0, 1]),  # 3 writes at most: the first two together, the third alone
    ],
)
def test_batches_that_arrive_while_one_commits_are_committed_together(
    tmp_path: Path, max_batch: tuple[str, ...], transactions: list[int]
) -> None:
    path = str(tmp_path / "games.db")
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE decisions (game_id, round, seat, schema_version, created_at,"
            " payload, PRIMARY KEY (game_id, round, seat))"
        )
    batches = [
        [("decision", ("g1", 1, "retailer", 1, 1.0, b"{}"))],
        [("decision", ("g2", 1, "retailer", 1, 1.0, b"{}")), ("no such kind", ())],
        [("decision", ("g3", 1, "retailer", 1, 1.0, b"{}"))],
    ]
    sent = b"".join(part for batch in batches for part in sqlite_process.frame(batch))
    settings = [path, "FULL", "1000", "1.0", *max_batch]
    command = [sys.executable, "-I", "-S", sqlite_process.__file__, *settings]
    run = subprocess.run(command, input=sent, capture_output=True, check=True)
    answers = list(sqlite_process.frames(bytearray(run.stdout)))
    assert answers[0] is None  # the connection is open
    # One answer per batch, in order, each with its own writes' outcomes (only the bad write
    # failed); the first batch of each transaction says how many writes it held and how long
    # it took, a batch that shared the one before's says 0.
    assert [[error for _, error in results] for results, _, _ in answers[1:]] == [
        [None],
        [None, ("ValueError", "unknown write kind 'no such kind'")],
        [None],
    ]
    assert [size for _, _, size in answers[1:]] == transactions
    assert [seconds > 0 for _, seconds, _ in answers[1:]] == [n > 0 for n in transactions]
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT game_id FROM decisions ORDER BY game_id").fetchall()
    assert rows == [("g1",), ("g2",), ("g3",)]


def decisions_table(path: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE decisions (game_id, round, seat, schema_version, created_at,"
            " payload, PRIMARY KEY (game_id, round, seat))"
        )


def a_decision(game_id: str) -> sqlite_process.Write:
    return ("decision", (game_id, 1, "retailer", 1, 1.0, b"{}"))


def send_apart(path: str, delay: str, batches: list[list[sqlite_process.Write]]) -> Any:
    """Start a writer process with ``delay``, send it ``batches`` 0.3 s apart, and return its
    answers and the seconds from the first batch to the last answer."""
    command = [sys.executable, "-I", "-S", sqlite_process.__file__, path, "FULL", "1000", "1.0"]
    proc = subprocess.Popen([*command, "0", delay], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    buffer = bytearray(os.read(proc.stdout.fileno(), 1 << 16))
    assert list(sqlite_process.frames(buffer)) == [None]  # open
    started = time.perf_counter()
    for number, batch in enumerate(batches):
        if number:
            time.sleep(0.3)
        for part in sqlite_process.frame(batch):
            proc.stdin.write(part)
        proc.stdin.flush()
    answers: list[Any] = []
    while len(answers) < len(batches):
        buffer += os.read(proc.stdout.fileno(), 1 << 16)
        answers.extend(sqlite_process.frames(buffer))
    seconds = time.perf_counter() - started
    proc.stdin.close()
    assert proc.wait(10) == 0
    return answers, seconds


def test_decisions_wait_for_a_round_and_share_its_commit(tmp_path: Path) -> None:
    """With a commit delay, a batch of decisions waits: the next batch, which is not decisions
    only (a round, here a pragma's read), ends the wait at once and both share one commit."""
    path = str(tmp_path / "games.db")
    decisions_table(path)
    batches = [[a_decision("g1")], [a_decision("g2"), ("pragma", ("synchronous",))]]
    answers, seconds = send_apart(path, "20", batches)
    assert [size for _, _, size in answers] == [3, 0]  # one transaction of three writes
    assert answers[1][0] == [(None, None), (2, None)]
    assert seconds < 10  # not the 20 s a transaction of decisions only may wait


def test_decisions_wait_at_most_the_delay_and_gather_the_decisions_that_follow(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "games.db")
    decisions_table(path)
    answers, seconds = send_apart(path, "1.0", [[a_decision("g1")], [a_decision("g2")]])
    assert [size for _, _, size in answers] == [2, 0]
    assert seconds >= 1.0  # decisions only: the whole delay, from the first one's arrival
    # Without a delay, what arrives alone commits alone (the second comes 0.3 s later).
    answers, _ = send_apart(path, "0", [[a_decision("g3")], [a_decision("g4")]])
    assert [size for _, _, size in answers] == [1, 1]


async def test_the_adapter_gives_its_process_the_commit_delay(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"commit_delay must be 0 to 0\.1 seconds, not 5"):
        SQLiteAdapter(tmp_path / "games.db", commit_delay=5)
    adapter = SQLiteAdapter(tmp_path / "games.db", commit_delay=0.1)
    await adapter.open()
    try:
        started = time.perf_counter()
        await adapter.save_decision(decision("g1"))
        assert time.perf_counter() - started >= 0.1
    finally:
        await adapter.close()


async def test_the_writer_process_ignores_a_signal_meant_for_the_server(
    adapter: SQLiteAdapter,
) -> None:
    # Ctrl-C in a terminal (or a service manager) signals the whole group: the server shuts
    # down gracefully and still has its last writes to commit.
    pid = adapter.writer_pid
    assert pid is not None
    for number in (signal.SIGINT, signal.SIGTERM):
        os.kill(pid, number)
    await asyncio.sleep(0.1)
    await adapter.save_decision(decision("g1"))
    assert adapter.writer_pid == pid


SERVER = """
import asyncio, sys
from storage.adapters.sqlite import SQLiteAdapter
from storage import DecisionRecord

async def main():
    adapter = SQLiteAdapter(sys.argv[1])
    await adapter.open()
    await adapter.save_decision(DecisionRecord("g1", 1, "retailer", 1, 1.0, b"{}"))
    print(adapter.writer_pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_the_writer_process_ends_with_a_killed_server(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path / "games.db")], stdout=subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        writer = int(server.stdout.readline())
        assert alive(writer)
    finally:
        server.kill()
        server.wait()
    assert wait_gone(writer)
    with sqlite3.connect(tmp_path / "games.db") as db:  # and what it acknowledged is there
        assert db.execute("SELECT game_id FROM decisions").fetchall() == [("g1",)]


def test_what_was_committed_into_a_wal_filled_with_zeros_survives_a_crash(
    tmp_path: Path,
) -> None:
    # Server and writer both killed: no clean close folds the WAL into the database, so the
    # next reader recovers the frames from the WAL, which the writer filled with zeros behind
    # them when it started (prefill_wal).
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path / "games.db")], stdout=subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        writer = int(server.stdout.readline())
        os.kill(writer, signal.SIGKILL)
        assert wait_gone(writer)
    finally:
        server.kill()
        server.wait()
    assert wal_bytes(tmp_path / "games.db") == wal_window(4000)
    with sqlite3.connect(tmp_path / "games.db") as db:
        assert db.execute("SELECT game_id FROM decisions").fetchall() == [("g1",)]
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def wal_bytes(db: Path) -> int | None:
    """The size of the database's WAL file, None without one."""
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size if wal.exists() else None


def wal_window(pages: int) -> int:
    """The bytes of a WAL of ``pages`` frames of 4 KB pages."""
    return 32 + pages * (24 + 4096)


async def test_a_new_wal_is_filled_to_the_checkpoint_window_and_commits_write_inside_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "games.db"
    adapter = SQLiteAdapter(path, wal_autocheckpoint=200)
    await adapter.open()
    try:
        assert wal_bytes(path) == wal_window(200)
        for n in range(30):
            await adapter.save_decision(decision(f"g{n}"))
        assert wal_bytes(path) == wal_window(200)  # written inside the file, not appended
        assert len(await adapter.load_decisions("g29", 1)) == 1
    finally:
        await adapter.close()
    assert wal_bytes(path) is None  # a clean stop still folds the WAL in and removes it
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM decisions").fetchone() == (30,)


def test_a_wal_is_not_filled_without_fsyncs_nor_made_shorter(tmp_path: Path) -> None:
    path = str(tmp_path / "games.db")
    conn = sqlite_process.connect(path, "OFF", 200, 1.0)  # nothing to spare: no commit fsyncs
    try:
        assert not os.path.exists(f"{path}-wal")
        assert sqlite_process.prefill_wal(conn, path, 200) == wal_window(200)
        assert sqlite_process.prefill_wal(conn, path, 100) == 0  # longer already: left alone
        assert os.path.getsize(f"{path}-wal") == wal_window(200)
    finally:
        conn.close()


NO_ROOM = """
import os, resource, signal, sqlite3, sys
from storage.adapters import sqlite_process
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
path = sys.argv[1]
with sqlite3.connect(path) as db:
    db.execute("CREATE TABLE decisions (game_id, round, seat, schema_version, created_at,"
               " payload, PRIMARY KEY (game_id, round, seat))")
conn = sqlite_process.connect(path, "FULL", 4000, 1.0)
print(os.path.getsize(path + "-wal"))  # the zeros that did not fit are given back
writes = [("decision", ("g1", 1, "retailer", 1, 1.0, b"{}"))]
print(sqlite_process.commit(conn, writes) == [(None, None)])
conn.close()
"""


def test_a_disk_without_room_for_the_zeros_gets_them_back_and_commits_go_on(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "games.db")
    run = subprocess.run(
        [sys.executable, "-c", NO_ROOM, path], capture_output=True, text=True, check=False
    )
    assert (run.returncode, run.stdout, run.stderr) == (0, "0\nTrue\n", "")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT game_id FROM decisions").fetchall() == [("g1",)]


def test_a_batch_is_not_committed_for_a_server_that_is_gone(tmp_path: Path) -> None:
    path = str(tmp_path / "games.db")
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE decisions (game_id, round, seat, schema_version, created_at,"
            " payload, PRIMARY KEY (game_id, round, seat))"
        )
    conn = sqlite_process.connect(path, "FULL", 1000, 1.0)
    try:
        writes = [("decision", ("g1", 1, "retailer", 1, 1.0, b"{}"))]
        with pytest.raises(sqlite_process.Orphaned):
            # The parent it checks for is not this process's parent: as after the server died.
            sqlite_process.commit(conn, writes, parent=os.getppid() + 1)
        assert not conn.in_transaction
        assert sqlite_process.commit(conn, writes, parent=os.getppid()) == [(None, None)]
    finally:
        conn.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM decisions").fetchone() == (1,)


def test_a_writer_process_that_cannot_open_the_database_says_why(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            sqlite_process.__file__,
            str(tmp_path / "no" / "such.db"),
            "FULL",
            "1000",
            "1.0",
        ],
        capture_output=True,
        check=False,
    )
    assert run.returncode == 1
    (said,) = sqlite_process.frames(bytearray(run.stdout))
    assert said.startswith("OperationalError: unable to open database file")
