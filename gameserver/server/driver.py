"""The driver of one game: carries out its room's effects, in order. Save, then tell.

The room (:mod:`gameserver.server.room`) decides; the driver does. It feeds the room events
with the time, and for each effect: awaits a save and feeds its outcome back to the room (whose
answer may hold more effects, carried out in turn), sends encoded messages to connections,
closes them, sets the game's one timer, and answers whoever waits for a command. Consecutive
saves in one list run together (they share the store's group commit); an effect after them
waits for all of them, so nothing is told before what it tells of is durable. A decision's save
goes with every other decision of the loop turn in one store call
(:mod:`gameserver.server.decisions`), and its outcome comes back through
:meth:`Driver.decision_saved`.

A game whose step is slow has its rounds played in a worker thread (a
:class:`~gameserver.server.events.PlayRound`), so the event loop and every other game go on
meanwhile; a round that takes longer than the game's timeout is given up (its thread cannot be
stopped: it runs to its end as a daemon thread, and what it returns is dropped).

Every background job (a timer firing, effects that arrived outside a request) runs as a task
owned by the hub, which waits for it at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol, TypeVar, cast

from gameserver.errors import GameServerError, StorageFailure
from gameserver.protocol import Submit, encode
from gameserver.server import changes
from gameserver.server import events as ev
from gameserver.server.decisions import DecisionSaves, Spawn
from gameserver.server.gamestore import SNAPSHOT_EVERY, GameStore, Snapshots
from gameserver.server.metrics import Metrics
from gameserver.server.room import Room
from gameserver.server.turn import Turn

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class Outbox(Protocol):
    """What the driver needs of a connection (:class:`~gameserver.server.connection.Connection`
    is one): queue encoded bytes without waiting, and close with a code."""

    def send(self, data: bytes) -> None: ...

    def close(self, code: int) -> None: ...

    def __hash__(self) -> int: ...


#: The effects a list waits for: saves, and rounds played in a worker thread. Decisions are not
#: among them: they are saved together at the end of the turn (:class:`DecisionSaves`), and
#: nothing in a list depends on one (the room tells of a decision only once its save is done).
_WAITED = (ev.SaveRound, ev.SaveGame, ev.PlayRound)


class Driver:
    """Runs one :class:`Room`: the only code that touches its game's storage, timer and
    connections."""

    def __init__(
        self,
        room: Room,
        store: GameStore,
        metrics: Metrics,
        spawn: Spawn,
        turn: Turn,
        decisions: DecisionSaves,
    ) -> None:
        self.room = room
        self._store = store
        self._metrics = metrics
        self._spawn = spawn
        self._turn = turn
        self._decisions = decisions
        self._timer: asyncio.TimerHandle | None = None
        #: Decisions whose saving someone awaits (:meth:`submit`), and what tells them it is done.
        self._waiting: dict[ev.SaveDecision, asyncio.Future[asyncio.Task[None] | None]] = {}
        self._running = 0  # effect lists being carried out (saves in flight)
        self.last_active = time.monotonic()
        # A model's engine steps slowly: its record is written whole every round, so that
        # reading it back never replays a step.
        self._snapshots = Snapshots(1 if room.game.slow_step else SNAPSHOT_EVERY)

    @property
    def game_id(self) -> str:
        return self.room.game_id

    # -- what connections and the API call ------------------------------------------------------

    async def submit(self, conn: Outbox, role: str, message: Submit) -> None:
        """Take a player's decision, and return once it is saved and what follows is done (an
        ack, or a round closed). Raises :class:`GameServerError` for a decision refused at
        once. Connections use :meth:`submit_now`, which does not wait."""
        saving = self.submit_now(conn, role, message)
        if saving is not None:
            await asyncio.shield(self._spawn(saving, f"decision {self.game_id}"))
            return
        for save in reversed(self.room.in_flight()):
            if save.role == role and save.pending.id == message.id:
                done: asyncio.Future[asyncio.Task[None] | None] = (
                    asyncio.get_running_loop().create_future()
                )
                self._waiting[save] = done
                follow_up = await done
                if follow_up is not None:
                    await follow_up
                return

    def submit_now(
        self, conn: Outbox, role: str, message: Submit
    ) -> Coroutine[Any, Any, None] | None:
        """Take a player's decision now: what needs no waiting is done (a refusal raises
        :class:`GameServerError`, a resend is acknowledged); what does (the save, then the ack)
        comes back as a coroutine for the caller to run."""
        # _handle, inline, and the room's submit without an event object: every decision.
        self.last_active = time.monotonic()
        effects = self.room.submit(
            conn, role, message.round, message.id, message.decision, time.time()
        )
        if len(effects) == 1 and isinstance(effects[0], ev.SaveDecision):
            self._decisions.add(self, effects[0])  # the common case: saved with the turn's others
            return None
        if any(isinstance(effect, _WAITED) for effect in effects):
            return self._carry(effects)
        self._apply(effects)
        return None

    def close_with(self, saves: list[ev.SaveDecision]) -> bool:
        """The turn ends with these decision saves not yet handed to the store: whether the
        room closed its round with them (:class:`events.TurnEnded`); then they are saved with
        the round, not on their own."""
        effects = self._handle(ev.TurnEnded(saves))
        if not effects:
            return False
        self._kick(effects)
        return True

    def decision_saved(self, save: ev.SaveDecision, error: GameServerError | None) -> None:
        """The outcome of a decision's save (from :class:`DecisionSaves`), to the room."""
        outcome: ev.Event = ev.Saved(save) if error is None else ev.SaveFailed(save, error)
        follow_up = self._kick(self._handle(outcome))
        waiting = self._waiting.pop(save, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(follow_up)

    async def command(self, make: Callable[[ev.Ref], ev.Command]) -> object:
        """Run a command (``make`` builds it around the ref it answers); its result, or the
        :class:`GameServerError` that refused it."""
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        # The saves run in a task of the hub's, not in the caller: a caller that goes away (a
        # client that disconnects during its hello's seat claim) must not cancel a save halfway,
        # or the room would wait for its outcome for ever and queue every later command.
        self._kick(self._handle(make(future)))
        return await future

    def connect(self, conn: Outbox, role: str | None, *, updates: bool = False) -> None:
        """A connection joined (``updates``: it takes each round's view as an update)."""
        self._kick(self._handle(ev.Connect(conn, role, updates)))

    def disconnect(self, conn: Outbox) -> None:
        self._kick(self._handle(ev.Disconnect(conn)))

    def sync(self, conn: Outbox) -> None:
        self._kick(self._handle(ev.RequestSync(conn)))

    def revive(self, grace: float, down_since: float | None = None) -> None:
        """After a restore or a load on access (see :class:`events.Revive`)."""
        self._kick(self._handle(ev.Revive(grace, down_since)))

    def idle_for(self, now: float) -> float | None:
        """Seconds this game has been idle (nothing connected, in flight or due), or None."""
        if self.room.has_peers() or self.room.busy or self._running:
            return None
        return now - self.last_active

    async def write_whole(self) -> None:
        """Write the game's record whole if rounds were stored after the last whole one (see
        :class:`Snapshots`): before it leaves memory, so that reading it needs no replay."""
        if self._snapshots.behind:
            record = self.room.record
            await self._store.save_game(record)
            self._snapshots.saved(record, self.room.round, whole=True)

    def stop(self) -> None:
        """Leave memory: no timer fires any more."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def settled(self, within: float) -> bool:
        """Wait until nothing is being saved (at most ``within`` seconds); whether so."""
        deadline = time.monotonic() + within
        while self._running or self.room.in_flight():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def close_all(self, code: int) -> None:
        for peer in self.room.peers():
            _conn(peer).close(code)

    # -- carrying out effects -------------------------------------------------------------------

    def _handle(self, event: ev.Event) -> list[ev.Effect]:
        self.last_active = time.monotonic()
        room = self.room
        effects = room.handle(event, time.time())
        if room.views_since is not None:  # a round's views, handed to its players next
            self._metrics.observe_round(time.time() - room.views_since)
            room.views_since = None
        return effects

    def _kick(self, effects: list[ev.Effect]) -> asyncio.Task[None] | None:
        """Carry out ``effects`` now if they need no waiting, else in a task of the hub's
        (returned)."""
        for effect in effects:
            if isinstance(effect, _WAITED):
                return self._spawn(self._carry(effects), f"effects {self.game_id}")
        self._apply(effects)  # an ack and a progress, most of the time
        return None

    async def _carry(self, effects: Sequence[ev.Effect]) -> None:
        self._running += 1
        try:
            index, count = 0, len(effects)
            while index < count:
                effect = effects[index]
                if not isinstance(effect, _WAITED):
                    self._apply_one(effect)
                    index += 1
                    continue
                end = index + 1
                while end < count and isinstance(effects[end], _WAITED):
                    end += 1
                if end == index + 1:
                    await self._wait_for(effect)
                else:
                    await asyncio.gather(*(self._wait_for(s) for s in effects[index:end]))  # type: ignore[arg-type]
                index = end
        finally:
            self._running -= 1

    async def _wait_for(self, effect: ev.SaveRound | ev.SaveGame | ev.PlayRound) -> None:
        """One save or round, then its outcome to the room, then what the room makes of it."""
        if isinstance(effect, ev.PlayRound):
            outcome = await self._play(effect)
        else:
            outcome = await self._save(effect)
        effects = self._handle(outcome)
        if isinstance(effect, ev.SaveRound) and effect.carries and self._waiting:
            # Someone awaits a decision this round was saved with (a submit through the API).
            waiters = [self._waiting.pop(c, None) for c in effect.carries]
            follow_up = self._kick(effects)
            for waiting in waiters:
                if waiting is not None and not waiting.done():
                    waiting.set_result(follow_up)
            return
        for then in effects:
            if isinstance(then, _WAITED):
                await self._carry(effects)
                return
        self._apply(effects)
        if isinstance(effect, ev.SaveRound):
            self._turn.now()  # the round's views leave at once (see Turn.now)

    async def _play(self, play: ev.PlayRound) -> ev.Event:
        game, pending = self.room.game, play.pending
        try:
            record, after = await asyncio.wait_for(
                _in_thread(
                    f"round {self.game_id}",
                    changes.closed_round,
                    game,
                    play.game,
                    pending,
                    play.reason,
                    play.at,
                ),
                play.timeout,
            )
        except TimeoutError:
            return ev.PlayFailed(play, f"it took longer than {play.timeout:g} s", timed_out=True)
        except Exception as exc:  # a fault in the game's rules must not wedge the game
            log.error("round of game %s could not be played", self.game_id, exc_info=exc)
            return ev.PlayFailed(play, f"{type(exc).__name__}: {exc}")
        return ev.Played(play, record, after)

    async def _save(self, save: ev.SaveRound | ev.SaveGame) -> ev.Event:
        """One save; its outcome for the room."""
        started = time.perf_counter()
        try:
            if isinstance(save, ev.SaveRound):
                round_no = save.record.round
                snapshots = self._snapshots
                whole, summary = snapshots.round_save(save.game, round_no, self.room.game)
                await self._store.append_round(save.record, save.game, whole=whole, summary=summary)
                snapshots.saved(save.game, round_no, whole=whole)
                self._metrics.rounds += 1
                self._metrics.decisions += len(save.carries)
            else:
                await self._store.save_game(save.game)
                round_no = self.room.game.current_round(save.game.state)
                self._snapshots.saved(save.game, round_no, whole=True)
        except GameServerError as exc:
            outcome: ev.Event = ev.SaveFailed(save, exc)
        except Exception as exc:  # the room must hear of every save, or its game stalls
            log.exception("save failed game=%s", self.game_id)
            outcome = ev.SaveFailed(save, StorageFailure(f"{type(exc).__name__}: {exc}"))
        else:
            self._metrics.saves.append(time.perf_counter() - started)
            outcome = ev.Saved(save)
        return outcome

    def _apply(self, effects: Sequence[ev.Effect]) -> None:
        for effect in effects:
            self._apply_one(effect)

    def _apply_one(self, effect: ev.Effect) -> None:
        if isinstance(effect, ev.Send):
            data = encode(effect.message)
            # Outboxes, as every peer the driver connects (a cast here is a call per message).
            peers: Sequence[Any] = effect.to
            for peer in peers:
                peer.send(data)
        elif isinstance(effect, ev.SaveDecision):
            self._decisions.add(self, effect)  # a bot's: saved with the turn's other decisions
        elif effect is ev.PROGRESS_DUE:
            self._turn.progress(id(self), self._send_progress)
        elif isinstance(effect, ev.Resolve):
            future = _future(effect.ref)
            if not future.done():
                future.set_result(effect.result)
        elif isinstance(effect, ev.Reject):
            future = _future(effect.ref)
            if not future.done():
                future.set_exception(effect.error)
        elif isinstance(effect, ev.Close):
            _conn(effect.peer).close(effect.code)
        elif isinstance(effect, ev.SetTimer):
            self._set_timer(effect.at)
        else:
            raise TypeError(f"the driver cannot carry out {effect!r}")

    def _send_progress(self) -> None:
        # Decisions saved in one group commit resume together: their progress goes out once.
        self._apply(self.room.progress())

    def _set_timer(self, at: float | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if at is not None:
            delay = max(0.0, at - time.time())
            self._timer = asyncio.get_running_loop().call_later(delay, self._timer_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        self._kick(self._handle(ev.TimerFired()))


async def _in_thread(name: str, function: Callable[..., _T], *args: Any) -> _T:
    """``function(*args)`` in a new daemon thread. Not an executor's: a thread whose caller
    gave up on it (a timeout) cannot be stopped, and an executor's threads are joined when the
    loop and the interpreter close, so one endless step would keep the server from exiting."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[_T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if not future.done():
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)

    def run() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = function(*args)
        except Exception as exc:  # handed to the awaiting coroutine, which decides
            error = exc
        except BaseException as exc:  # a SystemExit in a game's code must not pass for a stop
            error = RuntimeError(f"{type(exc).__name__} raised")
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await future


def _conn(peer: ev.Peer) -> Outbox:
    return cast(Outbox, peer)  # the driver only ever connects Outboxes


def _future(ref: ev.Ref) -> asyncio.Future[object]:
    assert isinstance(ref, asyncio.Future)
    return ref
