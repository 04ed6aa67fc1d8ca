"""Which games this server may run, when several servers share one database.

One server alone (SQLite, or PostgreSQL with ``--lease-seconds 0``) owns every game and this
module does nothing. Servers sharing a PostgreSQL database each hold a lease per game they run
(:mod:`storage.leases`: owner, epoch, expiry), and the store refuses any write of a game whose
lease the writer does not hold, in the same transaction (the fence). So a game is advanced by
one server at a time, whatever the others believe. :class:`Ownership` keeps this server's
leases alive and acts on what happens to them:

- **Heartbeat**: every third of the lease time the leases are renewed. A game found lost (a
  server that was frozen or cut off, and woke up to find its games taken) leaves memory at once
  and its connections are closed with 1012, so that its players reconnect to the new owner. A
  server that cannot reach the database for a whole lease time lets go of every game likewise.
- **Takeover**: every half lease time (and at once when a server leaves) the games whose lease
  lapsed (their server died, froze or stopped) are taken over: each goes to the live server that
  :func:`home` picks, or to anyone once it has waited two lease times.
- **Handover**: a server asked for a game it does not hold (a player or a facilitator reached it
  through the proxy) asks the holder to hand the game over; the holder closes the game's
  connections, lets its saves finish and releases the lease. A game is held at least
  ``HOLD_SECONDS`` before it is handed on, so that two servers asked for the same game at once
  take turns rather than pass it back and forth.

Which server a game's requests reach is the proxy's choice (docs/deploy.md): it hashes
:func:`route_key`, so that every game of a class goes to one server, and class-wide actions
stay on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Coroutine, Sequence
from typing import Any, Protocol, TypeVar

from gameserver.errors import StorageFailure, Unavailable
from storage import StorageError
from storage.leases import Leases, Node

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Seconds a server keeps a game it took before handing it on to a server that asks.
HOLD_SECONDS = 2.0
#: The length of the part of a game id (and of a class id after its ``S``) the proxy routes by.
ROUTE_KEY_LENGTH = 8


def route_key(game_id: str) -> str:
    """What the proxy hashes for a game: the first 8 characters of its id, which a class's
    games share with the class (``SK3J9QX2A`` has games ``K3J9QX2A....``)."""
    return game_id[:ROUTE_KEY_LENGTH]


def home(game_id: str, nodes: Sequence[Node]) -> Node | None:
    """The live server a lapsed game goes to: rendezvous hashing of its route key over the
    servers, so a class stays together and the games spread evenly."""
    key = route_key(game_id)

    def weight(node: Node) -> bytes:
        return hashlib.blake2b(f"{key}/{node.owner}".encode(), digest_size=8).digest()

    return max(nodes, key=weight, default=None)


class Runner(Protocol):
    """What :class:`Ownership` needs of the hub."""

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]: ...

    def drop(self, game_id: str, why: str) -> None: ...

    async def hand_over(self, game_id: str) -> None: ...

    async def take_over(self, game_id: str) -> None: ...


class Ownership:
    """This server's leases (see the module docstring); None-safe: the hub has one only when
    its store has leases."""

    def __init__(self, leases: Leases, runner: Runner) -> None:
        self.leases = leases
        self._runner = runner
        self._since: dict[str, float] = {}  # when each held game was taken (monotonic)
        self._loops: list[asyncio.Task[None]] = []
        self._sweep_now = asyncio.Event()
        self._renewed_at = time.monotonic()
        self.taken_over = 0
        self.handed_over = 0
        self.lost = 0

    @property
    def name(self) -> str:
        return self.leases.name

    @property
    def seconds(self) -> float:
        return self.leases.seconds

    def prometheus(self) -> str:
        """This server's leases in the Prometheus text format: which games it owns."""
        name = self.name.replace("\\", "\\\\").replace('"', '\\"')
        lines = [
            "# HELP gameserver_node_info This server's name among those sharing its database.",
            "# TYPE gameserver_node_info gauge",
            f'gameserver_node_info{{node="{name}"}} 1',
            "# HELP gameserver_games_owned Games whose lease this server holds.",
            "# TYPE gameserver_games_owned gauge",
            f"gameserver_games_owned {len(self.leases.held)}",
            "# HELP gameserver_game_owned A game whose lease this server holds, with its epoch.",
            "# TYPE gameserver_game_owned gauge",
        ]
        lines += [
            f'gameserver_game_owned{{game="{game_id}"}} {epoch}'
            for game_id, epoch in sorted(self.leases.held.items())
        ]
        for what, count in (
            ("games_taken_over", self.taken_over),
            ("games_handed_over", self.handed_over),
            ("games_lost", self.lost),
            ("writes_fenced", self.leases.refused),
        ):
            lines += [
                f"# TYPE gameserver_{what}_total counter",
                f"gameserver_{what}_total {count}",
            ]
        return "\n".join(lines) + "\n"

    def holds(self, game_id: str) -> bool:
        return game_id in self.leases.held

    async def start(self) -> None:
        self.leases.on_handover = self._asked
        self.leases.on_node_left = self._sweep_now.set
        await _guard(self.leases.open(), "joining the other servers")
        self._loops = [
            asyncio.create_task(self._heartbeat(), name="lease heartbeat"),
            asyncio.create_task(self._takeovers(), name="lease takeovers"),
        ]

    async def stop(self) -> None:
        """Leave: the games' leases lapse at once, so the other servers take them over now."""
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await _guard(self.leases.close(), "leaving the other servers")

    # -- taking and giving up games -------------------------------------------------------------

    async def claim(self, game_id: str) -> None:
        """Hold ``game_id`` before running it: at once if it is free, else after its holder
        hands it over (or its lease lapses); :class:`Unavailable` if neither happens in time."""
        if self.holds(game_id):
            return
        deadline = time.monotonic() + self.seconds + HOLD_SECONDS + 1.0
        owner = None
        while not await self._acquire([game_id]):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            # Freed, then taken by another server first (a takeover): ask that one in turn.
            owner = await _guard(self.leases.owner_of(game_id), "reading the lease of ", game_id)
            log.info("game=%s is held by %s: asking for it", game_id, owner or "a server gone")
            await _guard(self.leases.ask_handover(game_id, left), "asking for ", game_id)
        else:
            return
        raise Unavailable(
            f"game {game_id} is being moved between servers (held by {owner or 'another server'});"
            " try again in a few seconds"
        )

    async def claim_many(self, game_ids: Sequence[str]) -> set[str]:
        """The games of ``game_ids`` that were free, now held (at start-up)."""
        return await self._acquire(game_ids)

    async def release(self, game_id: str, *, forget: bool = False) -> None:
        """The game left memory: its lease goes (a server waiting for it is told); with
        ``forget``, for good (no such game, or deleted)."""
        self._since.pop(game_id, None)
        await _guard(self.leases.release(game_id, forget=forget), "releasing ", game_id)

    def hold_left(self, game_id: str) -> float:
        """Seconds until a game taken just now may be handed on."""
        since = self._since.get(game_id)
        return 0.0 if since is None else max(0.0, since + HOLD_SECONDS - time.monotonic())

    async def _acquire(self, game_ids: Sequence[str]) -> set[str]:
        got = await _guard(self.leases.acquire(game_ids), "taking the lease of ", game_ids[0])
        now = time.monotonic()
        for game_id in got:
            self._since.setdefault(game_id, now)
        return set(got)

    def _asked(self, game_id: str) -> None:
        self._runner.spawn(self._runner.hand_over(game_id), f"handover {game_id}")

    # -- the loops ----------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        interval = self.seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                lost = await self.leases.renew()
            except StorageError as exc:
                silent = time.monotonic() - self._renewed_at
                log.error("lease renewal failed (%.1f s without): %s", silent, exc)
                if silent >= self.seconds:
                    # Other servers may take our games now: stop telling anyone anything.
                    for game_id in list(self.leases.held):
                        self._lose(game_id, "the database cannot be reached")
                continue
            self._renewed_at = time.monotonic()
            for game_id in lost:
                self._lose(game_id, "another server took it over")

    def _lose(self, game_id: str, why: str) -> None:
        self.leases.held.pop(game_id, None)
        self._since.pop(game_id, None)
        self.lost += 1
        self._runner.drop(game_id, why)

    def lost_write(self, game_id: str) -> None:
        """A write was refused by the fence: the game is no longer ours."""
        if self.holds(game_id):
            self._lose(game_id, "a write was refused by the fence")

    async def _takeovers(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sweep_now.wait(), self.seconds / 2)
            self._sweep_now.clear()
            try:
                await self._take_orphans()
            except Exception:
                log.exception("taking over games failed")

    async def _take_orphans(self) -> None:
        orphans = await self.leases.orphans()
        if not orphans:
            return
        nodes = await self.leases.nodes()
        mine = [
            game_id
            for game_id, lapsed in orphans
            if lapsed >= 2 * self.seconds or _is_me(home(game_id, nodes), self.leases.owner)
        ]
        for game_id in mine:
            try:
                await self._runner.take_over(game_id)
            except (Unavailable, StorageFailure) as exc:
                log.warning("could not take over game=%s: %s", game_id, exc)
            else:
                self.taken_over += 1


def _is_me(node: Node | None, owner: str) -> bool:
    return node is not None and node.owner == owner


async def _guard(call: Awaitable[T], what: str, subject: object = "") -> T:
    try:
        return await call
    except StorageError as exc:
        raise StorageFailure(f"{what}{subject}: {exc}") from exc
