"""The messages a room sends about its game (docs/protocol.md), built from what it knows.

Functions of a :class:`RoomState` (what a :class:`~gameserver.server.room.Room` has), so that
building a message needs no room module and no I/O. The room sends what these return.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from gameserver.game import Game
from gameserver.protocol import (
    FacilitatorRound,
    FacilitatorSync,
    GameInfo,
    GameStatus,
    Round,
    RoundUpdate,
    SeatInfo,
    ServerMessage,
    SharedPart,
    Sync,
)
from gameserver.server.records import GameRecord, PendingDecision, SeatRecord


class RoomState(Protocol):
    """What the messages are made of: the room's game, record and open round."""

    game: Game
    record: GameRecord
    round: int
    open_round: int

    @property
    def pending(self) -> dict[str, PendingDecision]: ...

    def seat_lists(self) -> tuple[list[str], list[str], list[str], list[str]]: ...

    def seat_infos(self) -> list[SeatInfo]: ...


def game_info(room: RoomState, now: float) -> GameInfo:
    """The ``status`` message; every message about the game's progress starts with it."""
    record = room.record
    submitted, online, bots, roles = room.seat_lists()
    return {
        "type": "status",
        "game_id": record.game_id,
        "kind": record.kind,
        "status": record.status,
        "round": room.round,
        "open_round": room.open_round,
        # Players are told the announced length only (the Beer Game announces 50 weeks and
        # plays 36 so nobody games the ending); facilitators also get total_rounds.
        "announced_rounds": room.game.announced_rounds(record.state),
        "deadline": record.deadline,
        "paused_remaining": record.paused_remaining,
        "submitted": submitted,
        "online": online,
        "bots": bots,
        "roles": roles,
        "server_time": now,
    }


#: A finished game's debrief: the same object in every player's view (:meth:`Game.debrief`),
#: and most of it (4.4 KB of a Beer Game's 6 KB at week 36). Encoded once for the players of
#: a game, not once each: with games that end together, their last round was the slowest.
_DEBRIEF = SharedPart()

#: A module constant: on Python 3.11 reading a member from an Enum class is a Python call.
ENDED = GameStatus.ENDED


def player_view(room: RoomState, role: str) -> dict[str, Any]:
    """What ``role`` sees, to send. A game the facilitator ended before its last round has its
    debrief too, as a finished one has: the facilitator's view of everything, for every player."""
    state = room.record.state
    view = room.game.view(state, role)
    debrief = view.get("debrief")
    if debrief is None and room.record.status is ENDED:
        debrief = room.game.debrief(state)
    if debrief is not None:
        view = {**view, "debrief": _DEBRIEF.of(debrief)}
    return view


def sync(room: RoomState, role: str | None, now: float) -> ServerMessage:
    """The full picture a client gets on every (re)connection: a player's, or with ``role``
    None a facilitator's."""
    state = room.record.state
    if role is None:
        facilitator: FacilitatorSync = {
            **game_info(room, now),
            "type": "sync",
            "role": None,
            "view": room.game.facilitator_view(state),
            "seats": room.seat_infos(),
            "total_rounds": room.game.total_rounds(state),
            "defaulted": room.record.last_defaulted,
        }
        return facilitator
    own = room.pending.get(role)
    player: Sync = {
        **game_info(room, now),
        "type": "sync",
        "role": role,
        "view": player_view(room, role),
        "decision": own.decision if own else None,
        "decision_id": own.id if own else None,
        "defaulted": room.record.last_defaulted.get(role),
    }
    return player


def round_view(room: RoomState, role: str, info: GameInfo) -> Round:
    """A player's ``round`` message: the round just closed, seen from ``role``. ``info`` is
    ``game_info(room, now)``, the same for every player, so it is made once a round."""
    return {
        **info,
        "type": "round",
        "role": role,
        "view": player_view(room, role),
        # The seat had no decision when the round closed: what the game used instead.
        "defaulted": room.record.last_defaulted.get(role),
    }


def round_update(room: RoomState, role: str, info: GameInfo) -> RoundUpdate | None:
    """The ``round`` message of a player that takes updates: how its view changed, or None
    when the game gives none for this round (then the whole view, :func:`round_view`). A game
    the facilitator ended gets its whole view, which adds the debrief."""
    if room.record.status is ENDED:
        return None
    update = room.game.view_update(room.record.state, role)
    if update is None:
        return None
    return {
        **info,
        "type": "round",
        "role": role,
        "view_update": update,
        "defaulted": room.record.last_defaulted.get(role),
    }


def facilitator_round(room: RoomState, now: float) -> FacilitatorRound:
    state = room.record.state
    return {
        **game_info(room, now),
        "type": "round",
        "role": None,
        "view": room.game.facilitator_view(state),
        "total_rounds": room.game.total_rounds(state),
        "defaulted": room.record.last_defaulted,
    }


def seat_infos(
    seats: Sequence[SeatRecord],
    connected: Mapping[str, Collection[object]],
    pending: Collection[str],
) -> list[SeatInfo]:
    """Each seat: who holds it, whether a bot plays it, online, submitted. ``connected``
    maps a role to its connections (none when the game is not in memory)."""
    return [
        {
            "role": s.role,
            "claimed": s.claimed,
            "name": s.name,
            "bot": bot_json(s),
            "online": bool(connected.get(s.role)) or s.bot is not None,
            "submitted": s.role in pending,
        }
        for s in seats
    ]


def bot_json(seat: SeatRecord) -> dict[str, Any] | None:
    if seat.bot is None:
        return None
    return {"policy": seat.bot.policy, "params": dict(seat.bot.params)}
