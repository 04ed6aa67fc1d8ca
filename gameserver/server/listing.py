"""Listing games without decoding them: the summary stored beside each game, and list entries.

Every save of a game stores, beside its record, a *summary* (:func:`summary_of`): its title,
seats, names and bots, deadline and length, a few hundred bytes of JSON. A listing
(``GET /api/games``) reads pages of summaries (:meth:`storage.Store.load_headers`) and never
the games' states, which hold their whole history. A game in memory is listed from its room,
which is newer; a game stored before summaries existed is read whole, once per listing, until
its next save gives it a summary.

An entry is the game object of the API (:func:`gameserver.server.api.describe`) without
``settings`` and ``results``: those need the game's state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gameserver.game import Game
from gameserver.protocol import SeatInfo
from gameserver.server import messages
from gameserver.server.records import GameRecord, SeatRecord
from gameserver.server.room import Room
from storage import GameHeader

#: The layout of a stored summary; a summary of another layout is not read (the game is).
SUMMARY_VERSION = 1


def summary_of(record: GameRecord, game: Game) -> dict[str, Any]:
    """What a listing needs of a game that is not in its snapshot's columns."""
    cloned = record.cloned_from
    return {
        "v": SUMMARY_VERSION,
        "title": record.title,
        "total_rounds": game.total_rounds(record.state),
        "deadline": record.deadline,
        "paused_remaining": record.paused_remaining,
        "round_seconds": record.round_seconds,
        "cloned_from": {"game_id": cloned.game_id, "round": cloned.round} if cloned else None,
        "open_code": record.open_code,
        "seats": [
            {
                "role": s.role,
                "join_code": s.join_code,
                "claimed": s.claimed,
                "name": s.name,
                "bot": messages.bot_json(s),
            }
            for s in record.seats
        ],
    }


def readable(header: GameHeader) -> bool:
    """Whether the header's summary can be listed as it is (else the game is read)."""
    summary = header.summary
    return summary is not None and summary.get("v") == SUMMARY_VERSION


def seat_infos(room: Room | None, seats: Sequence[SeatRecord]) -> list[SeatInfo]:
    """Seat infos of a game, live from its room when it is in memory (else nobody is online)."""
    if room is not None:
        return room.seat_infos()
    return [{**info, "online": False} for info in messages.seat_infos(seats, {}, ())]


def entry(base: str, record: GameRecord, room: Room | None, game: Game) -> dict[str, Any]:
    """A game as a listing shows it, from its record (and its room when it is in memory)."""
    cloned = record.cloned_from
    seats = [
        {**info, "join_code": seat.join_code}
        for info, seat in zip(seat_infos(room, record.seats), record.seats, strict=True)
    ]
    return {
        "game_id": record.game_id,
        "kind": record.kind,
        "title": record.title,
        "status": str(record.status),
        "active": room is not None,
        "restored": bool(room and room.restored),
        "round": game.current_round(record.state),
        "total_rounds": game.total_rounds(record.state),
        "deadline": record.deadline,
        "paused_remaining": record.paused_remaining,
        "round_seconds": record.round_seconds,
        "session_id": record.session_id,
        "created_at": record.created_at,
        "cloned_from": {"game_id": cloned.game_id, "round": cloned.round} if cloned else None,
        "seats": seats,
        **links(base, [(s.role, s.join_code) for s in record.seats], record.open_code),
    }


def entry_of_summary(base: str, header: GameHeader) -> dict[str, Any]:
    """A stored game as a listing shows it, from its header alone (see :func:`readable`)."""
    summary: Mapping[str, Any] = header.summary or {}
    seats = summary["seats"]
    return {
        "game_id": header.game_id,
        "kind": header.kind,
        "title": summary["title"],
        "status": header.status,
        "active": False,
        "restored": False,
        "round": header.round,
        "total_rounds": summary["total_rounds"],
        "deadline": summary["deadline"],
        "paused_remaining": summary["paused_remaining"],
        "round_seconds": summary["round_seconds"],
        "session_id": header.group or None,
        "created_at": header.created_at,
        "cloned_from": summary["cloned_from"],
        "seats": [
            {
                "role": s["role"],
                "claimed": s["claimed"],
                "name": s["name"],
                "bot": s["bot"],
                "online": s["bot"] is not None,
                "submitted": False,
                "join_code": s["join_code"],
            }
            for s in seats
        ],
        **links(base, [(s["role"], s["join_code"]) for s in seats], summary["open_code"]),
    }


def links(base: str, codes: Sequence[tuple[str, str]], open_code: str | None) -> dict[str, Any]:
    """The ``join`` and ``open_join`` fields: each code with its link to the player page."""
    return {
        "join": [
            {"role": role, "code": code, "url": f"{base}/play?code={code}"} for role, code in codes
        ],
        "open_join": (
            {"code": open_code, "url": f"{base}/play?code={open_code}"} if open_code else None
        ),
    }


def cursor(header: GameHeader) -> str:
    """The ``next`` of a page that ends with ``header``: its creation time and id."""
    return f"{header.created_at!r}_{header.game_id}"


def parse_cursor(text: str) -> tuple[float, str] | None:
    """The ``(created_at, game_id)`` of a cursor :func:`cursor` made, or None if it is not one."""
    created, _, game_id = text.rpartition("_")
    try:
        value = float(created)
    except ValueError:
        return None
    if not game_id.isalnum() or not game_id.isascii() or value != value or abs(value) > 1e12:
        return None
    return value, game_id
