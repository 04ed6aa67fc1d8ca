"""Leases in PostgreSQL (see :mod:`storage.leases`): tables ``leases`` and ``nodes``.

Every time is the database's (``now()``), so the servers' clocks need not agree. Taking a lease
is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` (the row lock makes two servers racing for
a game take turns, and only the first finds it free). The fence reads the batch's lease rows
``FOR SHARE`` inside the batch's transaction: a takeover, an ``UPDATE`` of the row, waits for
that commit, and a batch that starts after the takeover sees the new owner and refuses the
writes. Rows are locked in game id order everywhere (fence, renewal, taking), so two of these
statements never wait for each other in a circle.

Servers talk through ``LISTEN``/``NOTIFY`` on a connection of their own, outside the pool:
``gameserver_handover`` (a server asks for a game), ``gameserver_released`` (a game's lease is
free: a server waiting for it tries at once), ``gameserver_node_left`` (a server left at
shutdown: its games' leases lapsed, take them over now rather than at the next sweep).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Collection, Sequence
from typing import Any, Protocol

import asyncpg

from storage.adapters.postgresql_writer import Fence
from storage.errors import StorageError
from storage.leases import Leases, Node

log = logging.getLogger(__name__)

HANDOVER, RELEASED, NODE_LEFT = "gameserver_handover", "gameserver_released", "gameserver_node_left"

_ACQUIRE = """
    INSERT INTO leases AS l (game_id, owner, epoch, expires_at, released)
    SELECT g, $2, 1, now() + make_interval(secs => $3), false
    FROM unnest($1::text[]) AS g ORDER BY g
    ON CONFLICT (game_id) DO UPDATE SET
        owner = excluded.owner, epoch = l.epoch + 1, expires_at = excluded.expires_at,
        released = false
    WHERE l.released OR l.expires_at < now() OR l.owner = excluded.owner
    RETURNING game_id, epoch"""
_RELEASE = """
    WITH r AS (
        UPDATE leases SET released = true, expires_at = now()
        WHERE game_id = $1 AND owner = $2 AND epoch = $3 RETURNING game_id)
    SELECT pg_notify('gameserver_released', game_id) FROM r"""
_FORGET = """
    WITH r AS (DELETE FROM leases WHERE game_id = $1 AND owner = $2 AND epoch = $3 RETURNING 1)
    SELECT pg_notify('gameserver_released', $1) FROM r"""
_RENEW = """
    WITH locked AS (
        SELECT game_id FROM leases WHERE owner = $1 AND game_id = ANY($3::text[])
        ORDER BY game_id FOR NO KEY UPDATE)
    UPDATE leases l SET expires_at = now() + make_interval(secs => $2)
    FROM locked WHERE l.game_id = locked.game_id AND NOT l.released
    RETURNING l.game_id, l.epoch"""
_SEEN = """
    INSERT INTO nodes (owner, name, seen_at) VALUES ($1, $2, now())
    ON CONFLICT (owner) DO UPDATE SET seen_at = now()"""
_ORPHANS = """
    SELECT l.game_id, extract(epoch FROM now() - l.expires_at)::float8
    FROM leases l JOIN games g USING (game_id)
    WHERE NOT l.released AND l.expires_at < now() AND g.in_progress ORDER BY l.game_id"""
_NODES = """
    SELECT n.owner, n.name, count(l.game_id) FROM nodes n
    LEFT JOIN leases l ON l.owner = n.owner AND NOT l.released AND l.expires_at > now()
    WHERE n.seen_at > now() - make_interval(secs => $1)
    GROUP BY n.owner, n.name ORDER BY n.name, n.owner"""
_OWNER_OF = """
    SELECT n.name FROM leases l JOIN nodes n USING (owner)
    WHERE l.game_id = $1 AND NOT l.released AND l.expires_at > now()"""
_FREE_IN = """
    SELECT CASE WHEN released OR expires_at < now() THEN 0.0
                ELSE extract(epoch FROM expires_at - now())::float8 END
    FROM leases WHERE game_id = $1"""
_LEAVE = """
    WITH lapsed AS (
        UPDATE leases SET expires_at = now() - interval '1 millisecond'
        WHERE owner = $1 AND NOT released RETURNING 1),
    gone AS (DELETE FROM nodes WHERE owner = $1 RETURNING 1)
    SELECT pg_notify('gameserver_node_left', $1), (SELECT count(*) FROM lapsed)"""
_FENCE = """
    SELECT game_id, owner, epoch FROM leases WHERE game_id = ANY($1::text[])
    ORDER BY game_id FOR SHARE"""


class Database(Protocol):
    """What the leases need of :class:`~storage.adapters.postgresql.PostgreSQLAdapter`."""

    dsn: str

    @property
    def pool(self) -> asyncpg.Pool: ...

    def set_fence(self, fence: Fence | None) -> None: ...


class PostgreSQLLeases(Leases):
    """Leases of the games in ``adapter``'s database, for a server called ``name``."""

    def __init__(self, adapter: Database, name: str, seconds: float) -> None:
        if not 0.5 <= seconds <= 3600:
            raise ValueError(f"a lease must last from 0.5 to 3600 seconds, not {seconds!r}")
        self._adapter = adapter
        self.name = name
        self.owner = f"{name}/{secrets.token_hex(4)}"
        self.seconds = seconds
        self.held = {}
        self._listener: asyncpg.Connection | None = None
        self._waiting: dict[str, asyncio.Event] = {}
        self._closed = False

    # -- life

    async def open(self) -> None:
        await self._execute(_SEEN, self.owner, self.name)
        await self._listen()
        self._adapter.set_fence(self.fence)

    async def close(self) -> None:
        self._closed = True
        try:
            row = await self._fetch(_LEAVE, self.owner)
            log.info("left: %d leases lapse at once for the other servers", row[0][1])
        finally:
            self.held.clear()
            listener, self._listener = self._listener, None
            if listener is not None:
                await listener.close()

    async def _listen(self) -> None:
        """A connection of its own for LISTEN (pool connections keep no session state)."""
        try:
            listener = await asyncpg.connect(self._adapter.dsn)
            for channel in (HANDOVER, RELEASED, NODE_LEFT):
                await listener.add_listener(channel, self._heard)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            raise StorageError(f"postgresql: cannot listen for other servers: {exc}") from exc
        self._listener = listener

    def _heard(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        if channel == HANDOVER:
            if payload in self.held and self.on_handover is not None:
                self.on_handover(payload)
        elif channel == RELEASED:
            waiting = self._waiting.get(payload)
            if waiting is not None:
                waiting.set()
        elif channel == NODE_LEFT and payload != self.owner and self.on_node_left is not None:
            self.on_node_left()

    # -- leases

    async def acquire(self, game_ids: Sequence[str]) -> dict[str, int]:
        if not game_ids:
            return {}
        rows = await self._fetch(_ACQUIRE, sorted(set(game_ids)), self.owner, self.seconds)
        got = {game_id: epoch for game_id, epoch in rows}
        self.held.update(got)
        return got

    async def release(self, game_id: str, *, forget: bool = False) -> None:
        epoch = self.held.pop(game_id, None)
        if epoch is not None:
            await self._execute(_FORGET if forget else _RELEASE, game_id, self.owner, epoch)

    async def renew(self) -> set[str]:
        if (self._listener is None or self._listener.is_closed()) and not self._closed:
            await self._listen()  # the database restarted, or the connection broke
        held = dict(self.held)
        await self._execute(_SEEN, self.owner, self.name)
        rows = await self._fetch(_RENEW, self.owner, self.seconds, list(held))
        kept = {(game_id, epoch) for game_id, epoch in rows}
        lost = {game_id for game_id, epoch in held.items() if (game_id, epoch) not in kept}
        for game_id in lost:
            if self.held.get(game_id) == held[game_id]:  # not taken again meanwhile
                del self.held[game_id]
        return lost

    async def orphans(self) -> list[tuple[str, float]]:
        return [(game_id, lapsed) for game_id, lapsed in await self._fetch(_ORPHANS)]

    async def nodes(self) -> list[Node]:
        rows = await self._fetch(_NODES, self.seconds)
        return [Node(owner, name, games) for owner, name, games in rows]

    async def owner_of(self, game_id: str) -> str | None:
        rows = await self._fetch(_OWNER_OF, game_id)
        return rows[0][0] if rows else None

    async def ask_handover(self, game_id: str, within: float) -> bool:
        deadline = time.monotonic() + within
        event = self._waiting.setdefault(game_id, asyncio.Event())
        try:
            await self._execute("SELECT pg_notify($1, $2)", HANDOVER, game_id)
            while True:
                rows = await self._fetch(_FREE_IN, game_id)
                free_in = rows[0][0] if rows else 0.0
                left = deadline - time.monotonic()
                if free_in <= 0:
                    return True
                if left <= 0:
                    return False
                event.clear()
                # Woken by the release, or at the lapse; a second look either way.
                wait = min(left, free_in + 0.05)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), wait)
        finally:
            self._waiting.pop(game_id, None)

    # -- the fence

    async def fence(self, conn: asyncpg.Connection, game_ids: Sequence[str]) -> Collection[str]:
        """The games of a batch this server may not write: their lease is not ours (another
        owner or epoch), or there is none."""
        rows = await conn.fetch(_FENCE, list(game_ids))
        held = self.held
        me = self.owner
        ours = {g for g, owner, epoch in rows if owner == me and held.get(g) == epoch}
        refused = [game_id for game_id in game_ids if game_id not in ours]
        if refused:
            self.refused += len(refused)
            log.warning("fence: refused the writes of games %s (not ours)", ", ".join(refused))
        return refused

    # -- queries

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        pool = self._adapter.pool
        try:
            rows: list[Any] = await pool.fetch(sql, *args)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            raise StorageError(f"postgresql: leases: {exc}") from exc
        return rows

    async def _execute(self, sql: str, *args: Any) -> None:
        await self._fetch(sql, *args)
