"""The classes in memory: each class's lobby with its one owner, and what a lobby does to games.

A class (a session) keeps a :class:`~gameserver.server.lobby.ClassRecord` beside its games, as a
document of the store. Each class in memory has a :class:`ClassLobby`: its record, a lock its
changes take one at a time (one owner per class, as a game has its driver; never a lock over
the server), and an event that wakes the students waiting for its next change. Every change is
made by a pure function of :mod:`gameserver.server.lobby`, saved, and only then told: a student
hears they are in once their name is durable, and is sent to a seat once the teams are saved.

The lobby changes games through their drivers, with the commands a facilitator's actions use:
it claims a student's seat (``ClaimSeat`` with the hash of the student's seat token), frees a
seat (``ResetSeat``, which closes the connection on it with 4003), hands a seat to a bot or back
(``SetBot``). A student's seat token is derived from the admin key
(:func:`~gameserver.server.tokens.derived_token`), so the lobby gives the same token on every
device and after any crash, and puts a seat right (:meth:`Classes.seat_of`) whenever its student
asks for it: a crash between saving the teams and claiming their seats loses nobody.

Servers sharing a database: a proxy sends a class's requests to the server of its games (they
share the class's route key), and that server reads the class's record afresh before each
change, so a class that moved between servers (a failover) goes on from what was saved.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, cast

from gameserver.errors import Conflict, ErrorCode, InvalidSettings, NotAuthorized, NotFound
from gameserver.games import get_game, policies_for
from gameserver.protocol import GameStatus, announcement, encode
from gameserver.server import events as ev
from gameserver.server import lobby as lb
from gameserver.server import tokens
from gameserver.server.driver import Driver, Outbox
from gameserver.server.hub import Hub, NewGame
from gameserver.server.newgame import MAX_TEAMS, Options, check_id, check_options
from gameserver.server.records import BotSeat

log = logging.getLogger(__name__)


#: Seconds between two wake-ups of a lobby's waiting students, at least: the changes of that
#: time are told together. Every waiting student's page asks again as soon as it is answered,
#: so telling each change at once answered every waiting student for every student who
#: arrived: 300 students joining within 10 s made 24,853 answers (61 MB) and took 7.8 s of the
#: server's CPU; 1,000 within 20 s held it at 90% of a core.
TELL_EVERY = 0.5
#: And at most this many answers a second from one lobby's wake-ups: with more students
#: waiting, the wake-ups come further apart (1,000 waiting: every 2 s).
TOLD_PER_SECOND = 500


class ClassLobby:
    """One class in memory: its record (as saved), the lock of its changes, its waiters."""

    def __init__(self, record: lb.ClassRecord) -> None:
        self.record = record
        self.lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._told_at = -TELL_EVERY  # loop time of the last wake-up
        self._telling: asyncio.TimerHandle | None = None  # the next one, when it is due later
        #: Students waiting for a change now (:meth:`wait_past`).
        self.waiters = 0

    @property
    def session_id(self) -> str:
        return self.record.session_id

    def notify(self, *, now: bool = False) -> None:
        """The record changed: wake everyone waiting for a change, at once if the last wake-up
        was :data:`TELL_EVERY` ago or ``now`` (the server stopping), else when it will be."""
        if self._telling is not None and not now:
            return  # due already: it tells this change too
        loop = asyncio.get_running_loop()
        wait = self._told_at + self.tell_every() - loop.time()
        if now or wait <= 0:
            self._tell()
        else:
            self._telling = loop.call_later(wait, self._tell)

    def tell_every(self) -> float:
        """Seconds between two wake-ups, at least: :data:`TELL_EVERY`, or as long as it takes
        to answer the students waiting at :data:`TOLD_PER_SECOND` (longer from 250 waiting)."""
        return max(TELL_EVERY, self.waiters / TOLD_PER_SECOND)

    async def wait_past(self, version: int, stopping: Callable[[], bool]) -> None:
        """Until the record is past ``version`` (now, if it is) or ``stopping()``; bound it
        with a timeout. A wake-up may tell only changes the waiter has seen (they are told
        together, a little later): then it waits on."""
        self.waiters += 1
        try:
            while (changed := self.changed_after(version)) is not None and not stopping():
                await changed.wait()
        finally:
            self.waiters -= 1

    def _tell(self) -> None:
        if self._telling is not None:
            self._telling.cancel()
            self._telling = None
        self._told_at = asyncio.get_running_loop().time()
        self._changed.set()
        self._changed = asyncio.Event()  # for the next ones

    def changed_after(self, version: int) -> asyncio.Event | None:
        """None if the record is past ``version`` already, else the event its next change
        sets (to wait on, with a timeout of the waiter's own)."""
        return None if self.record.version > version else self._changed


class Classes:
    """Every class with a lobby that was asked for since start-up (a few kilobytes each)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.stopping = False
        self._lobbies: dict[str, ClassLobby] = {}

    def stop(self) -> None:
        """The server is shutting down: everyone waiting gets their answer now."""
        self.stopping = True
        for lobby in self._lobbies.values():
            lobby.notify(now=True)

    # -- secrets, derived (see tokens) ----------------------------------------------------------

    def student_token(self, session_id: str, student_id: str) -> str:
        """``<class id>.<student id>.<secret>``: what a student's device keeps."""
        return tokens.derived_token(self.hub.admin_key, f"{session_id}.{student_id}", "student")

    def rejoin_code(self, session_id: str, student_id: str) -> str:
        """Six characters a student types on another device, with their name."""
        return tokens.derived_code(self.hub.admin_key, "rejoin", session_id, student_id)

    def seat_token(self, session_id: str, student_id: str, seat: lb.Seat) -> str:
        """The token of a student's seat: the game's seat token, as a join would give it."""
        key = self.hub.admin_key
        return tokens.derived_token(key, seat.game_id, "seat", session_id, student_id, seat.role)

    def student_of(self, lobby: ClassLobby, token: str) -> lb.Student:
        """The student whose lobby token this is."""
        session_id, _, rest = token.partition(".")
        student_id = rest.partition(".")[0]
        if session_id == lobby.session_id and student_id:
            expected = self.student_token(session_id, student_id)
            if secrets.compare_digest(token.encode(), expected.encode()):
                found = lobby.record.indexed().by_id.get(student_id)
                if found is not None:
                    return found
        raise NotAuthorized("this token is no student's of that class", code=ErrorCode.BAD_TOKEN)

    # -- finding and making classes -------------------------------------------------------------

    async def find(self, session_id: str) -> ClassLobby | None:
        """The class's lobby, read from storage if need be; None for a class without one."""
        found = self._lobbies.get(session_id)
        if found is not None:
            return found
        check_id(session_id, "class")
        record = await self.hub.store.read_class(session_id)
        if record is None:
            return None
        return self._lobbies.setdefault(session_id, ClassLobby(record))  # a load meanwhile wins

    async def get(self, session_id: str) -> ClassLobby:
        lobby = await self.find(session_id)
        if lobby is None:
            raise NotFound(f"no class {session_id[:40]!r} with a lobby")
        return lobby

    async def create(
        self, kind: str, settings: Mapping[str, Any], teams: int, options: Options
    ) -> tuple[ClassLobby, str, list[NewGame]]:
        """A class with its lobby, and ``teams`` games made now (0: the lobby forms them)."""
        if not 0 <= teams <= MAX_TEAMS:
            raise InvalidSettings(f"teams must be between 0 and {MAX_TEAMS}, got {teams}")
        valid = get_game(kind).validate_settings(settings)
        check_options(options)
        session_id = tokens.SESSION_PREFIX + tokens.new_id()
        token = tokens.new_token(session_id)
        record = lb.ClassRecord(
            session_id=session_id,
            token_hash=tokens.hash_secret(token),
            kind=kind,
            settings=valid,
            title=options.title,
            created_at=time.time(),
            round_seconds=options.round_seconds,
            seed=options.seed,
            open_join=options.open_join,
        )
        lobby = self._lobbies.setdefault(session_id, ClassLobby(record))
        async with lobby.lock:
            await self._save(lobby, record)
            made = [await self._new_game(record, n, options.autostart) for n in range(1, teams + 1)]
            if made:
                await self._save(lobby, record.changed(games=tuple(m.driver.game_id for m in made)))
        log.info("created class=%s kind=%s teams=%d", session_id, kind, teams)
        return lobby, token, made

    async def _new_game(self, record: lb.ClassRecord, team: int, autostart: bool) -> NewGame:
        options = Options(
            title=f"{record.title} team {team}".strip(),
            seed=record.seed,
            open_join=record.open_join,
            round_seconds=record.round_seconds,
            autostart=autostart,
        )
        session = (record.session_id, record.token_hash)
        return await self.hub.create_game(record.kind, record.settings, options, session=session)

    async def _fresh(self, lobby: ClassLobby) -> lb.ClassRecord:
        """The class's record to change (its lock held). With servers sharing a database the
        stored one: the class may have been run by another server meanwhile (a proxy sends a
        class to one server, but after a failover to another, and back)."""
        if self.hub.ownership is not None:
            stored = await self.hub.store.read_class(lobby.session_id)
            if stored is not None and stored.version != lobby.record.version:
                lobby.record = stored
                lobby.notify()
        return lobby.record

    async def _save(self, lobby: ClassLobby, record: lb.ClassRecord) -> None:
        """Save, then tell: the record is the lobby's once durable, and waiters wake."""
        await self.hub.store.save_class(record)
        lobby.record = record
        lobby.notify()

    # -- students -------------------------------------------------------------------------------

    async def join(
        self, lobby: ClassLobby, name: object, client_id: str, rejoin: str | None
    ) -> tuple[lb.Student, bool]:
        """A student joining with a name (see :func:`lobby.join`); saved before it returns."""
        session_id = lobby.session_id
        async with lobby.lock:
            record, student, new = lb.join(
                await self._fresh(lobby),
                name,
                tokens.hash_secret(client_id),
                rejoin,
                lambda student_id: self.rejoin_code(session_id, student_id),
            )
            if new:
                await self._save(lobby, record)
                log.info("class=%s student=%s joined", session_id, student.id)
        return student, new

    async def seat_of(self, lobby: ClassLobby, student_id: str) -> tuple[lb.Student, str | None]:
        """The student and, if seated, their seat's token, the seat made right first: claimed
        with that token and the student's name (after a crash, or a reset, it may not be)."""
        async with lobby.lock:
            student = (await self._fresh(lobby)).student(student_id)
            if student.seat is None:
                return student, None
            await self._claim(lobby.record, student, student.seat, from_bot=False)
        return student, self.seat_token(lobby.session_id, student.id, student.seat)

    async def _claim(
        self, record: lb.ClassRecord, student: lb.Student, seat: lb.Seat, *, from_bot: bool
    ) -> None:
        """Put ``student`` on ``seat`` of its game, whoever held it (and with ``from_bot`` take
        it from a bot)."""
        driver = await self.hub.driver(seat.game_id)
        want = tokens.hash_secret(self.seat_token(record.session_id, student.id, seat))
        role = seat.role
        current = driver.room.record.seat(role)
        if current.token_hash != want or current.name != student.name:
            if current.claimed:
                code = tokens.new_join_code(seat.game_id)
                await driver.command(lambda ref: ev.ResetSeat(ref, role, code))
            await driver.command(lambda ref: ev.ClaimSeat(ref, role, student.name, want))
        if from_bot and driver.room.record.seat(role).bot is not None:
            await driver.command(hand_to(role, None))

    async def _vacate(
        self, record: lb.ClassRecord, student: lb.Student, seat: lb.Seat, bot: BotSeat
    ) -> None:
        """``student`` left ``seat``: free it (their page is closed with 4003 and asks the
        lobby where to go) and hand it to a bot, so that the team plays on."""
        driver = await self.hub.driver(seat.game_id)
        if driver.room.status.over:
            return
        role = seat.role
        held = driver.room.record.seat(role)
        token = self.seat_token(record.session_id, student.id, seat)
        if held.token_hash == tokens.hash_secret(token):
            code = tokens.new_join_code(seat.game_id)
            await driver.command(lambda ref: ev.ResetSeat(ref, role, code))
        if driver.room.record.seat(role).bot is None:
            await driver.command(hand_to(role, bot))

    # -- the facilitator's changes ----------------------------------------------------------------

    async def form(
        self, lobby: ClassLobby, order: lb.Order, seed: int, bot: BotSeat
    ) -> lb.ClassRecord:
        """Teams for every student waiting (see :func:`lobby.plan_teams`): games made or
        reused, the record saved, then every seat claimed or handed to ``bot``."""
        async with lobby.lock:
            record = await self._fresh(lobby)
            roles = get_game(record.kind).roles(record.settings)
            reusable = [g for g in record.games if await self._unused(record, g)]
            teams = lb.plan_teams(record, roles, reusable, order, seed)
            games = list(record.games)
            ready: list[lb.Team] = []
            for team in teams:
                if team.game_id is None:
                    made = await self._new_game(record, len(games) + 1, autostart=False)
                    games.append(made.driver.game_id)
                    team = replace(team, game_id=made.driver.game_id)
                ready.append(team)
            record = lb.formed(record, ready)
            await self._save(lobby, record)
            for team in ready:
                assert team.game_id is not None
                for role, student_id in team.seats:
                    seat = lb.Seat(team.game_id, role)
                    if student_id is not None:
                        student = record.student(student_id)
                        await self._claim(record, student, seat, from_bot=True)
                    else:
                        driver = await self.hub.driver(team.game_id)
                        await driver.command(hand_to(role, bot))
        log.info("class=%s formed %d teams (%s)", lobby.session_id, len(ready), order)
        return record

    async def _unused(self, record: lb.ClassRecord, game_id: str) -> bool:
        """Whether a game of the class can take a new team: not started, nobody on it."""
        if any(s.seat and s.seat.game_id == game_id for s in record.students):
            return False
        try:
            game, _room = await self.hub.read(game_id)
        except NotFound:
            return False
        return game.status is GameStatus.CREATED and not any(s.claimed or s.bot for s in game.seats)

    async def move(
        self, lobby: ClassLobby, student_id: str, target: lb.Seat | None, bot: BotSeat
    ) -> lb.ClassRecord:
        """Put a student on a seat of a class's game, or back to waiting (see
        :func:`lobby.move`): saved, then the seats changed, then everyone told."""
        async with lobby.lock:
            record = await self._fresh(lobby)
            if target is not None:
                await self._check_target(record, target)
            record, moves = lb.move(record, student_id, target)
            if not moves:
                return record
            await self._save(lobby, record)
            arriving = {m.after for m in moves if m.after is not None}
            for m in moves:
                if m.after is not None:
                    await self._claim(record, m.student, m.after, from_bot=True)
            for m in moves:
                if m.before is not None and m.before not in arriving:
                    await self._vacate(record, m.student, m.before, bot)
        log.info("class=%s moved %s", lobby.session_id, ", ".join(_moved(m) for m in moves))
        return record

    async def _check_target(self, record: lb.ClassRecord, target: lb.Seat) -> None:
        game, _room = await self.hub.read(target.game_id)
        if game.session_id != record.session_id:
            raise NotFound(f"game {target.game_id} is not a game of class {record.session_id}")
        if target.role not in game.roles:
            raise NotFound(
                f"no role {target.role!r}; roles are {', '.join(game.roles)}",
                code=ErrorCode.NO_SUCH_ROLE,
            )
        if game.status.over:
            raise Conflict(f"game {target.game_id} is {game.status}: nobody can join it")
        seat = game.seat(target.role)
        if record.holder(target) is None and seat.claimed:
            ours = any(
                tokens.matches(self.seat_token(record.session_id, s.id, target), seat.token_hash)
                for s in record.students
            )
            if not ours:  # a student a crash or a reset left there is ours to move
                raise Conflict(
                    f"the {target.role} seat of game {target.game_id} is held by "
                    f"{seat.name or 'a player'}, who joined with its code: reset the seat first"
                )

    async def remove(self, lobby: ClassLobby, student_id: str, bot: BotSeat) -> lb.ClassRecord:
        """Take a student out of the class; a bot takes their seat."""
        async with lobby.lock:
            record, student = lb.remove(await self._fresh(lobby), student_id)
            await self._save(lobby, record)
            if student.seat is not None:
                await self._vacate(record, student, student.seat, bot)
        return record

    async def set_roster(self, lobby: ClassLobby, names: Sequence[object] | None) -> None:
        """The names students pick from (None: they type any name)."""
        roster = None if names is None else lb.clean_roster(names)
        async with lobby.lock:
            await self._save(lobby, (await self._fresh(lobby)).changed(roster=roster))

    async def announce(self, lobby: ClassLobby, text: object) -> int:
        """The facilitator's message to the class: saved, then sent to everyone connected to a
        class's game (and to the lobby's waiters). How many connections it was sent to."""
        async with lobby.lock:
            record = lb.with_message(await self._fresh(lobby), text, time.time())
            await self._save(lobby, record)
        notice = record.message
        assert notice is not None
        data = encode(announcement(notice.text, notice.at, notice.number))
        sent = 0
        for driver in list(self.hub.drivers.values()):
            if driver.room.record.session_id == lobby.session_id:
                for peer in driver.room.peers():
                    cast(Outbox, peer).send(data)
                    sent += 1
        log.info(
            "class=%s message %d sent to %d connections", lobby.session_id, notice.number, sent
        )
        return sent


async def fill_with_bots(driver: Driver, bot: BotSeat) -> list[str]:
    """Hand every seat of a game that nobody holds, and no bot plays, to ``bot``; the roles."""
    if driver.room.status.over:
        raise Conflict(f"the game is {driver.room.status}; its seats stay as they are")
    filled = []
    for seat in driver.room.record.seats:
        if not seat.claimed and seat.bot is None:
            await driver.command(hand_to(seat.role, bot))
            filled.append(seat.role)
    return filled


def hand_to(role: str, bot: BotSeat | None) -> Callable[[ev.Ref], ev.Command]:
    """The command that hands ``role`` to ``bot`` (None: back to a person)."""
    return lambda ref: ev.SetBot(ref, role, bot)


def default_bot(kind: str) -> BotSeat:
    """The bot the lobby seats: the kind's first policy (``/api/kinds`` lists it first)."""
    return BotSeat(next(iter(policies_for(kind))), {})


def _moved(m: lb.Move) -> str:
    where = f"{m.after.game_id}/{m.after.role}" if m.after else "waiting"
    return f"{m.student.id}->{where}"
