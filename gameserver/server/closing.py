"""Closing a round, with no I/O: the close asked for, the round played and saved, who is told.

A round closes when every seat has decided, the deadline passes, or the facilitator closes it.
While it closes, the room (:mod:`gameserver.server.room`) keeps a :class:`Closing`: the close
waits for decisions still being saved (a player who got an ack is always counted), then plays
the round with defaults for the missing seats and saves it. The decisions that complete a round
within one turn of the event loop are saved with the round they close
(:class:`~gameserver.server.events.TurnEnded`, the ``carries`` of :meth:`Closing.start`): one
write instead of two in a row, and their acks leave with the views, after the save. Decisions of
the round still being saved from an earlier turn (its ``joins``) do not hold that save back: it
goes out behind them, holding their decisions too, and the room takes its outcome once it has
heard theirs; one whose own save failed stands or falls with the round's
(:meth:`Closing.hold`). A game whose step is slow (:attr:`Game.slow_step`) has its round played
off the event loop: the close asks for it with a :class:`~gameserver.server.events.PlayRound`
and saves what comes back.

A round whose save fails stays open; an automatic close is retried with backoff
(:class:`~gameserver.server.alarm.Alarm`) and reported to the facilitators, so a round never
silently stays open past its deadline. A round that cannot be played (the game's rules raise,
or take longer than :attr:`Game.step_timeout`) stays open and pauses its game, with an error to
the facilitators; resuming tries again.

What is here makes each step's effects; the room decides when, changes its own state, and adds
what follows a close (its timer, its bots, its queued commands).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from gameserver.errors import Conflict, ErrorCode, GameServerError
from gameserver.game import Game
from gameserver.protocol import GameInfo, GameStatus, ack, error_message
from gameserver.server import changes, messages
from gameserver.server import events as ev
from gameserver.server.alarm import Alarm
from gameserver.server.audience import Audience
from gameserver.server.records import GameRecord, PendingDecision

log = logging.getLogger(__name__)

RUNNING, CREATED, FINISHED = GameStatus.RUNNING, GameStatus.CREATED, GameStatus.FINISHED


@dataclass(slots=True)
class Closing:
    """A round close asked for: waiting for decisions in flight, then played, then saved."""

    reason: str
    ref: ev.Ref | None
    play: ev.PlayRound | None = None  # being played in a worker thread
    save: ev.SaveRound | None = None
    #: Of the save's ``joins``, those whose decision the round holds (a seat's newest).
    uses: tuple[ev.SaveDecision, ...] = ()
    #: Those of ``uses`` whose own save failed: they stand or fall with the round's.
    held: list[tuple[ev.SaveDecision, GameServerError]] = field(default_factory=list)
    #: The save's outcome, heard before all of its ``joins``' (it waits for theirs).
    outcome: ev.Saved | ev.SaveFailed | None = None

    def holds(self, status: GameStatus, all_in: bool) -> bool:
        """Whether what asked for the close still holds (a pause or an end may have come
        first); ``all_in``: every seat has a saved decision."""
        if not status.in_progress or status == CREATED:
            return False
        if self.reason == "deadline":
            return status == RUNNING
        if self.reason == "all_submitted":
            return status == RUNNING and all_in
        return True

    def dropped(self, status: GameStatus) -> list[ev.Effect]:
        """The close no longer holds: whoever asked for it is told why."""
        if self.ref is None:
            return []
        return [ev.Reject(self.ref, Conflict(f"the game is {status}"))]

    def start(
        self,
        game: Game,
        record: GameRecord,
        pending: Mapping[str, PendingDecision],
        now: float,
        carries: tuple[ev.SaveDecision, ...] = (),
        joins: tuple[ev.SaveDecision, ...] = (),
        uses: tuple[ev.SaveDecision, ...] = (),
    ) -> ev.PlayRound | ev.SaveRound:
        """Play the round with the ``pending`` decisions: a slow game's is asked of a worker
        thread, any other's is played here and its save returned (see :class:`SaveRound` for
        ``carries`` and ``joins``; ``uses``: the joins whose decisions are in ``pending``).
        Raises what the game's rules raise."""
        if game.slow_step:
            self.play = ev.PlayRound(record, dict(pending), self.reason, now, game.step_timeout)
            return self.play
        round_record, after = changes.closed_round(game, record, pending, self.reason, now)
        self.save = ev.SaveRound(round_record, after, carries=carries, joins=joins)
        self.uses = uses
        return self.save

    def hold(self, save: ev.SaveDecision, error: GameServerError) -> bool:
        """A decision save failed: whether the round being saved holds its decision; then it
        is kept (:meth:`held_acks`, :meth:`held_errors`) and its player hears nothing yet."""
        if self.save is None or not any(used is save for used in self.uses):
            return False
        self.held.append((save, error))
        return True

    def held_acks(self) -> list[ev.Effect]:
        """The round was saved: the decisions it held whose own saves failed are durable in it."""
        return acks(save for save, _ in self.held)

    def held_errors(self, game_id: str) -> list[ev.Effect]:
        """The round was not saved: the decisions it held whose own saves failed were lost."""
        return [e for save, error in self.held for e in decision_failed(game_id, save, error)]

    def played(self, event: ev.Played, now: float) -> list[ev.Effect]:
        """A round played in a worker thread: its save, if it was this close's."""
        if self.play is not event.play:
            return []
        self.play = None
        record = event.game
        if record.deadline is not None:  # the next round's clock starts now, not before the step
            record = replace(record, deadline=record.deadline + max(0.0, now - event.play.at))
        self.save = ev.SaveRound(event.record, record)
        return [self.save]

    def play_failed(self, event: ev.PlayFailed, game_id: str, round_no: int) -> bool:
        """Whether a round asked of a worker thread for this close could not be played (it is
        logged)."""
        if self.play is not event.play:
            return False
        self.play = None
        if event.timed_out:
            log.error(
                "round %d of game %s took longer than %g s to play",
                round_no,
                game_id,
                event.play.timeout,
            )
        else:
            log.error("round %d of game %s could not be played: %s", round_no, game_id, event.error)
        return True

    def not_played(
        self, why: str, round_no: int, paused: bool, watchers: Sequence[ev.Peer]
    ) -> list[ev.Effect]:
        """The round could not be played (``why``): the facilitators are told, and whoever
        asked for the close; ``paused``: the room pauses its game."""
        text = f"round {round_no} could not be played: {why}"
        if paused:
            text += "; the game is paused, resume it to try again"
        error = Conflict(text, code=ErrorCode.ROUND_NOT_PLAYED)
        out = to_watchers(watchers, ErrorCode.ROUND_NOT_PLAYED, text)
        if self.ref is not None:
            out.append(ev.Reject(self.ref, error))
        return out


