"""What a room's commands and round closes make of a game's record: pure functions.

Each takes a record and returns the next one (not yet saved), or raises the
:class:`~gameserver.errors.GameServerError` that says why not. The room decides when to call
them and saves what they return before anyone is told (:mod:`gameserver.server.room`).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from gameserver.errors import Conflict, ErrorCode, NotFound
from gameserver.game import Decision, Game
from gameserver.protocol import GameStatus
from gameserver.server import events as ev
from gameserver.server.records import (
    GameRecord,
    PendingDecision,
    RoundRecord,
    SeatRecord,
    evolved,
)

RUNNING, PAUSED, CREATED = GameStatus.RUNNING, GameStatus.PAUSED, GameStatus.CREATED


def changed(record: GameRecord, command: ev.Command, now: float) -> tuple[GameRecord, object]:
    """The record ``command`` makes at Unix time ``now``, and the command's result."""
    status = record.status
    match command:
        case ev.Start():
            if status != CREATED:
                raise Conflict(f"the game is {status}; only a created game can start")
            seconds = record.round_seconds
            return replace(
                record, status=RUNNING, deadline=now + seconds if seconds else None
            ), None
        case ev.Pause():
            if status != RUNNING:
                raise Conflict(f"the game is {status}; only a running game can pause")
            left = max(0.0, record.deadline - now) if record.deadline is not None else None
            return replace(record, status=PAUSED, deadline=None, paused_remaining=left), None
        case ev.Resume():
            if status != PAUSED:
                raise Conflict(f"the game is {status}; only a paused game can resume")
            left = record.paused_remaining
            deadline = now + left if left is not None else None
            return replace(record, status=RUNNING, deadline=deadline, paused_remaining=None), None
        case ev.End():
            if status.over:
                raise Conflict(f"the game is already {status}")
            ended = replace(record, status=GameStatus.ENDED, deadline=None, paused_remaining=None)
            return ended, None
        case ev.SetDeadline(seconds=seconds, extend=extend):
            return _deadline(record, seconds, extend, now), None
        case ev.SetBot(role=role, bot=bot):
            return record.with_seat(replace(seat_of(record, role), bot=bot)), None
        case ev.ResetSeat(role=role, join_code=code):
            seat = replace(
                seat_of(record, role), token_hash=None, name=None, join_code=code, join_hash=None
            )
            return record.with_seat(seat), code
        case ev.ClaimSeat():
            held = _held_seat(record, command)
            if held is not None:  # a retried join: the seat again, under the new token
                name = command.name if command.name is not None else held.name
                seat = replace(held, token_hash=command.token_hash, name=name)
                return record.with_seat(seat), held.role
            role = _free_seat(record, command.role)
            seat = replace(
                seat_of(record, role),
                token_hash=command.token_hash,
                name=command.name,
                join_hash=command.join_hash,
            )
            return record.with_seat(seat), role
    raise TypeError(f"not a command that changes the record: {command!r}")


def closed_round(
    game: Game,
    record: GameRecord,
    pending: Mapping[str, PendingDecision],
    reason: str,
    now: float,
) -> tuple[RoundRecord, GameRecord]:
    """Play the open round with the pending decisions (the game's default for a seat without
    one): the round's record, and the game's record after it."""
    # One pass over the seats, no comprehensions: every round.
    decisions: dict[str, Decision] = {}
    defaulted: list[str] = []
    names: dict[str, str | None] = {}
    for seat in record.seats:
        role = seat.role
        names[role] = seat.name
        got = pending.get(role)
        if got is None:
            decisions[role] = game.default_decision(record.state, role)
            defaulted.append(role)
        else:
            decisions[role] = got.decision
    state = game.step(record.state, decisions)
    ids = {role: p.id for role, p in pending.items()}
    changes: dict[str, Any] = {
        "state": state,
        "last_round_ids": ids,
        "last_defaulted": {role: decisions[role] for role in defaulted} if defaulted else {},
    }
    if game.is_over(state):
        changes.update(status=GameStatus.FINISHED, deadline=None, paused_remaining=None)
    elif record.status == RUNNING:
        seconds = record.round_seconds
        changes["deadline"] = now + seconds if seconds else None
    else:  # closed by the facilitator while paused: the next round's clock waits too
        changes.update(deadline=None, paused_remaining=record.round_seconds)
    # Positional: keywords make the call build a dict (every round).
    round_record = RoundRecord(
        game.current_round(record.state) + 1,  # round
        decisions,
        tuple(defaulted),
        ids,
        reason,  # closed_by
        now,  # at
        game.round_summary(state),  # summary
        names,
    )
    return round_record, evolved(record, **changes)


def revived(record: GameRecord, grace: float, down_since: float | None, now: float) -> GameRecord:
    """The record of a game coming into memory at ``now`` (see :class:`events.Revive`).

    A running round's deadline moves on by the time the server was down (from ``down_since``,
    the server's last sign of life before this start), so players get back the time the round
    had left then; and it is at least ``grace`` seconds away, so that players have time to
    reconnect (a deadline that passed before the server went down closes ``grace`` after the
    start). Anything else is left as it is."""
    deadline = record.deadline
    if record.status != RUNNING or deadline is None:
        return record
    if down_since is not None and down_since < now:
        deadline += now - down_since
    deadline = max(deadline, now + grace)
    return record if deadline == record.deadline else replace(record, deadline=deadline)


def seat_of(record: GameRecord, role: str) -> SeatRecord:
    """The seat of ``role``, or :class:`NotFound` naming the roles there are."""
    try:
        return record.seat(role)
    except KeyError:
        roles = ", ".join(record.roles)
        raise NotFound(
            f"no role {role!r}; roles are {roles}", code=ErrorCode.NO_SUCH_ROLE
        ) from None


def _deadline(record: GameRecord, seconds: float | None, extend: bool, now: float) -> GameRecord:
    status = record.status
    if status not in (RUNNING, PAUSED):
        raise Conflict(f"the game is {status}; deadlines apply to running games")
    if extend and seconds is None:
        raise Conflict("extend needs a number of seconds")
    if status == PAUSED:
        base = (record.paused_remaining or 0.0) if extend else 0.0
        return replace(record, paused_remaining=None if seconds is None else base + seconds)
    if seconds is None:
        return replace(record, deadline=None)
    start = record.deadline if extend and record.deadline is not None else now
    return replace(record, deadline=start + seconds)


def _held_seat(record: GameRecord, claim: ev.ClaimSeat) -> SeatRecord | None:
    """The seat this claim's join id already holds: the seat of a seat's code, or for an open
    join any seat of the game (a page reloaded during its join offers only the free roles, so
    its retry may name another). None if it holds none."""
    if claim.join_hash is None:
        return None
    seats = record.seats
    if claim.role is not None and not claim.open_join:
        seats = (seat_of(record, claim.role),)
    for seat in seats:
        if (
            seat.claimed
            and seat.join_hash is not None
            and hmac.compare_digest(seat.join_hash, claim.join_hash)
        ):
            return seat
    return None


def _free_seat(record: GameRecord, role: str | None) -> str:
    if role is None:
        free = [s.role for s in record.seats if not s.claimed]
        if not free:
            raise Conflict("every seat of this game is taken", code=ErrorCode.GAME_FULL)
        return free[0]
    if seat_of(record, role).claimed:
        raise Conflict(
            f"the {role} seat is already taken; to come back, resume with your token",
            code=ErrorCode.SEAT_TAKEN,
        )
    return role
