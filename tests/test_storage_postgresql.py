"""PostgreSQLAdapter specifics, on a real PostgreSQL server (the session's throwaway cluster).

Migrations, reopening, pool parameters, group commit counted in PostgreSQL's own transaction
ids, failure isolation, durability settings, lost connections and the fence hook. The
conformance suite runs over this adapter in tests/test_storage_conformance.py, the crash test in
tests/test_storage_crash.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence

import pytest

from storage import DecisionRecord, RoundRecord, Snapshot, StorageError

asyncpg = pytest.importorskip("asyncpg", reason="the postgresql extra is not installed")

from storage.adapters.postgresql import (  # noqa: E402 - needs asyncpg, checked above
    MIGRATIONS,
    SCHEMA_VERSION,
    PostgreSQLAdapter,
    from_url,
)
from tests.pgcluster import free_port  # noqa: E402


def decision(game_id: str, round: int, seat: str, payload: bytes = b"{}") -> DecisionRecord:
    return DecisionRecord(game_id, round, seat, 1, 1_700_000_000.0, payload)


def snap(game_id: str, round: int = 0, group: str | None = None) -> Snapshot:
    return Snapshot(game_id, "beer", "running", True, round, 1, 1.0, 2.0, b"{}", group)


async def sql(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    """One query on a connection of its own, as another program would run it."""
    conn = await asyncpg.connect(url)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(query, *args)
        return rows
    finally:
        await conn.close()


async def next_xid(url: str) -> int:
    """PostgreSQL's next transaction id: every transaction that writes takes one."""
    rows = await sql(url, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
    value: int = rows[0][0]
    return value


@pytest.fixture
async def adapter(postgresql_url: str) -> AsyncIterator[PostgreSQLAdapter]:
    adapter = from_url(postgresql_url)
    await adapter.open()
    yield adapter
    await adapter.close()


# -- schema and migrations


async def test_creates_the_schema_in_an_empty_database(postgresql_url: str) -> None:
    tables = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    assert await sql(postgresql_url, tables) == []
    adapter = from_url(postgresql_url)
    await adapter.open()
    await adapter.close()
    names = [row[0] for row in await sql(postgresql_url, tables)]
    assert names == [
        "decisions",
        "documents",
        "games",
        "leases",
        "nodes",
        "rounds",
        "schema_version",
    ]
    versions = await sql(postgresql_url, "SELECT version FROM schema_version")
    assert [row[0] for row in versions] == [SCHEMA_VERSION]
    columns = await sql(
        postgresql_url,
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_name = 'games' ORDER BY ordinal_position",
    )
    assert [tuple(row) for row in columns] == [
        ("game_id", "text"),
        ("kind", "text"),
        ("status", "text"),
        ("in_progress", "boolean"),
        ("round", "bigint"),
        ("schema_version", "integer"),
        ("created_at", "double precision"),
        ("updated_at", "double precision"),
        ("payload", "bytea"),
        ("grp", "text"),
        ("summary", "text"),
    ]
    indexes = {row[0] for row in await sql(postgresql_url, "SELECT indexname FROM pg_indexes")}
    assert {"games_in_progress", "games_grp", "games_created"} <= indexes


async def test_reopening_keeps_the_data_and_the_version(postgresql_url: str) -> None:
    for n in range(3):
        adapter = from_url(postgresql_url)
        await adapter.open()
        try:
            await adapter.save_snapshot(snap(f"g{n}", n))
            assert [s.game_id for s in await adapter.load_snapshots()] == [
                f"g{i}" for i in range(n + 1)
            ]
        finally:
            await adapter.close()
    versions = await sql(postgresql_url, "SELECT version FROM schema_version")
    assert [row[0] for row in versions] == [SCHEMA_VERSION]


async def test_servers_opening_one_empty_database_at_once_migrate_it_once(
    postgresql_url: str,
) -> None:
    # Without the advisory lock, all but one would fail on "relation already exists".
    adapters = [from_url(postgresql_url) for _ in range(4)]
    await asyncio.gather(*(a.open() for a in adapters))
    try:
        await adapters[0].save_snapshot(snap("g1"))
        for other in adapters[1:]:
            assert await other.load_snapshot("g1") == snap("g1")
    finally:
        await asyncio.gather(*(a.close() for a in adapters))
    versions = await sql(postgresql_url, "SELECT version FROM schema_version")
    assert [row[0] for row in versions] == [SCHEMA_VERSION]


async def test_a_version_1_database_gets_the_lease_tables_and_summaries_and_keeps_its_games(
    postgresql_url: str,
) -> None:
    # The database as the first PostgreSQL adapter left it: schema version 1, one game.
    conn = await asyncpg.connect(postgresql_url)
    try:
        async with conn.transaction():
            for statement in MIGRATIONS[0]:
                await conn.execute(statement)
            await conn.execute("CREATE TABLE schema_version (version integer NOT NULL)")
            await conn.execute("INSERT INTO schema_version VALUES (1)")
            await conn.execute(
                "INSERT INTO games VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                *dataclasses.astuple(snap("g1", 3))[:10],  # the columns of version 1
            )
    finally:
        await conn.close()
    adapter = from_url(postgresql_url)
    await adapter.open()
    try:
        assert await adapter.load_snapshot("g1") == snap("g1", 3)
    finally:
        await adapter.close()
    versions = await sql(postgresql_url, "SELECT version FROM schema_version")
    assert [row[0] for row in versions] == [SCHEMA_VERSION]
    assert [row[0] for row in await sql(postgresql_url, "SELECT count(*) FROM leases")] == [0]


async def test_refuses_a_newer_schema(postgresql_url: str) -> None:
    await sql(postgresql_url, "CREATE TABLE schema_version (version integer NOT NULL)")
    await sql(postgresql_url, "INSERT INTO schema_version VALUES (99)")
    with pytest.raises(StorageError, match="newer"):
        await from_url(postgresql_url).open()


async def test_queries_can_use_their_indexes(
    adapter: PostgreSQLAdapter, postgresql_url: str
) -> None:
    for n in range(20):
        await adapter.save_snapshot(snap(f"g{n}", group=["A", "B", "", None][n % 4]))
    conn = await asyncpg.connect(postgresql_url)
    try:
        # The tables are small: forbid sequential scans to see whether an index can serve.
        await conn.execute("SET enable_seqscan = off")
        for where, index in [
            ("grp = 'A'", "games_grp"),
            ("grp IS NULL", "games_grp"),
            ("in_progress", "games_in_progress"),
        ]:
            plan = await conn.fetch(f"EXPLAIN SELECT * FROM games WHERE {where}")
            assert index in str([row[0] for row in plan]), where
    finally:
        await conn.close()


# -- the URL and the pool


BAD_QUERIES = [
    ("max_size=0", "max_size must be a whole number from 1"),
    ("max_size=ten", "max_size must be a whole number"),
    ("min_size=-1", "min_size must be a whole number"),
    ("min_size=5&max_size=2", r"min_size \(5\) must not be more than max_size \(2\)"),
    ("writers=0", "writers must be a whole number"),
    ("writers=12", r"writers \(12\) must not be more than max_size \(10\)"),
    ("max_batch=", "max_batch must be a whole number"),
    ("max_size=2&max_size=3", "max_size is given twice"),
    ("synchronous_commit=off", "synchronous_commit cannot be set"),
]


@pytest.mark.parametrize(("query", "message"), BAD_QUERIES)
def test_bad_pool_parameters_are_refused_by_name(query: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        from_url(f"postgresql://gs:secret-pw@127.0.0.1:5432/games?{query}")
    assert "bad PostgreSQL URL" in str(caught.value)
    assert "secret-pw" not in str(caught.value) and "gs:***@" in str(caught.value)


def test_pool_parameters_are_read_from_the_url() -> None:
    adapter = from_url(
        "postgresql://h/db?min_size=0&max_size=3&writers=3&max_batch=50&sslmode=disable"
    )
    assert (adapter.min_size, adapter.max_size, adapter.writers, adapter.max_batch) == (0, 3, 3, 50)
    assert adapter.dsn == "postgresql://h/db?sslmode=disable"  # the rest goes to asyncpg


async def test_pool_opens_min_size_connections(postgresql_url: str) -> None:
    # Other query parameters reach the server as settings: application_name tags connections.
    adapter = from_url(f"{postgresql_url}?min_size=3&max_size=4&application_name=pool-test")
    await adapter.open()
    try:
        rows = await sql(
            postgresql_url,
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pool-test'",
        )
        assert rows[0][0] == 3
    finally:
        await adapter.close()
    rows = await sql(
        postgresql_url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pool-test'"
    )
    assert rows[0][0] == 0  # close() closed them


async def test_unreachable_server_fails_open_without_the_password() -> None:
    adapter = from_url(f"postgresql://gs:secret-pw@127.0.0.1:{free_port()}/games")
    with pytest.raises(StorageError, match=r"cannot connect to postgresql://gs:\*\*\*@") as caught:
        await adapter.open()
    assert "secret-pw" not in str(caught.value)
    assert "secret-pw" not in repr(adapter)


async def test_use_outside_open_and_close(postgresql_url: str) -> None:
    adapter = from_url(postgresql_url)
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


# -- group commit


@pytest.mark.parametrize(("writes", "transactions"), [(50, 1), (200, 2)])
async def test_concurrent_writers_share_transactions(
    adapter: PostgreSQLAdapter, postgresql_url: str, writes: int, transactions: int
) -> None:
    before = await next_xid(postgresql_url)
    await asyncio.gather(*(adapter.save_decision(decision(f"g{n}", 1, "r")) for n in range(writes)))
    # Counted by PostgreSQL. Under 64 writes, one batch holds them all; more are shared
    # between the two writers, so they commit side by side.
    assert await next_xid(postgresql_url) - before == transactions
    assert adapter.stats.writes == writes and adapter.stats.batches == transactions
    rows = await sql(postgresql_url, "SELECT count(*) FROM decisions")
    assert rows[0][0] == writes


async def test_writers_in_a_loop_keep_sharing(
    adapter: PostgreSQLAdapter, postgresql_url: str
) -> None:
    async def writer(n: int) -> None:
        for r in range(1, 21):
            await adapter.save_decision(decision(f"g{n}", r, "retailer"))
            await adapter.append_round(RoundRecord(f"g{n}", r, 1, 1.0, b"r"), snap(f"g{n}", r))

    before = await next_xid(postgresql_url)
    await asyncio.gather(*(writer(n) for n in range(50)))
    transactions = await next_xid(postgresql_url) - before
    assert adapter.stats.writes == 2000
    # About 80 when every batch holds all the games of its lane; 2,000 without group commit.
    assert transactions < 2000 / 10, transactions
    for n in range(50):
        assert [r.round for r in await adapter.load_rounds(f"g{n}")] == list(range(1, 21))


async def test_one_games_writes_keep_their_order(adapter: PostgreSQLAdapter) -> None:
    # Issued without waiting for each other (a game's owner normally waits), enough of them to
    # be shared between writers: a game's later write must not overtake an earlier one.
    writes = []
    for n in range(100):
        writes += [adapter.save_snapshot(snap(f"g{n}", r)) for r in (1, 2, 3)]
    writes += [adapter.delete_game("g0"), adapter.save_snapshot(snap("g0", 9))]
    writes += [adapter.delete_game("g1")]
    await asyncio.gather(*writes)
    assert adapter.stats.batches >= 2
    assert await adapter.load_snapshot("g0") == snap("g0", 9)
    assert await adapter.load_snapshot("g1") is None
    for n in range(2, 100):
        assert await adapter.load_snapshot(f"g{n}") == snap(f"g{n}", 3)


async def test_await_returns_only_after_commit(
    adapter: PostgreSQLAdapter, postgresql_url: str
) -> None:
    # Other connections (another program would see the same) find each write as soon as its
    # await has returned.
    observer = await asyncpg.create_pool(postgresql_url, min_size=1, max_size=4)

    async def writer(n: int) -> None:
        for r in range(1, 6):
            await adapter.save_decision(decision(f"g{n}", r, "retailer", b"%d" % r))
            payload = await observer.fetchval(
                "SELECT payload FROM decisions WHERE game_id = $1 AND round = $2", f"g{n}", r
            )
            assert payload == b"%d" % r

    try:
        await asyncio.gather(*(writer(n) for n in range(20)))
    finally:
        await observer.close()


# -- failures


REJECT_BAD_SEAT = """
    CREATE FUNCTION reject_bad() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.seat = 'bad' THEN RAISE EXCEPTION 'seat bad is rejected'; END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER reject_bad BEFORE INSERT ON decisions
        FOR EACH ROW EXECUTE FUNCTION reject_bad();
"""


@pytest.mark.parametrize("mixed", [False, True], ids=["one-kind", "mixed"])
async def test_failing_write_fails_only_its_caller(
    adapter: PostgreSQLAdapter, postgresql_url: str, mixed: bool
) -> None:
    conn = await asyncpg.connect(postgresql_url)
    await conn.execute(REJECT_BAD_SEAT)
    await conn.close()
    await adapter.save_snapshot(snap("old"))
    good = [adapter.save_decision(decision(f"g{n}", 1, "retailer")) for n in range(100)]
    if mixed:  # a batch of every kind of write: it runs in BEGIN ... COMMIT
        good += [adapter.save_snapshot(snap(f"s{n}")) for n in range(20)]
        good += [
            adapter.append_round(RoundRecord(f"g{n}", 1, 1, 1.0, b"r"), snap(f"g{n}", 1))
            for n in range(10, 20)
        ]
        good.append(adapter.delete_game("old"))
    bad = adapter.save_decision(decision("g-bad", 1, "bad"))
    results = await asyncio.gather(*good[:50], bad, *good[50:], return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], StorageError), errors
    assert errors[0].game_id == "g-bad" and "seat bad is rejected" in str(errors[0])
    assert isinstance(errors[0].__cause__, asyncpg.PostgresError)
    for n in range(100):
        assert len(await adapter.load_decisions(f"g{n}", 1)) == 1
    assert await adapter.load_decisions("g-bad", 1) == []
    if mixed:
        assert len(await adapter.load_snapshots()) == 20 + 10
        assert await adapter.load_snapshot("old") is None
        assert [r.round for r in await adapter.load_rounds("g15")] == [1]
    assert adapter.stats.failed == 1


async def test_text_postgresql_cannot_hold_fails_alone(adapter: PostgreSQLAdapter) -> None:
    # PostgreSQL's text has no NUL character: such a seat is refused, and only that write.
    writes = [adapter.save_decision(decision("g1", 1, f"seat{n}")) for n in range(10)]
    nul = adapter.save_decision(decision("g2", 1, "a\x00b"))
    results = await asyncio.gather(nul, *writes, return_exceptions=True)
    assert isinstance(results[0], StorageError) and results[0].game_id == "g2"
    assert results[1:] == [None] * 10
    assert len(await adapter.load_decisions("g1", 1)) == 10


async def test_lost_connections_fail_writes_then_recover(postgresql_url: str) -> None:
    adapter = from_url(f"{postgresql_url}?min_size=2&application_name=terminated")
    await adapter.open()
    try:
        await adapter.save_snapshot(snap("g0"))
        # As a database restart or a failover would: every connection of the pool is cut.
        await sql(
            postgresql_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'terminated'",
        )
        acked, failed = [], 0
        for n in range(1, 11):
            try:
                await adapter.save_snapshot(snap(f"g{n}"))
            except StorageError:
                failed += 1
            else:
                acked.append(f"g{n}")
        assert failed <= adapter.max_size  # at most one failure per connection that was cut
        assert acked[-5:] == [f"g{n}" for n in range(6, 11)]  # and then it works again
        stored = {s.game_id for s in await adapter.load_snapshots()}
        assert stored >= {"g0", *acked}
    finally:
        await adapter.close()


# -- durability settings


async def test_synchronous_commit_stays_on(postgresql_url: str) -> None:
    database = postgresql_url.rsplit("/", 1)[1]
    await sql(postgresql_url, f'ALTER DATABASE "{database}" SET synchronous_commit = off')
    assert (await sql(postgresql_url, "SHOW synchronous_commit"))[0][0] == "off"
    adapter = from_url(f"{postgresql_url}?min_size=1&max_size=1")
    await adapter.open()
    try:
        assert await adapter.setting("synchronous_commit") == "on"
        await adapter.save_snapshot(snap("g1"))  # the connection goes back to the pool...
        assert await adapter.setting("synchronous_commit") == "on"  # ...and keeps it
    finally:
        await adapter.close()


async def test_a_stricter_synchronous_commit_is_kept(postgresql_url: str) -> None:
    database = postgresql_url.rsplit("/", 1)[1]
    await sql(postgresql_url, f'ALTER DATABASE "{database}" SET synchronous_commit = remote_apply')
    adapter = from_url(postgresql_url)
    await adapter.open()
    try:
        assert await adapter.setting("synchronous_commit") == "remote_apply"
    finally:
        await adapter.close()


# -- the fence hook


async def test_a_fence_refuses_writes_in_the_batch_transaction(postgresql_url: str) -> None:
    await sql(postgresql_url, "CREATE TABLE blocked (game_id text PRIMARY KEY)")
    await sql(postgresql_url, "INSERT INTO blocked VALUES ('g3'), ('g7')")
    calls: list[tuple[bool, list[str]]] = []

    async def fence(conn: asyncpg.Connection, game_ids: Sequence[str]) -> set[str]:
        calls.append((conn.is_in_transaction(), list(game_ids)))
        rows = await conn.fetch(
            "SELECT game_id FROM blocked WHERE game_id = ANY($1::text[]) FOR SHARE", game_ids
        )
        return {row[0] for row in rows}

    adapter = PostgreSQLAdapter(postgresql_url, fence=fence)
    await adapter.open()
    try:
        writes = [adapter.save_snapshot(snap(f"g{n}")) for n in range(10)]
        results = await asyncio.gather(*writes, return_exceptions=True)
        refused = {f"g{n}" for n, r in enumerate(results) if isinstance(r, StorageError)}
        assert refused == {"g3", "g7"}
        assert all("refused by the fence" in str(r) for r in results if r is not None)
        stored = {s.game_id for s in await adapter.load_snapshots()}
        assert stored == {f"g{n}" for n in range(10)} - refused
        # One check per batch, inside its transaction, with every game of the batch.
        assert len(calls) == adapter.stats.batches
        assert all(in_transaction for in_transaction, _ in calls)
        assert sorted(g for _, ids in calls for g in ids) == sorted(f"g{n}" for n in range(10))
    finally:
        await adapter.close()
