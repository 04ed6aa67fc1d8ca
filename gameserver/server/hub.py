"""The hub: which games are in memory, and how games enter and leave it.

Semantics follow Forio Epicenter's runs, made stronger. A game is saved on creation and at
every step, so the database always has it. Games idle longer than ``idle_timeout`` leave memory;
any action on such a game brings it back. A read of a game that is not in memory comes from the
database and does not bring it back. At start-up every game that was in progress is restored
(its record caught up with its rounds, plus its pending decisions), with its timer re-armed.

The hub holds no lock over the server: each game has its :class:`Driver`, and the only shared
bookkeeping is a dict of drivers and of loads in flight, changed between awaits. The hub owns
every background task (:meth:`Hub.spawn`) and waits for them at shutdown.

Servers sharing a PostgreSQL database run each game on one of them (:mod:`ownership`): a game
comes into this server's memory only once it holds the game's lease (at start-up, the games in
progress nobody else holds; on access, after the holder hands it over), and leaves it when the
lease goes (idle, handed over, lost to a takeover, shutdown).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from gameserver.errors import (
    CloseCode,
    Conflict,
    InvalidSettings,
    NotAuthorized,
    NotFound,
    StorageFailure,
)
from gameserver.game import State
from gameserver.games import get_game
from gameserver.protocol import ErrorCode, game_of_code, game_of_token
from gameserver.replay import replay_game
from gameserver.server import events as ev
from gameserver.server import listing, tokens
from gameserver.server.config import Config
from gameserver.server.decisions import DecisionSaves
from gameserver.server.driver import Driver
from gameserver.server.gamestore import GameStore, LoadedGame
from gameserver.server.heap import HeapTrim
from gameserver.server.metrics import Metrics
from gameserver.server.newgame import (
    MAX_TEAMS,
    MAX_TITLE,
    Options,
    check_id,
    check_options,
    new_record,
    off_loop,
)
from gameserver.server.ownership import Ownership
from gameserver.server.records import CloneSource, GameRecord
from gameserver.server.room import Room
from gameserver.server.turn import Turn
from storage import GameHeader, HeaderQuery

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class NewGame:
    """What creating a game gives: its driver and its secrets (shown once, stored hashed)."""

    driver: Driver
    facilitator_token: str


class Hub:
    def __init__(self, config: Config, store: GameStore, admin_key: str) -> None:
        self.config = config
        self.store = store
        #: Compared in constant time by the API and the handshake.
        self.admin_key = admin_key
        self.drivers: dict[str, Driver] = {}
        self.metrics = Metrics()
        self.restore_errors: list[str] = []
        self._loading: dict[str, asyncio.Future[Driver | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        #: What is sent to clients leaves at the end of each turn of the loop, together.
        self.turn = Turn()
        #: The decisions of each turn of the loop are saved together.
        self.decisions = DecisionSaves(store, self.metrics, self.spawn)
        self.started_at = time.time()
        #: Which games this server may run, if it shares its database with others.
        self.ownership: Ownership | None = None
        self._leaving: dict[str, asyncio.Future[None]] = {}  # games being handed over
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop it started in
        #: Gives back to the system what connections and games that left freed.
        self.heap = HeapTrim.of_libc()

    # -- life ---------------------------------------------------------------------------------

    async def start(self, down_since: float | None = None) -> None:
        """Open the store and restore every game that was in progress. ``down_since``: the
        last time the server was known to run before this start (see :class:`events.Revive`)."""
        self._loop = asyncio.get_running_loop()
        await self.store.open()
        leases = self.store.leases(self.config.node(), self.config.lease_seconds)
        if leases is not None:
            self.ownership = Ownership(leases, self)
            await self.ownership.start()
            log.info("node %s: sharing the database, leases of %g s", leases.owner, leases.seconds)
        regrouped = await self.store.regroup_legacy()
        if regrouped:
            log.info("gave %d games of an older database their class", regrouped)
        started = time.perf_counter()
        claim = self.ownership.claim_many if self.ownership is not None else None
        gc.disable()  # thousands of small dicts: the collector would walk them over and over
        try:
            loaded, errors = await self.store.load_in_progress(claim)
            for error in errors:
                self.restore_errors.append(error)
                log.error("restore failed: %s", error)
            for game in loaded:
                driver = self._driver(game, restored=True, down_since=down_since)
                log.info(
                    "restored game=%s round=%d status=%s",
                    driver.game_id,
                    driver.room.round,
                    driver.room.status,
                )
        finally:
            gc.enable()
        gc.freeze()  # what was restored is long-lived: keep it out of every future collection
        self.metrics.restore_seconds = time.perf_counter() - started
        self.metrics.restored = len(self.drivers)
        if self.drivers or self.restore_errors:
            log.info(
                "restored %d games in %.3f s (%d errors)",
                len(self.drivers),
                self.metrics.restore_seconds,
                len(self.restore_errors),
            )
        self._sweeper = asyncio.create_task(self._sweep_loop(), name="eviction sweep")

    async def stop(self) -> None:
        """Finish in-flight work, then close the store. Every step is already saved."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        self.heap.stop()
        for driver in self.drivers.values():
            driver.stop()
        for _ in range(10):  # a task may start another (a save's outcome); bounded
            if not self._tasks:
                break
            await asyncio.wait(list(self._tasks), timeout=10)
        if self.ownership is not None:
            await self.ownership.stop()  # the other servers take the games over at once
        await self.store.close()

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run a background job owned by the hub (awaited at shutdown, errors logged)."""
        # The loop's own create_task: asyncio.create_task looks the running loop up first, and
        # on Python 3.11 that is a getpid() system call, once a round.
        loop = self._loop or asyncio.get_running_loop()
        task = loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    def _driver(
        self, game: LoadedGame, *, restored: bool, down_since: float | None = None
    ) -> Driver:
        room = Room(get_game(game.record.kind), game.record, game.pending, restored=restored)
        driver = Driver(room, self.store, self.metrics, self.spawn, self.turn, self.decisions)
        self.drivers[room.game_id] = driver
        driver.revive(self.config.deadline_grace, down_since)
        return driver

    # -- finding games --------------------------------------------------------------------------

    async def driver(self, game_id: str) -> Driver:
        """The game in memory, brought back from the database if it was evicted."""
        driver = self.drivers.get(game_id)
        if driver is not None:
            return driver
        check_id(game_id)
        waiting = self._loading.get(game_id)
        if waiting is not None:
            loaded = await waiting
        else:
            future: asyncio.Future[Driver | None] = asyncio.get_running_loop().create_future()
            self._loading[game_id] = future
            try:
                loaded = await self._load(game_id)
                future.set_result(loaded)
            except BaseException as exc:
                future.set_exception(exc)
                future.exception()  # mark retrieved: other waiters re-raise it themselves
                raise
            finally:
                del self._loading[game_id]
        if loaded is None:
            raise NotFound(f"no game {game_id!r}")
        return loaded

    async def _load(self, game_id: str) -> Driver | None:
        ownership = self.ownership
        if ownership is not None:
            leaving = self._leaving.get(game_id)
            if leaving is not None:  # being handed over by this server: asked back at once
                await asyncio.shield(leaving)
            await ownership.claim(game_id)  # read the game only once it is ours
        game = await self.store.load(game_id)
        if game is None:
            if ownership is not None:
                await ownership.release(game_id, forget=True)
            return None
        driver = self._driver(game, restored=True)
        self.metrics.loaded_on_access += 1
        log.info("brought back game=%s round=%d", game_id, driver.room.round)
        return driver

    async def read(self, game_id: str) -> tuple[GameRecord, Room | None]:
        """A game's record and its room if it is in memory; never loads it."""
        driver = self.drivers.get(game_id)
        if driver is not None:
            return driver.room.record, driver.room
        check_id(game_id)
        record = await self.store.read(game_id)
        if record is None:
            raise NotFound(f"no game {game_id!r}")
        return record, None

    async def driver_for_code(self, code: str) -> Driver:
        try:
            return await self.driver(game_of_code(code))
        except NotFound:
            raise NotFound(f"no game has the join code {code!r}") from None

    async def driver_for_token(self, token: str) -> tuple[Driver, str]:
        """The game and seat a seat token opens."""
        try:
            driver = await self.driver(game_of_token(token))
        except NotFound:
            raise NotAuthorized("unknown token", code=ErrorCode.BAD_TOKEN) from None
        for seat in driver.room.record.seats:
            if tokens.matches(token, seat.token_hash):
                return driver, seat.role
        raise NotAuthorized("unknown token", code=ErrorCode.BAD_TOKEN)

    async def list_games(
        self, *, status: str | None = None, session_id: str | None = None
    ) -> list[tuple[GameRecord, Room | None]]:
        """Every game (memory first, then the database), or one class's, optionally filtered
        by status; oldest first."""
        found: dict[str, tuple[GameRecord, Room | None]] = {}
        for game_id, driver in self.drivers.items():
            if session_id is None or driver.room.record.session_id == session_id:
                found[game_id] = (driver.room.record, driver.room)
        for record in await self.store.list_games(group=session_id, known=found):
            found.setdefault(record.game_id, (record, None))
        out = [item for item in found.values() if status is None or item[0].status == status]
        out.sort(key=lambda item: item[0].created_at)
        return out

    async def list_page(
        self,
        *,
        status: str | None = None,
        session_id: str | None = None,
        after: tuple[float, str] | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> tuple[list[tuple[GameHeader, GameRecord | None, Room | None]], bool]:
        """A page of games from their stored headers, ordered by creation, and whether more
        follow. Each comes with its room and record when it is in memory; a stored game comes
        with its record only if its header has no summary to list it by (it was saved before
        summaries), so a page decodes no game's state but those."""
        query = HeaderQuery(
            groups=None if session_id is None else frozenset({session_id}),
            status=status,
            after=after,
            limit=None if limit is None else limit + 1,
            newest_first=newest_first,
        )
        headers = await self.store.list_headers(query)
        more = limit is not None and len(headers) > limit
        out: list[tuple[GameHeader, GameRecord | None, Room | None]] = []
        for header in headers[:limit]:
            driver = self.drivers.get(header.game_id)
            if driver is not None:
                out.append((header, driver.room.record, driver.room))
            elif listing.readable(header):
                out.append((header, None, None))
            else:
                try:
                    record = await self.store.read(header.game_id)
                except StorageFailure as exc:
                    log.error("listing: %s", exc)
                    continue
                if record is not None:
                    out.append((header, record, None))
        return out, more

    def in_progress_count(self) -> int:
        return sum(1 for d in self.drivers.values() if d.room.status.in_progress)

    # -- creating -------------------------------------------------------------------------------

    async def _new_record(
        self,
        kind: str,
        settings: Mapping[str, Any],
        options: Options,
        session: tuple[str, str] | None,
        state: State | None = None,
    ) -> tuple[GameRecord, str]:
        return await new_record(kind, settings, options, session, self.drivers, state)

    async def _add(self, record: GameRecord, autostart: bool) -> Driver:
        if self.ownership is not None:
            await self.ownership.claim(record.game_id)
        await self.store.save_game(record)
        driver = self._driver(LoadedGame(record, {}), restored=False)
        self.metrics.created += 1
        log.info(
            "created game=%s kind=%s session=%s", record.game_id, record.kind, record.session_id
        )
        if autostart:
            await driver.command(ev.Start)
        return driver

    async def create_game(
        self,
        kind: str,
        settings: Mapping[str, Any],
        options: Options = Options(),
        *,
        session: tuple[str, str] | None = None,
    ) -> NewGame:
        record, token = await self._new_record(kind, settings, options, session)
        return NewGame(await self._add(record, options.autostart), token)

    async def create_session(
        self, kind: str, settings: Mapping[str, Any], teams: int, options: Options
    ) -> tuple[str, str, list[NewGame]]:
        """N games of one kind and settings, grouped under a session (a class) with one token."""
        if not 1 <= teams <= MAX_TEAMS:
            raise InvalidSettings(f"teams must be between 1 and {MAX_TEAMS}, got {teams}")
        get_game(kind).validate_settings(settings)  # refuse before creating anything
        check_options(options)
        session_id = tokens.SESSION_PREFIX + tokens.new_id()
        token = tokens.new_token(session_id)
        session = (session_id, tokens.hash_secret(token))
        made = []
        for n in range(1, teams + 1):
            title = f"{options.title} team {n}".strip()
            made.append(
                await self.create_game(
                    kind, settings, replace(options, title=title), session=session
                )
            )
        log.info("created session=%s kind=%s teams=%d", session_id, kind, teams)
        return session_id, token, made

    async def clone_game(self, game_id: str, round_no: int) -> NewGame:
        """A new game (new id, seats, tokens) from the end of ``round_no`` of another."""
        source, _room = await self.read(game_id)
        game = get_game(source.kind)
        last = game.current_round(source.state)
        if not 0 <= round_no <= last:
            raise Conflict(f"round must be between 0 and {last} (completed rounds), got {round_no}")
        rounds = [r for r in await self.store.load_rounds(game_id) if r.round <= round_no]
        if len(rounds) != round_no:
            raise Conflict(f"game {game_id}: its round records end before round {round_no}")
        decisions = [r.decisions for r in rounds]
        states = await off_loop(game, replay_game, game, source.settings, source.seed, decisions)
        state = states[-1]
        title = (source.title or source.game_id) + f" (from round {round_no})"
        options = Options(
            title=title[:MAX_TITLE],
            seed=source.seed,
            open_join=source.open_code is not None,
            round_seconds=source.round_seconds,
        )
        # A clone of a class's game stays in that class, so the class token controls it too.
        session = (source.session_id, source.session_hash or "") if source.session_id else None
        record, token = await self._new_record(
            source.kind, source.settings, options, session, state
        )
        record = replace(record, cloned_from=CloneSource(game_id, round_no))
        driver = await self._add(record, autostart=False)
        # The clone's history starts with the source's rounds, so exports and debriefs are whole.
        await self.store.copy_rounds(game_id, record, round_no)
        log.info("cloned game=%s from=%s round=%d", record.game_id, game_id, round_no)
        return NewGame(driver, token)

    async def delete_game(self, game_id: str) -> None:
        ownership = self.ownership
        if ownership is not None and game_id not in self.drivers:
            check_id(game_id)
            await ownership.claim(game_id)  # only the holder may write, deleting too
        driver = self.drivers.pop(game_id, None)
        if driver is not None:
            driver.stop()
            driver.close_all(CloseCode.GAME_DELETED)
        try:
            if not await self.store.delete(game_id) and driver is None:
                raise NotFound(f"no game {game_id!r}")
        finally:
            if ownership is not None:
                await ownership.release(game_id, forget=True)
        log.info("deleted game=%s", game_id)

    # -- eviction -------------------------------------------------------------------------------

    async def evict_idle(self, *, now: float | None = None) -> int:
        """Drop games idle longer than the timeout (everything is saved); how many left."""
        now = time.monotonic() if now is None else now
        evicted = 0
        for game_id, driver in list(self.drivers.items()):
            idle = driver.idle_for(now)
            if idle is None or idle < self.config.idle_timeout:
                continue
            try:
                await driver.write_whole()
            except StorageFailure as exc:  # stays in memory; the next sweep tries again
                log.error("game %s stays in memory: %s", game_id, exc)
                continue
            if self.drivers.get(game_id) is not driver or driver.idle_for(now) is None:
                continue  # deleted, or someone came back, while it was written
            driver.stop()
            del self.drivers[game_id]
            evicted += 1
            self.metrics.evicted += 1
            room = driver.room
            log.info("evicted game=%s round=%d status=%s", game_id, room.round, room.status)
            if self.ownership is not None:
                await self.ownership.release(game_id)
        if evicted:
            self.heap.soon()
        return evicted

    # -- servers sharing a database (ownership.Runner) --------------------------------------------

    def drop(self, game_id: str, why: str) -> None:
        """The game is no longer ours (its lease was lost): out of memory at once, and its
        players reconnect (1012), through the proxy, to the server that has it now."""
        driver = self.drivers.pop(game_id, None)
        if driver is None:
            return
        driver.stop()
        driver.close_all(CloseCode.RESTARTING)
        self.heap.soon()
        log.warning("lost game=%s round=%d: %s", game_id, driver.room.round, why)

    async def hand_over(self, game_id: str) -> None:
        """Another server asks for a game this one holds: close its connections (they come
        back through the proxy to the server that asked), let its saves finish, release it."""
        ownership = self.ownership
        if ownership is None or game_id in self._leaving or game_id in self._loading:
            return
        await asyncio.sleep(ownership.hold_left(game_id))
        if not ownership.holds(game_id):
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._leaving[game_id] = done
        try:
            driver = self.drivers.pop(game_id, None)
            if driver is not None:
                driver.stop()
                driver.close_all(CloseCode.RESTARTING)
                await driver.settled(within=ownership.seconds)
                log.info("handed over game=%s round=%d", game_id, driver.room.round)
            await ownership.release(game_id)
            ownership.handed_over += 1
        finally:
            del self._leaving[game_id]
            done.set_result(None)

    async def take_over(self, game_id: str) -> None:
        """A game whose server died, froze or left: bring it into memory here."""
        if game_id in self.drivers:
            return
        driver = await self.driver(game_id)
        log.info("took over game=%s round=%d", game_id, driver.room.round)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.sweep_interval)
            try:
                await self.evict_idle()
            except Exception:
                log.exception("eviction sweep failed")
