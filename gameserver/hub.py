"""The hub: which games are in memory, and how games enter and leave it.

Semantics follow Forio Epicenter's runs, made stronger. A game is saved on creation and at
every step, so the database always has it. Games idle longer than ``idle_timeout`` leave memory
after a final save; any action on such a game brings it back. A read of a game that is not in
memory comes from the database and does not bring it back. At start-up every game that was in
progress is restored (snapshot plus its pending decisions), with its timers re-armed.

The hub holds no lock over the server: each :class:`Room` owns its game. The only shared
bookkeeping is a dict of rooms and of loads in flight, changed between awaits.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import re
import secrets
import time
from collections.abc import Coroutine
from typing import Any

from gameserver import controls, tokens
from gameserver.config import Config
from gameserver.errors import Conflict, InvalidSettings, NotAuthorized, NotFound, StorageFailure
from gameserver.games import get_game
from gameserver.metrics import Metrics
from gameserver.room import Room
from gameserver.seat import CREATED, IN_PROGRESS, SNAPSHOT_VERSION, Pending, Seat
from storage import StorageError, Store, StoredGame

log = logging.getLogger("gameserver.hub")

MAX_TEAMS = 1000
#: What a game id (or session id) can look like; anything else is not looked up at all.
_ID = re.compile(r"[A-Za-z0-9]{1,32}")


def _check_id(game_id: str) -> None:
    # Ids arrive in URLs, tokens and join codes; one that cannot exist must not reach a store
    # (a file adapter would refuse it with an error of its own, a 500 instead of a 404).
    if not _ID.fullmatch(game_id):
        raise NotFound(f"no game {game_id[:40]!r}")


class Hub:
    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        #: Set by the app factory; compared in constant time by the API and the handshake.
        self.admin_key = ""
        self.rooms: dict[str, Room] = {}
        self.metrics = Metrics()
        self.restore_errors: list[str] = []
        self._loading: dict[str, asyncio.Future[Room | None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self.started_at = time.time()

    # -- life -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store and restore every game that was in progress."""
        await self.store.open()
        started = time.perf_counter()
        gc.disable()  # thousands of small dicts: the collector would walk them over and over
        try:
            result = await self.store.load_games(in_progress_only=True)
            for error in result.errors:
                self.restore_errors.append(str(error))
                log.error("restore failed: %s", error)
            for stored in result.games:
                try:
                    room = await self._room_from_stored(stored)
                except Exception as exc:  # one bad game must not stop the others
                    self.restore_errors.append(f"game {stored.game_id}: {exc}")
                    log.exception("restore failed game=%s", stored.game_id)
                    continue
                room.restored_at = time.time()
                self.rooms[room.game_id] = room
                room.revive(self.config.deadline_grace)
                log.info(
                    "restored game=%s round=%d status=%s", room.game_id, room.round, room.status
                )
        finally:
            gc.enable()
        gc.freeze()  # what was restored is long-lived: keep it out of every future collection
        self.metrics.restore_seconds = time.perf_counter() - started
        self.metrics.restored = len(self.rooms)
        if self.rooms or self.restore_errors:
            log.info(
                "restored %d games in %.3f s (%d errors)",
                len(self.rooms),
                self.metrics.restore_seconds,
                len(self.restore_errors),
            )
        self._sweeper = asyncio.create_task(self._sweep_loop(), name="eviction sweep")

    async def stop(self) -> None:
        """Finish in-flight work, then close the store. Every step is already saved."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        for room in self.rooms.values():
            room.stop()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)
        for room in list(self.rooms.values()):
            async with room.lock:  # wait for a round being saved
                pass
        await self.store.close()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """Run a background job owned by the hub (awaited at shutdown, errors logged)."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed: %r", task.get_name(), task.exception())

    # -- building rooms -------------------------------------------------------------------

    async def _room_from_stored(self, stored: StoredGame) -> Room:
        data = stored.data
        if data.get("v") != SNAPSHOT_VERSION:
            raise StorageError(f"game {stored.game_id}: unknown snapshot version {data.get('v')!r}")
        game = get_game(data["kind"])
        # A snapshot older than the last round (a store that cannot write both at once):
        # replay the rounds after it; the rules are deterministic.
        later = await self.store.load_rounds(
            stored.game_id, after=game.current_round(data["state"])
        )
        for record in later:
            rec = record.data
            data["state"] = game.step(data["state"], rec["decisions"])
            data["last_round_ids"] = rec.get("ids", {})
            if game.is_over(data["state"]):
                data["status"] = "finished"
        pending_round = game.current_round(data["state"]) + 1
        raw_pending = await self.store.load_decisions(stored.game_id, pending_round)
        pending = {
            seat: Pending(d["decision"], d["id"], d["at"])
            for seat, d in raw_pending.items()
            if any(s["role"] == seat for s in data["seats"])
        }
        return Room(self, game, data, pending)

    async def get_room(self, game_id: str) -> Room:
        """The game in memory, brought back from the database if it was evicted."""
        room = self.rooms.get(game_id)
        if room is not None:
            return room
        _check_id(game_id)
        waiting = self._loading.get(game_id)
        if waiting is not None:
            loaded = await waiting
        else:
            future: asyncio.Future[Room | None] = asyncio.get_running_loop().create_future()
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

    async def _load(self, game_id: str) -> Room | None:
        try:
            stored = await self.store.load_game(game_id)
        except StorageError as exc:
            raise StorageFailure(str(exc)) from exc
        if stored is None:
            return None
        room = await self._room_from_stored(stored)
        self.rooms[game_id] = room
        room.revive(self.config.deadline_grace)
        self.metrics.loaded_on_access += 1
        log.info("brought back game=%s round=%d", game_id, room.round)
        return room

    async def read_game(self, game_id: str) -> tuple[dict[str, Any], bool]:
        """A game's stored data and whether it is in memory; never loads it."""
        room = self.rooms.get(game_id)
        if room is not None:
            return room.to_data(), True
        _check_id(game_id)
        try:
            stored = await self.store.load_game(game_id)
        except StorageError as exc:
            raise StorageFailure(str(exc)) from exc
        if stored is None:
            raise NotFound(f"no game {game_id!r}")
        return stored.data, False

    # -- creating -------------------------------------------------------------------------

    def _new_data(
        self,
        kind: str,
        settings: dict[str, Any],
        *,
        title: str,
        seed: int | None,
        open_join: bool,
        round_seconds: float | None,
        session: tuple[str, str] | None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A new game's stored data, and its secrets (shown once, never stored in clear)."""
        game = get_game(kind)
        settings = game.validate_settings(settings)
        if round_seconds is not None and not 1 <= round_seconds <= 86400:
            raise InvalidSettings("round_seconds must be between 1 and 86400 seconds")
        game_id = tokens.new_id()
        while game_id in self.rooms:
            game_id = tokens.new_id()
        seed = secrets.randbits(31) if seed is None else seed
        facilitator_token = tokens.new_token(game_id)
        seats = [Seat(role, tokens.new_join_code(game_id)) for role in game.roles(settings)]
        data = {
            "v": SNAPSHOT_VERSION,
            "game_id": game_id,
            "kind": kind,
            "title": title,
            "settings": settings,
            "seed": seed,
            "state": game.initial_state(settings, seed),
            "status": CREATED,
            "seats": [s.to_data() for s in seats],
            "open_code": tokens.new_join_code(game_id) if open_join else None,
            "facilitator_hash": tokens.hash_secret(facilitator_token),
            "session_id": session[0] if session else None,
            "session_hash": session[1] if session else None,
            "round_seconds": round_seconds,
            "deadline": None,
            "paused_remaining": None,
            "created_at": time.time(),
            "cloned_from": None,
            "last_round_ids": {},
        }
        secrets_out = {
            "facilitator_token": facilitator_token,
            "join_codes": {s.role: s.join_code for s in seats},
            "open_code": data["open_code"],
        }
        return data, secrets_out

    async def _add(self, data: dict[str, Any]) -> Room:
        room = Room(self, get_game(data["kind"]), data, {})
        await room.save()
        self.rooms[room.game_id] = room
        self.metrics.created += 1
        log.info("created game=%s kind=%s session=%s", room.game_id, room.kind, room.session_id)
        return room

    async def create_game(
        self,
        kind: str,
        settings: dict[str, Any],
        *,
        title: str = "",
        seed: int | None = None,
        open_join: bool = False,
        round_seconds: float | None = None,
        autostart: bool = False,
        session: tuple[str, str] | None = None,
    ) -> tuple[Room, dict[str, Any]]:
        data, out = self._new_data(
            kind,
            settings,
            title=title,
            seed=seed,
            open_join=open_join,
            round_seconds=round_seconds,
            session=session,
        )
        room = await self._add(data)
        if autostart:
            await controls.start(room)
        return room, out

    async def create_session(
        self, kind: str, settings: dict[str, Any], teams: int, **options: Any
    ) -> tuple[str, str, list[tuple[Room, dict[str, Any]]]]:
        """N games of one kind and settings, grouped under a session with one token."""
        if not 1 <= teams <= MAX_TEAMS:
            raise InvalidSettings(f"teams must be between 1 and {MAX_TEAMS}, got {teams}")
        get_game(kind).validate_settings(settings)  # refuse before creating anything
        session_id = "S" + tokens.new_id()
        token = tokens.new_token(session_id)
        session = (session_id, tokens.hash_secret(token))
        title = options.pop("title", "") or ""
        made = []
        for n in range(1, teams + 1):
            made.append(
                await self.create_game(
                    kind, settings, title=f"{title} team {n}".strip(), session=session, **options
                )
            )
        log.info("created session=%s kind=%s teams=%d", session_id, kind, teams)
        return session_id, token, made

    async def clone_game(self, game_id: str, round_no: int) -> tuple[Room, dict[str, Any]]:
        """A new game (new id, seats, tokens) from the end of ``round_no`` of another."""
        source, _active = await self.read_game(game_id)
        game = get_game(source["kind"])
        last = game.current_round(source["state"])
        if not 0 <= round_no <= last:
            raise Conflict(f"round must be between 0 and {last} (completed rounds), got {round_no}")
        data, out = self._new_data(
            source["kind"],
            source["settings"],
            title=(source.get("title") or source["game_id"]) + f" (from round {round_no})",
            seed=source["seed"],
            open_join=source.get("open_code") is not None,
            round_seconds=source.get("round_seconds"),
            # A clone of a class's game stays in that class, so the class token controls it too.
            session=(source["session_id"], source["session_hash"])
            if source.get("session_id")
            else None,
        )
        state = game.initial_state(source["settings"], source["seed"])
        for record in await self.store.load_rounds(game_id, after=0):
            if record.round > round_no:
                break
            state = game.step(state, record.data["decisions"])
        if game.current_round(state) != round_no:
            raise StorageFailure(f"game {game_id}: round records end before round {round_no}")
        data["state"] = state
        data["cloned_from"] = {"game_id": game_id, "round": round_no}
        room = await self._add(data)
        # The clone's history starts with the source's rounds, so exports and debriefs are whole.
        for record in await self.store.load_rounds(game_id, after=0):
            if record.round > round_no:
                break
            await self.store.append_round(room.game_id, record.round, record.data, room.stored())
        log.info("cloned game=%s from=%s round=%d", room.game_id, game_id, round_no)
        return room, out

    async def delete_game(self, game_id: str) -> None:
        room = self.rooms.pop(game_id, None)
        if room is not None:
            room.stop()
            for seat in room.seats.values():
                for conn in seat.connections:
                    conn.close(4004)
            for conn in room.watchers:
                conn.close(4004)
        if not await self.store.delete_game(game_id) and room is None:
            raise NotFound(f"no game {game_id!r}")
        log.info("deleted game=%s", game_id)

    # -- finding --------------------------------------------------------------------------

    async def list_games(
        self, *, status: str | None = None, session_id: str | None = None
    ) -> list[tuple[dict[str, Any], bool]]:
        """Every game (memory first, then the database), optionally filtered."""
        seen: dict[str, tuple[dict[str, Any], bool]] = {
            gid: (room.to_data(), True) for gid, room in self.rooms.items()
        }
        result = await self.store.load_games()
        for stored in result.games:
            seen.setdefault(stored.game_id, (stored.data, False))
        out = [
            (data, active)
            for data, active in seen.values()
            if (status is None or data.get("status") == status)
            and (session_id is None or data.get("session_id") == session_id)
        ]
        out.sort(key=lambda item: item[0].get("created_at", 0))
        return out

    async def room_for_code(self, code: str) -> Room:
        try:
            return await self.get_room(tokens.owner_of_code(code))
        except NotFound:
            raise NotFound(f"no game has the join code {code!r}") from None

    async def room_for_token(self, token: str) -> tuple[Room, str]:
        """The room and seat a seat token opens."""
        try:
            room = await self.get_room(tokens.owner_of_token(token))
        except NotFound:
            raise NotAuthorized("unknown token", code="bad_token") from None
        for role, seat in room.seats.items():
            if tokens.matches(token, seat.token_hash):
                return room, role
        raise NotAuthorized("unknown token", code="bad_token")

    # -- eviction -------------------------------------------------------------------------

    async def evict_idle(self, *, now: float | None = None) -> int:
        """Save and drop games idle longer than the timeout; returns how many left memory."""
        now = time.monotonic() if now is None else now
        limit = self.config.idle_timeout
        evicted = 0
        for game_id, room in list(self.rooms.items()):
            if now - room.last_active < limit or room.has_connections() or room.timer_armed:
                continue
            if room.lock.locked() or room.closing or any(s.bot for s in room.seats.values()):
                continue
            async with room.lock:
                await room.save()
                if self.rooms.get(game_id) is room and not room.has_connections():
                    room.stop()
                    del self.rooms[game_id]
                    evicted += 1
                    self.metrics.evicted += 1
                    log.info("evicted game=%s round=%d status=%s", game_id, room.round, room.status)
        return evicted

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.sweep_interval)
            try:
                await self.evict_idle()
            except Exception:
                log.exception("eviction sweep failed")

    def in_progress_count(self) -> int:
        return sum(1 for r in self.rooms.values() if r.status in IN_PROGRESS)
