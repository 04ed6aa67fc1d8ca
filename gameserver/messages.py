"""The messages a room sends about its game (docs/protocol.md), built from the room's state."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gameserver.room import Room


def common(room: Room) -> dict[str, Any]:
    """What every message about the game's progress says (a copy per call)."""
    return {
        "game_id": room.game_id,
        "kind": room.kind,
        "status": room.status,
        "round": room.round,
        "open_round": room.open_round,
        # Players are told the announced length only (the Beer Game announces 50 weeks and
        # plays 36 so nobody games the ending); facilitators also get total_rounds.
        "announced_rounds": room.game.announced_rounds(room.state),
        "deadline": room.deadline,
        "paused_remaining": room.paused_remaining,
        "submitted": room.submitted(),
        "online": room.online(),
        "bots": [r for r, s in room.seats.items() if s.bot],
        "roles": list(room.seats),
        "server_time": time.time(),
    }


def sync(room: Room, seat: str | None) -> dict[str, Any]:
    """The full picture a client gets on every (re)connection."""
    msg = common(room)
    msg["type"] = "sync"
    msg["role"] = seat
    if seat is None:
        msg["view"] = room.game.facilitator_view(room.state)
        msg["seats"] = seat_summary(room)
        msg["total_rounds"] = room.game.total_rounds(room.state)
    else:
        msg["view"] = room.game.view(room.state, seat)
        own = room.pending.get(seat)
        msg["decision"] = own.decision if own else None
        msg["decision_id"] = own.msg_id if own else None
    return msg


def seat_summary(room: Room) -> list[dict[str, Any]]:
    """Each seat: who holds it, whether a bot plays it, online, submitted."""
    return [
        {
            "role": s.role,
            "claimed": s.claimed,
            "name": s.name,
            "bot": s.bot,
            "online": bool(s.connections) or bool(s.bot),
            "submitted": s.role in room.pending,
        }
        for s in room.seats.values()
    ]
