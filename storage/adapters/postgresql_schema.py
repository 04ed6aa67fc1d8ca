"""The PostgreSQL adapter's schema: its version, the migrations that reach it, and what each
connection of the pool is set to when it opens."""

from __future__ import annotations

import asyncpg

from storage.errors import StorageError

#: ``schema_version`` value this code writes; older databases are migrated on open.
SCHEMA_VERSION = 3

#: MIGRATIONS[n] takes a database from version n to n + 1. Never edit a released step: add one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE games (
            game_id text PRIMARY KEY, kind text NOT NULL, status text NOT NULL,
            in_progress boolean NOT NULL, round bigint NOT NULL, schema_version integer NOT NULL,
            created_at double precision NOT NULL, updated_at double precision NOT NULL,
            payload bytea NOT NULL, grp text)""",
        """CREATE TABLE decisions (
            game_id text NOT NULL, round bigint NOT NULL, seat text NOT NULL,
            schema_version integer NOT NULL, created_at double precision NOT NULL,
            payload bytea NOT NULL, PRIMARY KEY (game_id, round, seat))""",
        """CREATE TABLE rounds (
            game_id text NOT NULL, round bigint NOT NULL, schema_version integer NOT NULL,
            created_at double precision NOT NULL, payload bytea NOT NULL,
            PRIMARY KEY (game_id, round))""",
        # Start-up loads only the games in progress, a small share of a long-lived database.
        "CREATE INDEX games_in_progress ON games (game_id) WHERE in_progress",
        # load_group: WHERE grp = $1, and WHERE grp IS NULL (a btree finds NULLs too).
        "CREATE INDEX games_grp ON games (grp)",
    ),
    (
        # One owner per game among the servers sharing the database (storage/leases.py).
        """CREATE TABLE leases (
            game_id text PRIMARY KEY, owner text NOT NULL, epoch bigint NOT NULL,
            expires_at timestamptz NOT NULL, released boolean NOT NULL)""",
        "CREATE INDEX leases_owner ON leases (owner)",
        """CREATE TABLE nodes (
            owner text PRIMARY KEY, name text NOT NULL, seen_at timestamptz NOT NULL)""",
    ),
    # A game's summary for listings, pages of games in creation order without payloads, and
    # the documents that belong to no game (a class's lobby, the presets).
    (
        "ALTER TABLE games ADD COLUMN summary text",
        "CREATE INDEX games_created ON games (created_at, game_id)",
        """CREATE TABLE documents (
            collection text NOT NULL, key text NOT NULL, schema_version integer NOT NULL,
            updated_at double precision NOT NULL, payload bytea NOT NULL,
            PRIMARY KEY (collection, key))""",
    ),
)

#: Milliseconds a connection may sit in an open transaction, idle, before PostgreSQL ends it.
IDLE_IN_TRANSACTION_MS = 2000

#: Key of the advisory lock held while migrating: servers opening one database at once wait.
MIGRATION_LOCK = 0x67616D65_73657276  # "gameserv"


async def init_connection(conn: asyncpg.Connection) -> None:
    # Durability is the contract: a database whose default is synchronous_commit = off would
    # acknowledge writes that a crash of the server can still lose. Other values (local,
    # remote_write, remote_apply) are the administrator's choice and kept.
    await conn.execute(
        "SELECT set_config('synchronous_commit', 'on', false)"
        " WHERE current_setting('synchronous_commit') = 'off';"
        # The adapter's transactions send their statements back to back: one left open for
        # seconds belongs to a process that froze or hangs. PostgreSQL ends it, so that the
        # lease rows it locked FOR SHARE (the fence) do not keep another server from taking
        # its games over.
        f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}"
    )


async def keep_session(conn: asyncpg.Connection) -> None:
    # Instead of asyncpg's reset on release (RESET ALL and more: one more round trip per batch,
    # and it would undo the synchronous_commit set above). The adapter leaves no other session
    # state behind: no SET, no LISTEN, no advisory lock held past a transaction.
    return None


async def migrate(conn: asyncpg.Connection, where: str) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION`, all steps in one transaction."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        current = await conn.fetchval("SELECT max(version) FROM schema_version") or 0
        if current > SCHEMA_VERSION:
            raise StorageError(
                f"postgresql: {where} has schema version {current}, newer than this code knows"
                f" ({SCHEMA_VERSION}); upgrade the server"
            )
        for step in MIGRATIONS[current:SCHEMA_VERSION]:
            for statement in step:
                await conn.execute(statement)
        if current != SCHEMA_VERSION:
            await conn.execute("DELETE FROM schema_version")
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", SCHEMA_VERSION)
