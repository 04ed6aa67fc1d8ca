"""One game's round machine, with no I/O: events in, effects out.

A :class:`Room` owns one game. :meth:`Room.handle` takes an event (a submit, a connection, a
facilitator's command, a timer, the outcome of a save) and the current time, and returns what
must happen (save this, send that to these peers, set a timer, answer that command);
:meth:`Room.submit` is the same for a submit given as its fields (the driver's way, every
decision, with no event object to make). It never awaits, reads a clock, touches a socket or
calls storage; the driver does all of that.

The rule throughout is *save, then tell*: the room changes its game only when a save of the
change has completed (a :class:`~gameserver.server.events.Saved` event), and only then emits
the effects that tell anyone about it. A decision is acknowledged, a round's views are sent
and a command is answered after their save. While a change of the game's record is being saved
(a round closing, a command), further commands wait in the room's queue, so two commands never
race; decisions go on being taken meanwhile.

Closing a round (when every seat has decided, the deadline passes, or the facilitator closes
it) is in :mod:`gameserver.server.closing`: the room keeps its :class:`Closing` while it waits,
plays and saves, and carries on with its commands, timer and bots once it is over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from gameserver.errors import Conflict, ErrorCode, GameServerError, NotFound
from gameserver.game import Game
from gameserver.protocol import (
    GameInfo,
    GameStatus,
    SeatInfo,
    ServerMessage,
    ack,
    error_message,
    progress,
)
from gameserver.server import changes, messages
from gameserver.server import events as ev
from gameserver.server.alarm import Alarm
from gameserver.server.audience import Audience
from gameserver.server.ballot import Ballot
from gameserver.server.bots import BotPolicies
from gameserver.server.closing import (
    Closing,
    acks,
    decision_failed,
    log_closed,
    not_saved,
    to_watchers,
    views,
)
from gameserver.server.records import GameRecord, PendingDecision

log = logging.getLogger(__name__)

RUNNING, PAUSED, CREATED = GameStatus.RUNNING, GameStatus.PAUSED, GameStatus.CREATED


@dataclass(frozen=True, slots=True)
class _Change:
    """A command whose new record is being saved, and what it answers (a revive's answers
    nobody: it moves a restored round's deadline, :meth:`Room._revive`)."""

    command: ev.Command | ev.Revive
    save: ev.SaveGame
    result: object = None


class Room:
    """A game in memory: its record, the decisions of its open round, who is connected."""

    def __init__(
        self,
        game: Game,
        record: GameRecord,
        pending: dict[str, PendingDecision] | None = None,
        *,
        restored: bool = False,
    ) -> None:
        self.game = game
        self.record = record
        self.round = self.open_round = 0
        self._set_record(record)
        self._ballot = Ballot(pending)
        #: Whether the game was brought back from storage (a restart or a load on access).
        self.restored = restored
        self._audience = Audience(seat.role for seat in record.seats)
        self._peers = self._audience.players  # each role's connection, looked up per decision
        self._closing: Closing | None = None
        self._change: _Change | None = None
        #: What every connection was last told of the round's progress (a ``progress``, or a
        #: ``round`` to all), or None once one may know something else (a sync went out).
        self._told: tuple[object, ...] | None = None
        #: Set when :meth:`handle` makes a round's views: when that round closed (Unix time),
        #: for the wait the driver measures (``gameserver_round_seconds``); it clears it.
        self.views_since: float | None = None
        # A list, not a deque: it is empty nearly always, and an empty deque is 760 bytes.
        self._queue: list[ev.Command] = []
        self._alarm = Alarm()
        self._bots = BotPolicies()

    # -- what the room knows ------------------------------------------------------------------

    @property
    def game_id(self) -> str:
        return self.record.game_id

    @property
    def pending(self) -> dict[str, PendingDecision]:
        """The durable decision of each seat for the open round."""
        return self._ballot.pending

    @property
    def status(self) -> GameStatus:
        return self.record.status

    def _set_record(self, record: GameRecord) -> None:
        """Take ``record`` as the game (it was saved, or came from storage)."""
        self.record = record
        #: Rounds completed, and the round decisions are collected for (kept, not computed:
        #: they are read several times per decision).
        self.round = self.game.current_round(record.state)
        self.open_round = self.round + 1

    @property
    def closing(self) -> bool:
        return self._closing is not None

    @property
    def busy(self) -> bool:
        """Something is in flight: a save, a close, a queued command, a timer, or a bot seat
        that will decide. A busy room must stay in memory."""
        return bool(
            self._ballot.in_flight
            or self._closing
            or self._change
            or self._queue
            or self._alarm.at is not None
            or any(seat.bot for seat in self.record.seats)
        )

    def submitted(self) -> list[str]:
        """The roles with a durable decision for the open round, in seat order."""
        return self.seat_lists()[0]

    def seat_lists(self) -> tuple[list[str], list[str], list[str], list[str]]:
        """The roles that submitted, the roles online (connected, or played by a bot), the
        bots' and every role, in seat order, in one pass over the seats (every round's message
        has all four)."""
        submitted: list[str] = []
        online: list[str] = []
        bots: list[str] = []
        roles: list[str] = []
        peers, pending = self._peers, self._ballot.pending
        for seat in self.record.seats:
            role = seat.role
            roles.append(role)
            if role in pending:
                submitted.append(role)
            if seat.bot:
                bots.append(role)
                online.append(role)
            elif peers[role]:
                online.append(role)
        return submitted, online, bots, roles

    def peers(self) -> list[ev.Peer]:
        """Every connection on the game: players and facilitators."""
        return self._audience.everyone()

    def in_flight(self) -> list[ev.SaveDecision]:
        """The decision saves asked for and not done yet, oldest first."""
        return list(self._ballot.in_flight)

    def has_peers(self) -> bool:
        return self._audience.any()

    def all_in(self) -> bool:
        # pending only ever holds the game's roles: counting them is enough.
        return len(self._ballot.pending) == len(self._peers)

    def seat_infos(self) -> list[SeatInfo]:
        """Each seat: who holds it, whether a bot plays it, online, submitted."""
        return messages.seat_infos(self.record.seats, self._peers, self._ballot.pending)

    # -- messages -----------------------------------------------------------------------------

    def _info(self, now: float) -> GameInfo:
        """The ``status`` message; every message about the game's progress starts with it."""
        return messages.game_info(self, now)

    def sync_message(self, role: str | None, now: float) -> ServerMessage:
        """The full picture a client gets on every (re)connection."""
        self._told = None
        return messages.sync(self, role, now)

    def progress(self) -> list[ev.Effect]:
        """The progress message for everyone (see :class:`ProgressDue`); none while a round
        is being saved, since its ``round`` message will say the same, nor when it would say
        what everyone was last told: decisions saved with the round they complete are heard
        of in the turn their ``round`` message goes out, and it says it already."""
        if self._closing is not None and self._closing.save is not None:
            return []
        submitted, online, bots, _ = self.seat_lists()
        told = (self.round, self.open_round, submitted, online, bots)
        if told == self._told:
            return []
        self._told = told
        return [ev.Send(self.peers(), progress(*told))]

    def _status(self, now: float) -> ev.Send:
        return ev.Send(self.peers(), self._info(now))

    # -- the one entry point ------------------------------------------------------------------

    def handle(self, event: ev.Event, now: float) -> list[ev.Effect]:
        """Take one event at Unix time ``now``; return the effects, in the order to carry
        them out. A submit the game refuses raises :class:`GameServerError` (and changes
        nothing); a refused command comes back as :class:`Reject`."""
        match event:
            case ev.Submit():
                e = event
                return self.submit(e.peer, e.role, e.round, e.id, e.decision, now)
            case ev.Saved(save=ev.SaveDecision() as decision):
                return self._decision_saved(decision, now)
            case ev.Saved(save=ev.SaveRound()):
                return self._round_outcome(event, now)
            case ev.Saved(save=ev.SaveGame() as changed):
                return self._game_saved(changed, now)
            case ev.SaveFailed():
                return self._save_failed(event, now)
            case ev.TurnEnded():
                return self._turn_ended(event.saves, now)
            case ev.Played():
                return self._played(event, now)
            case ev.PlayFailed():
                return self._play_failed(event, now)
            case ev.Connect():
                return self._connect(event, now)
            case ev.Disconnect():
                return self._audience.disconnect(event.peer)
            case ev.RequestSync():
                role = self._audience.role_of(event.peer)
                return [ev.Send([event.peer], self.sync_message(role, now))]
            case ev.TimerFired():
                return self._timer_fired(now)
            case ev.Revive():
                return self._revive(event, now)
            case (
                ev.Start()
                | ev.Pause()
                | ev.Resume()
                | ev.End()
                | ev.CloseRound()
                | ev.SetDeadline()
                | ev.SetBot()
                | ev.ResetSeat()
                | ev.ClaimSeat()
            ):
                return self._command(event, now)
        raise TypeError(f"a room cannot handle {event!r}")

    # -- decisions ----------------------------------------------------------------------------

    def submit(
        self, peer: ev.Peer, role: str, round_no: int, msg_id: str, raw: object, now: float
    ) -> list[ev.Effect]:
        """:meth:`handle` of a :class:`events.Submit` with its fields (every decision a player
        sends: no event object to make and match)."""
        if role not in self._peers:
            raise NotFound(f"no role {role!r} in this game", code=ErrorCode.NO_SUCH_ROLE)
        ballot = self._ballot
        # Asked only of a seat with a decision kept: a seat's first decision of a round, the
        # usual one, makes no call.
        current = (
            ballot.resent(role, msg_id)
            if round_no == self.open_round and role in ballot.pending
            else None
        )
        if current is not None:
            # A resend of an id this seat used in the open round (even while it closes):
            # acked again with the decision kept, and never brings an older decision back.
            superseded = None if msg_id == current.id else current.id
            message = ack(
                msg_id, round_no, current.decision, duplicate=True, superseded_by=superseded
            )
            return [ev.Send([peer], message)]
        if round_no < self.open_round:
            if round_no == self.round and self.record.last_round_ids.get(role) == msg_id:
                # A resend of a decision the last round used: ack it again, count nothing.
                return [ev.Send([peer], ack(msg_id, round_no, None, duplicate=True))]
            raise Conflict(
                f"round {round_no} is closed; decisions are now for round {self.open_round}",
                code=ErrorCode.ROUND_CLOSED,
            )
        if round_no == self.open_round and self._closing is not None:
            carried = self._closing.save.carries if self._closing.save is not None else ()
            if any(c.role == role and c.pending.id == msg_id for c in carried):
                return []  # a resend of a decision the round is closing with: acked once saved
            raise Conflict(
                f"round {round_no} is closing; decisions will be for round {round_no + 1}",
                code=ErrorCode.ROUND_CLOSED,
            )
        if round_no > self.open_round:
            raise Conflict(
                f"round {round_no} has not opened; decisions are for round {self.open_round}",
                code=ErrorCode.WRONG_ROUND,
            )
        record = self.record
        if record.status is not RUNNING:
            self._check_open()  # raises why it is not open
        decision = self.game.validate_decision(record.state, role, raw)
        pending = PendingDecision(decision, msg_id, now, ballot.earlier_ids(role, msg_id))
        return [ballot.ask(role, self.open_round, pending, peer)]

    def _turn_ended(self, saves: list[ev.SaveDecision], now: float) -> list[ev.Effect]:
        """Close the open round with ``saves`` (the decisions asked for this turn, none handed
        to the store yet) if they complete it: one save (the round's, which holds them) instead
        of two one after the other, and their acks leave with the views, after it. Decisions of
        the round handed to the store in an earlier turn and still being saved count too: the
        round's save goes out at once, behind them, and its outcome is taken once theirs are
        (:meth:`_round_outcome`). Else nothing: they are saved on their own."""
        in_flight, pending = self._ballot.in_flight, self._ballot.pending
        if (
            len(pending) + len(in_flight) < len(self._peers)  # too few to complete it
            or self.record.status is not RUNNING
            or self._closing is not None
            or self._change is not None
            or self.game.slow_step
        ):
            return []
        open_round = self.open_round
        newest: dict[str, ev.SaveDecision] = {}
        for save in in_flight:  # in the order asked: a seat's newest wins, as when saved one by one
            if save.round != open_round:
                return []
            if self._ballot.newer(save):
                newest[save.role] = save
        if len(newest.keys() | pending.keys()) != len(self._peers):
            return []
        decisions = dict(pending)
        for role, save in newest.items():
            decisions[role] = save.pending
        joins: tuple[ev.SaveDecision, ...] = ()
        uses: tuple[ev.SaveDecision, ...] = ()
        if in_flight != saves:  # most rounds: the decisions in flight are this turn's alone
            carried = {id(save) for save in saves}
            joins = tuple(save for save in in_flight if id(save) not in carried)
            uses = tuple(save for save in newest.values() if id(save) not in carried)
        closing = Closing("all_submitted", None)
        try:
            closed = closing.start(
                self.game, self.record, decisions, now, tuple(saves), joins, uses
            )
        except Exception:  # the rules raise: saved alone, and the close that follows says so
            return []
        self._closing = closing
        self._alarm.retry_at = None
        return [closed]

    def _check_open(self) -> None:
        status = self.status
        if status == CREATED:
            raise Conflict("the game has not started yet", code=ErrorCode.NOT_STARTED)
        if status == PAUSED:
            raise Conflict("the game is paused", code=ErrorCode.PAUSED)
        if status.over:
            raise Conflict("the game is over", code=ErrorCode.GAME_OVER)

    def _decision_saved(self, save: ev.SaveDecision, now: float) -> list[ev.Effect]:
        # On the path of every decision: locals, and no call that is not needed.
        status = self.record.status
        self._ballot.done(save)
        if save.round != self.open_round or status.over:
            # The game ended meanwhile (a close waits for decisions in flight, so only an end
            # can leave a decision behind).
            out: list[ev.Effect] = []
            if save.peer is not None:
                code = ErrorCode.GAME_OVER if status.over else ErrorCode.ROUND_CLOSED
                text = f"round {save.round} closed before your decision was saved"
                out.append(ev.Send([save.peer], error_message(code, text, save.pending.id)))
            return out + self._maybe_close(now) + self._heard(now)
        # The newest decision saved is kept (saves of one seat complete in the order asked,
        # but one may fail: then the one before it stands).
        pending = save.pending
        self._ballot.keep(save)
        out = []
        if save.peer is not None:
            out.append(ev.Send((save.peer,), ack(pending.id, save.round, pending.decision)))
        if self._closing is not None:
            out.append(ev.PROGRESS_DUE)
            return out + self._maybe_close(now) + self._heard(now)
        if status is RUNNING and self.all_in():
            return out + self._begin_close("all_submitted", None, now)
        out.append(ev.PROGRESS_DUE)
        return out

    # -- closing a round (its steps are in :mod:`gameserver.server.closing`) ------------------

    def _begin_close(self, reason: str, ref: ev.Ref | None, now: float) -> list[ev.Effect]:
        if self._closing is not None:
            return [ev.Resolve(ref)] if ref is not None else []
        self._closing = Closing(reason, ref)
        self._alarm.retry_at = None
        return self._maybe_close(now)

    def _maybe_close(self, now: float) -> list[ev.Effect]:
        """Close the round asked for once nothing is being saved: no decision of it (a player
        who got an ack is counted) and no command's change (one record save at a time)."""
        closing = self._closing
        if (
            closing is None
            or closing.save is not None
            or closing.play is not None
            or self._ballot.in_flight
            or self._change
        ):
            return []
        status = self.status
        if not closing.holds(status, self.all_in()):
            # What asked for the close no longer holds (a pause or an end came first).
            self._closing = None
            return closing.dropped(status) + self._timer() + self._next_command(now)
        try:
            return [closing.start(self.game, self.record, self.pending, now)]
        except Exception as exc:  # a fault in the game's rules must not wedge the game
            log.exception("round %d of game %s could not be played", self.open_round, self.game_id)
            return self._not_played(f"{type(exc).__name__}: {exc}", now)

    def _played(self, event: ev.Played, now: float) -> list[ev.Effect]:
        closing = self._closing
        return [] if closing is None else closing.played(event, now)

    def _play_failed(self, event: ev.PlayFailed, now: float) -> list[ev.Effect]:
        closing = self._closing
        if closing is None or not closing.play_failed(event, self.game_id, self.open_round):
            return []
        return self._not_played(event.error, now)

    def _not_played(self, why: str, now: float) -> list[ev.Effect]:
        """The open round could not be played (``why``): it stays open, its game pauses (if it
        runs) so no deadline closes it again and again, and the facilitators are told."""
        closing = self._closing
        assert closing is not None
        self._closing = None
        paused = self.status == RUNNING
        out = closing.not_played(why, self.open_round, paused, self._audience.watchers)
        if paused:
            pause = ev.Pause(None)
            record, _ = changes.changed(self.record, pause, now)
            save = ev.SaveGame(record)
            self._change = _Change(pause, save)
            out.append(save)
        return out + self._next_command(now)

    def _round_outcome(self, event: ev.Saved | ev.SaveFailed, now: float) -> list[ev.Effect]:
        """A round's save is over: taken now, or, while decisions it joins are still being
        saved, once they are (:meth:`_heard`), so that each is answered as saved or not first."""
        save = event.save
        assert isinstance(save, ev.SaveRound)
        closing = self._closing
        if closing is not None and closing.save is save and self._joined(save):
            closing.outcome = event
            return []
        if isinstance(event, ev.Saved):
            return self._round_saved(save, now)
        return self._round_not_saved(save, event.error, now)

    def _joined(self, save: ev.SaveRound) -> bool:
        """Whether a decision save the round ``save`` joins is still being saved."""
        if not save.joins:  # most rounds
            return False
        in_flight = self._ballot.in_flight
        return any(joined in in_flight for joined in save.joins)

    def _heard(self, now: float) -> list[ev.Effect]:
        """A decision's outcome was taken: the round's, if it waited for that one."""
        closing = self._closing
        if closing is None or closing.outcome is None:
            return []
        event = closing.outcome
        assert isinstance(event.save, ev.SaveRound)
        if self._joined(event.save):
            return []
        closing.outcome = None
        return self._round_outcome(event, now)

    def _round_saved(self, save: ev.SaveRound, now: float) -> list[ev.Effect]:
        closing, self._closing = self._closing, None
        self._alarm.retries = 0
        # The round closed when the last decision it holds came in, or when its deadline
        # passed or the facilitator closed it (the time in its record).
        since = 0.0 if save.carries else save.record.at
        for carried in save.carries:
            self._ballot.done(carried)
            since = max(since, carried.pending.at)
        self.views_since = since
        self._set_record(save.game)
        self._ballot.clear()
        log_closed(self.game_id, save, self.status)
        held = closing.held_acks() if closing is not None and closing.held else []
        info = messages.game_info(self, now)
        out = [*acks(save.carries), *held, *self._timer(), *views(self, self._audience, info)]
        # Every connection's round message says it (the facilitators' too).
        self._told = (
            info["round"],
            info["open_round"],
            info["submitted"],
            info["online"],
            info["bots"],
        )
        if closing is not None and closing.ref is not None:
            out.append(ev.Resolve(closing.ref))
        return out + self._bots_decide(now) + self._next_command(now)

    def _round_not_saved(
        self, save: ev.SaveRound, error: GameServerError, now: float
    ) -> list[ev.Effect]:
        closing, self._closing = self._closing, None
        for carried in save.carries:
            self._ballot.done(carried)
        ref = closing.ref if closing is not None else None
        out, text = not_saved(save, error, ref, self._alarm, now)
        if closing is not None:
            out = closing.held_errors(self.game_id) + out
        log.error("game %s: %s", self.game_id, text)
        out += to_watchers(self._audience.watchers, ErrorCode.STORAGE_FAILURE, text)
        return out + self._timer() + self._next_command(now)

    def _timer_fired(self, now: float) -> list[ev.Effect]:
        alarm, record = self._alarm, self.record
        alarm.at = None
        if alarm.retry_at is not None:
            if now < alarm.retry_at:
                return self._timer()
            alarm.retry_at = None
            if record.status in (RUNNING, PAUSED):
                return self._begin_close(alarm.retry_reason, None, now) + self._timer()
        elif record.status == RUNNING and record.deadline is not None and now >= record.deadline:
            return self._begin_close("deadline", None, now) + self._timer()
        return self._timer()

    def _timer(self) -> list[ev.Effect]:
        """A :class:`SetTimer` if the time the room wants to wake up at changed."""
        record = self.record
        running = record.status == RUNNING and self._closing is None and not self._reviving
        return self._alarm.want(record.deadline if running else None)

    # -- saves that failed ----------------------------------------------------------------------

    def _save_failed(self, event: ev.SaveFailed, now: float) -> list[ev.Effect]:
        save, error = event.save, event.error
        if isinstance(save, ev.SaveDecision):
            self._ballot.done(save)
            closing = self._closing
            if closing is not None and closing.hold(save, error):
                return self._heard(now)  # told with the round's outcome, which holds it
            out = decision_failed(self.game_id, save, error)
            return out + self._maybe_close(now) + self._heard(now)
        if isinstance(save, ev.SaveRound):
            return self._round_outcome(event, now)
        change = self._change
        self._change = None
        out = []
        command = change.command if change is not None else None
        if isinstance(command, ev.Revive) and change is not None:
            # The store fails at start-up: the round keeps the moved deadline in memory (the
            # players' time matters more), to be saved with the game's next change.
            log.warning("game %s: its moved deadline could not be saved: %s", self.game_id, error)
            self._set_record(change.save.game)
            out += self._timer()
        elif isinstance(command, ev.Command) and command.ref is not None:
            out.append(ev.Reject(command.ref, error))
        return out + self._maybe_close(now) + self._next_command(now)

    # -- connections --------------------------------------------------------------------------

    def _connect(self, event: ev.Connect, now: float) -> list[ev.Effect]:
        """The new connection's sync first, then what the audience makes of it."""
        out = self._audience.connect(event.role, event.peer, event.updates)
        return [ev.Send([event.peer], self.sync_message(event.role, now)), *out]

    # -- commands -----------------------------------------------------------------------------

    def _command(self, command: ev.Command, now: float) -> list[ev.Effect]:
        if isinstance(command, ev.CloseRound) and self._closing is not None:
            return [ev.Resolve(command.ref)]  # closing already: a second click closes nothing
        if self._change is not None or self._closing is not None or self._queue:
            self._queue.append(command)
            return []
        return self._apply(command, now)

    def _next_command(self, now: float) -> list[ev.Effect]:
        """Run queued commands until one has to wait for a save."""
        out: list[ev.Effect] = []
        while self._queue and self._change is None and self._closing is None:
            out += self._apply(self._queue.pop(0), now)
        return out

    def _apply(self, command: ev.Command, now: float) -> list[ev.Effect]:
        try:
            if isinstance(command, ev.CloseRound):
                if self.status not in (RUNNING, PAUSED):
                    raise Conflict(f"the game is {self.status}; there is no open round to close")
                return self._begin_close("facilitator", command.ref, now)
            record, result = changes.changed(self.record, command, now)
        except GameServerError as exc:
            return [ev.Reject(command.ref, exc)]
        save = ev.SaveGame(record)
        self._change = _Change(command, save, result)
        return [save]

    def _game_saved(self, save: ev.SaveGame, now: float) -> list[ev.Effect]:
        change = self._change
        if change is None or change.save is not save:
            return []
        self._change = None
        self._set_record(save.game)
        command = change.command
        out: list[ev.Effect] = []
        # No ref: the room's own change (a pause after a failed round, a revive's deadline).
        if not isinstance(command, ev.Revive) and command.ref is not None:
            out.append(ev.Resolve(command.ref, change.result))
        match command:
            case ev.Revive():
                out.append(self._status(now))  # a sync sent meanwhile had the old deadline
                deadline = self.record.deadline
                log.info(
                    "game=%s round %d resumes with %.1f s left",
                    self.game_id,
                    self.open_round,
                    (deadline or now) - now,
                )
            case ev.ClaimSeat():
                log.info("seat claimed game=%s role=%s", self.game_id, change.result)
            case ev.ResetSeat(role=role):
                out += self._audience.reset(role)
                out.append(ev.PROGRESS_DUE)
                log.info("seat reset game=%s role=%s", self.game_id, role)
            case ev.End():
                # Everyone learns the game ended; then each player gets the whole picture, as
                # an ended game's view has its debrief.
                out.append(self._status(now))
                out += self._audience.to_players(lambda role: self.sync_message(role, now))
                log.info("game=%s end status=%s", self.game_id, self.status)
            case _:
                # Players learn at once of a start, pause, deadline or who plays which seat.
                out.append(self._status(now))
                log.info(
                    "game=%s %s status=%s",
                    self.game_id,
                    type(command).__name__.lower(),
                    self.status,
                )
        out += self._timer()
        if isinstance(command, ev.Start | ev.Resume | ev.SetBot):
            out += self._bots_decide(now)
        if isinstance(command, ev.Resume) and self.all_in():
            out += self._begin_close("all_submitted", None, now)
        return out + self._maybe_close(now) + self._next_command(now)

    # -- bots and revival ---------------------------------------------------------------------

    def _bots_decide(self, now: float) -> list[ev.Effect]:
        """Server-side bots decide for their seats in the open round."""
        if self.status != RUNNING or self._closing is not None:
            return []
        out: list[ev.Effect] = []
        round_no = self.open_round
        for seat in self.record.seats:
            role, bot = seat.role, seat.bot
            if bot is None or self._ballot.asked(role):
                continue
            decision = self._bots.decision(self.game, self.record, seat)
            pending = PendingDecision(decision, f"bot-{round_no}-{role}", now)
            out.append(self._ballot.ask(role, round_no, pending, None))
        return out

    @property
    def _reviving(self) -> bool:
        """A revive's moved deadline is being saved: the old one must not fire meanwhile."""
        return self._change is not None and isinstance(self._change.command, ev.Revive)

    def _revive(self, event: ev.Revive, now: float) -> list[ev.Effect]:
        """Carry on after coming into memory: a running round's deadline moves on by the
        server's downtime and is at least ``event.grace`` away (:func:`changes.revived`), saved
        before the timer is armed or anyone is told, so that a second crash does not take the
        time back; bot seats decide; and a round whose decisions were all saved before a
        crash, but which did not close, closes now (after that save)."""
        out: list[ev.Effect] = []
        record = changes.revived(self.record, event.grace, event.down_since, now)
        if record is not self.record and self._change is None:
            save = ev.SaveGame(record)
            self._change = _Change(event, save)
            out.append(save)
        elif record is not self.record:  # never at a revive, which comes first: in memory only
            self._set_record(record)
        out += self._timer() + self._bots_decide(now)
        if self.status == RUNNING and self.all_in():
            out += self._begin_close("all_submitted", None, now)
        return out
