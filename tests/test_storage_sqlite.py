"""SQLiteAdapter specifics: group commit, failure isolation, migrations, settings, WAL."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from storage import (
    DAMAGED,
    CorruptRecord,
    DecisionRecord,
    HeaderQuery,
    Snapshot,
    StorageError,
    Store,
)
from storage.adapters.sqlite import SCHEMA_VERSION, SQLiteAdapter, header_sql


def decision(game_id: str, round: int, seat: str, payload: bytes = b"{}") -> DecisionRecord:
    return DecisionRecord(game_id, round, seat, 1, 1_700_000_000.0, payload)


def snap(
    game_id: str, round: int = 0, in_progress: bool = True, group: str | None = None
) -> Snapshot:
    return Snapshot(game_id, "beer", "running", in_progress, round, 1, 1.0, 2.0, b"{}", group)


@pytest.fixture
def adapter(sqlite_adapter: SQLiteAdapter) -> SQLiteAdapter:
    return sqlite_adapter


async def test_concurrent_writes_share_commits(adapter: SQLiteAdapter) -> None:
    writes = [adapter.save_decision(decision(f"g{n}", 1, "retailer")) for n in range(500)]
    await asyncio.gather(*writes)
    assert adapter.stats.writes == 500
    # All 500 were submitted in one loop iteration, so they go to the writer as one batch.
    assert adapter.stats.batches <= 3
    assert adapter.stats.largest_batch >= 200


async def test_batches_are_capped(tmp_path: Path) -> None:
    adapter = SQLiteAdapter(tmp_path / "games.db", max_batch=10)
    await adapter.open()
    try:
        await asyncio.gather(*(adapter.save_snapshot(snap(f"g{n}")) for n in range(95)))
        assert adapter.stats.largest_batch == 10 and adapter.stats.batches == 10
        assert len(await adapter.load_snapshots()) == 95
    finally:
        await adapter.close()


async def test_writers_in_a_loop_keep_batching(adapter: SQLiteAdapter) -> None:
    async def writer(n: int) -> None:
        for r in range(1, 21):
            await adapter.save_decision(decision(f"g{n}", r, "retailer"))

    await asyncio.gather(*(writer(n) for n in range(50)))
    assert adapter.stats.writes == 1000
    assert adapter.stats.batches <= 100, adapter.stats  # ~20 when every batch holds all 50


async def test_await_returns_only_after_commit(adapter: SQLiteAdapter, tmp_path: Path) -> None:
    # An independent connection (another process would see the same) finds each write as soon
    # as its await has returned.
    observer = sqlite3.connect(tmp_path / "games.db")

    async def writer(n: int) -> None:
        for r in range(1, 6):
            await adapter.save_decision(decision(f"g{n}", r, "retailer", b"%d" % r))
            row = observer.execute(
                "SELECT payload FROM decisions WHERE game_id = ? AND round = ?", (f"g{n}", r)
            ).fetchone()
            assert row == (b"%d" % r,)

    try:
        await asyncio.gather(*(writer(n) for n in range(20)))
    finally:
        observer.close()


async def test_failing_write_fails_only_its_caller(adapter: SQLiteAdapter, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "games.db") as other:
        other.execute(
            "CREATE TRIGGER reject_bad BEFORE INSERT ON decisions WHEN NEW.seat = 'bad'"
            " BEGIN SELECT RAISE(ABORT, 'seat bad is rejected'); END"
        )
    good = [adapter.save_decision(decision(f"g{n}", 1, "retailer")) for n in range(100)]
    bad = adapter.save_decision(decision("g-bad", 1, "bad"))
    results = await asyncio.gather(*good[:50], bad, *good[50:], return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], StorageError)
    assert errors[0].game_id == "g-bad" and "seat bad is rejected" in str(errors[0])
    assert isinstance(errors[0].__cause__, sqlite3.Error)
    for n in range(100):
        assert len(await adapter.load_decisions(f"g{n}", 1)) == 1
    assert await adapter.load_decisions("g-bad", 1) == []
    assert adapter.stats.failed == 1


async def test_locked_database_fails_writes_then_recovers(tmp_path: Path) -> None:
    adapter = SQLiteAdapter(tmp_path / "games.db", busy_timeout=0.1)
    await adapter.open()
    try:
        other = sqlite3.connect(tmp_path / "games.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        with pytest.raises(StorageError, match="g1"):
            await adapter.save_snapshot(snap("g1"))
        other.execute("ROLLBACK")
        other.close()
        await adapter.save_snapshot(snap("g1"))
        assert await adapter.load_snapshot("g1") == snap("g1")
    finally:
        await adapter.close()


async def test_readers_do_not_block_the_writer(adapter: SQLiteAdapter, tmp_path: Path) -> None:
    await adapter.save_snapshot(snap("g1", 1))
    reader = sqlite3.connect(tmp_path / "games.db", isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT round FROM games").fetchall() == [(1,)]
        await asyncio.wait_for(adapter.save_snapshot(snap("g1", 2)), 2)  # WAL: no waiting
        assert reader.execute("SELECT round FROM games").fetchall() == [(1,)]  # its snapshot
        reader.execute("COMMIT")
    finally:
        reader.close()
    stored = await adapter.load_snapshot("g1")
    assert stored is not None and stored.round == 2


@pytest.mark.parametrize(
    ("setting", "value"), [("FULL", 2), ("NORMAL", 1), ("OFF", 0), ("extra", 3)]
)
async def test_synchronous_setting_is_applied(tmp_path: Path, setting: str, value: int) -> None:
    adapter = SQLiteAdapter(tmp_path / "games.db", synchronous=setting)
    await adapter.open()
    try:
        assert await adapter.pragma("synchronous") == value
        assert await adapter.pragma("journal_mode") == "wal"
        assert await adapter.pragma("wal_autocheckpoint") == 4000
    finally:
        await adapter.close()


def test_bad_synchronous_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteAdapter(tmp_path / "games.db", synchronous="SOMETIMES")


async def test_pragma_names_are_checked(adapter: SQLiteAdapter) -> None:
    with pytest.raises(ValueError, match="not a pragma name"):
        await adapter.pragma("synchronous = OFF")


async def test_wal_mode_is_stored_in_the_file(adapter: SQLiteAdapter, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "games.db") as other:
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_migrates_a_version_1_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    # The schema exactly as version 1 of this adapter created it.
    with sqlite3.connect(path) as old:
        old.executescript(
            """
            CREATE TABLE schema_version (version INTEGER NOT NULL);
            INSERT INTO schema_version VALUES (1);
            CREATE TABLE games (
                game_id TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
                in_progress INTEGER NOT NULL, round INTEGER NOT NULL,
                schema_version INTEGER NOT NULL, created_at REAL NOT NULL,
                updated_at REAL NOT NULL, payload BLOB NOT NULL);
            CREATE TABLE decisions (
                game_id TEXT NOT NULL, round INTEGER NOT NULL, seat TEXT NOT NULL,
                schema_version INTEGER NOT NULL, created_at REAL NOT NULL, payload BLOB NOT NULL,
                PRIMARY KEY (game_id, round, seat));
            CREATE TABLE rounds (
                game_id TEXT NOT NULL, round INTEGER NOT NULL, schema_version INTEGER NOT NULL,
                created_at REAL NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (game_id, round));
            INSERT INTO games VALUES ('old', 'beer', 'running', 1, 4, 1, 1.0, 2.0, x'7b7d');
            INSERT INTO games VALUES ('done', 'beer', 'finished', 0, 9, 1, 1.0, 2.0, x'7b7d');
            """
        )
    adapter = SQLiteAdapter(path)
    await adapter.open()
    try:
        running = await adapter.load_snapshots(in_progress_only=True)
        assert [(s.game_id, s.round, s.payload) for s in running] == [("old", 4, b"{}")]
    finally:
        await adapter.close()
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        indexes = check.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
        assert ("games_in_progress",) in indexes
        plan = check.execute("EXPLAIN QUERY PLAN SELECT * FROM games WHERE in_progress").fetchall()
        assert "games_in_progress" in str(plan)


async def test_new_database_gets_the_current_version(
    adapter: SQLiteAdapter, tmp_path: Path
) -> None:
    with sqlite3.connect(tmp_path / "games.db") as check:
        assert check.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


async def test_group_queries_use_the_group_index(adapter: SQLiteAdapter, tmp_path: Path) -> None:
    for n in range(20):
        await adapter.save_snapshot(snap(f"g{n}", group=["A", "B", "", None][n % 4]))
    assert sorted(s.game_id for s in await adapter.load_group("A")) == sorted(
        f"g{n}" for n in range(0, 20, 4)
    )
    assert len(await adapter.load_group(None)) == 5
    with sqlite3.connect(tmp_path / "games.db") as check:
        for where in ("grp = 'A'", "grp IS NULL"):
            plan = check.execute(f"EXPLAIN QUERY PLAN SELECT * FROM games WHERE {where}").fetchall()
            assert "USING INDEX games_grp" in str(plan), where


async def test_a_page_of_headers_reads_the_creation_index(
    adapter: SQLiteAdapter, tmp_path: Path
) -> None:
    # A page of a listing walks the games_created index from the cursor and stops after its
    # rows: it neither reads every row nor sorts them, whatever the table holds.
    for n in range(30):
        game = Snapshot(f"g{n:02d}", "beer", "running", True, 0, 1, 1000.0 + n, 2.0, b"{}")
        await adapter.save_snapshot(game)
    page = await adapter.load_headers(HeaderQuery(after=(1010.0, "g10"), limit=3))
    assert [h.game_id for h in page] == ["g11", "g12", "g13"]
    for newest_first in (False, True):
        sql, params = header_sql(
            HeaderQuery(after=(1010.0, "g10"), limit=3, newest_first=newest_first)
        )
        with sqlite3.connect(tmp_path / "games.db") as check:
            plan = str(check.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall())
        assert "games_created" in plan and "TEMP B-TREE" not in plan, plan


async def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with sqlite3.connect(path) as newer:
        newer.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        newer.execute("INSERT INTO schema_version VALUES (99)")
    with pytest.raises(StorageError, match="newer"):
        await SQLiteAdapter(path).open()


async def test_use_outside_open_and_close(tmp_path: Path) -> None:
    adapter = SQLiteAdapter(tmp_path / "games.db")
    with pytest.raises(StorageError, match="not open"):
        await adapter.save_snapshot(snap("g1"))
    await adapter.open()
    with pytest.raises(StorageError, match="already open"):
        await adapter.open()
    await adapter.close()
    await adapter.close()  # twice is harmless
    with pytest.raises(StorageError, match="not open"):
        await adapter.save_decision(decision("g1", 1, "s"))
    with pytest.raises(StorageError, match="not open"):
        await adapter.load_snapshot("g1")


async def test_row_written_by_another_program_is_reported(
    adapter: SQLiteAdapter, tmp_path: Path
) -> None:
    await adapter.save_snapshot(snap("fine"))
    with sqlite3.connect(tmp_path / "games.db") as other:
        other.execute(
            "INSERT INTO games VALUES"
            " ('text', 'beer', 'running', 1, 0, 1, 1.0, 2.0, 'not a blob', 'A', NULL)"
        )
    stored = await adapter.load_snapshot("text")
    assert stored is not None and stored.schema_version == DAMAGED
    result = await Store(adapter).load_games()
    assert [g.game_id for g in result.games] == ["fine"]
    assert [type(e) for e in result.errors] == [CorruptRecord]
    assert result.errors[0].game_id == "text"
    group = await Store(adapter).load_group("A")
    assert group.games == [] and [e.game_id for e in group.errors] == ["text"]


async def test_creates_missing_parent_folders(tmp_path: Path) -> None:
    adapter = SQLiteAdapter(tmp_path / "a" / "b" / "games.db")
    await adapter.open()
    await adapter.save_snapshot(snap("g1"))
    await adapter.close()
    assert (tmp_path / "a" / "b" / "games.db").is_file()