def decision_failed(game_id: str, save: ev.SaveDecision, error: GameServerError) -> list[ev.Effect]:
    """A decision's save failed: its player is told (a bot's is logged)."""
    if save.peer is None:
        log.warning("bot decision not saved game=%s role=%s: %s", game_id, save.role, error)
        return []
    text = f"your decision could not be saved: {error.message}"
    message = error_message(ErrorCode.STORAGE_FAILURE, text, save.pending.id)
    return [ev.Send([save.peer], message)]


def acks(saves: Iterable[ev.SaveDecision]) -> list[ev.Effect]:
    """The acks of these decisions, durable now, to their connected players."""
    out: list[ev.Effect] = []
    for s in saves:  # a loop, not a comprehension (a function made each time): every round
        if s.peer is not None:
            pending = s.pending
            out.append(ev.Send((s.peer,), ack(pending.id, s.round, pending.decision)))
    return out


def log_closed(game_id: str, save: ev.SaveRound, status: GameStatus) -> None:
    """A line for a saved round (``status``: its game's, after it)."""
    # A line a round at INFO costs a few percent of the CPU of a busy server: a round every
    # seat decided is DEBUG; one that used a default, or that ended the game, is INFO.
    notable = bool(save.record.defaulted) or status is FINISHED
    level = logging.INFO if notable else logging.DEBUG
    if not log.isEnabledFor(level):
        return  # the line's arguments cost more than a level that is off
    log.log(
        level,
        "round closed game=%s round=%d by=%s defaulted=%s%s",
        game_id,
        save.record.round,
        save.record.closed_by,
        ",".join(save.record.defaulted) or "-",
        " finished" if status is FINISHED else "",
    )


def views(room: messages.RoomState, audience: Audience, info: GameInfo) -> list[ev.Effect]:
    """After a round: each player its own view, the facilitators theirs. ``info`` is
    ``messages.game_info(room, now)``."""
    now = info["server_time"]
    # Audience.to_players with an update for a connection that takes them, written out: no
    # functions made for it every round.
    out: list[ev.Effect] = []
    updated = audience.updated
    for role, peers in audience.players.items():
        if peers:  # a seat's one connection
            peer = peers[0]
            update = messages.round_update(room, role, info) if peer in updated else None
            message = messages.round_view(room, role, info) if update is None else update
            out.append(ev.Send((peer,), message))
    if audience.watchers:
        out.append(ev.Send(list(audience.watchers), messages.facilitator_round(room, now)))
    return out


def not_saved(
    save: ev.SaveRound, error: GameServerError, ref: ev.Ref | None, alarm: Alarm, now: float
) -> tuple[list[ev.Effect], str]:
    """A round's save failed: the player whose decision it carried is told, and whoever asked
    for the close (``ref``); an automatic close is tried again later (``alarm``). Returns those
    effects, and what to tell the facilitators."""
    round_no = save.record.round
    out: list[ev.Effect] = []
    for carried in save.carries:
        # The decisions that completed the round were not saved either: their players are
        # told, as for any decision, and the round waits for them again (no retry).
        if carried.peer is not None:
            text = f"your decision could not be saved: {error.message}"
            message = error_message(ErrorCode.STORAGE_FAILURE, text, carried.pending.id)
            out.append(ev.Send([carried.peer], message))
        else:
            log.warning("bot decision not saved role=%s: %s", carried.role, error)
    if ref is not None:
        out.append(ev.Reject(ref, error))
    if ref is not None or save.carries:
        text = f"round {round_no} could not be saved: {error.message}"
    else:
        delay = alarm.retry(now, save.record.closed_by)
        text = f"round {round_no} could not be saved ({error.message}); trying again in {delay:g} s"
    return out, text


def to_watchers(watchers: Sequence[ev.Peer], code: ErrorCode, text: str) -> list[ev.Effect]:
    """An error message to the facilitators, if any watch."""
    if not watchers:
        return []
    return [ev.Send(list(watchers), error_message(code, text))]
