"""What a facilitator does to a game: start, pause, resume, end, deadlines, bot seats, resets.

Each is saved before anyone is told (``Room.change`` or ``Room.save``) and runs under the
game's lock, like everything else that changes a game.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from gameserver import protocol, tokens
from gameserver.errors import CloseCode, Conflict, GameServerError
from gameserver.room import Room
from gameserver.seat import CREATED, ENDED, FINISHED, PAUSED, RUNNING

log = logging.getLogger("gameserver.room")


async def start(room: Room) -> None:
    async with room.lock:
        if room.status != CREATED:
            raise Conflict(f"the game is {room.status}; only a created game can start")
        deadline = time.time() + room.round_seconds if room.round_seconds else None
        await room.change(status=RUNNING, deadline=deadline)
        log.info("started game=%s", room.game_id)
    room.schedule_bots()


async def pause(room: Room) -> None:
    async with room.lock:
        if room.status != RUNNING:
            raise Conflict(f"the game is {room.status}; only a running game can pause")
        remaining = max(0.0, room.deadline - time.time()) if room.deadline else None
        await room.change(status=PAUSED, deadline=None, paused_remaining=remaining)
        log.info("paused game=%s", room.game_id)


async def resume(room: Room) -> None:
    async with room.lock:
        if room.status != PAUSED:
            raise Conflict(f"the game is {room.status}; only a paused game can resume")
        rem = room.paused_remaining
        deadline = time.time() + rem if rem is not None else None
        await room.change(status=RUNNING, deadline=deadline, paused_remaining=None)
        log.info("resumed game=%s", room.game_id)
    room.schedule_bots()
    if room.all_in():
        await room.close_round("all_submitted")


async def end(room: Room) -> None:
    async with room.lock:
        if room.status in (FINISHED, ENDED):
            raise Conflict(f"the game is already {room.status}")
        await room.change(status=ENDED, deadline=None, paused_remaining=None)
        log.info("ended game=%s round=%d", room.game_id, room.round)


async def set_deadline(room: Room, seconds: float | None, *, extend: bool = False) -> None:
    """Set the open round's deadline ``seconds`` from now (None clears it), or extend it."""
    async with room.lock:
        if room.status not in (RUNNING, PAUSED):
            raise Conflict(f"the game is {room.status}; deadlines apply to running games")
        if room.status == PAUSED:
            base = (room.paused_remaining or 0.0) if extend else 0.0
            value = None if seconds is None else base + seconds
            await room.change(paused_remaining=value)
            return
        if extend:
            if seconds is None:
                raise Conflict("extend needs a number of seconds")
            start = room.deadline if room.deadline is not None else time.time()
            await room.change(deadline=start + seconds)
        else:
            await room.change(deadline=None if seconds is None else time.time() + seconds)


async def set_bot(room: Room, role: str, bot: dict[str, Any] | None) -> None:
    async with room.lock:
        seat = room.seats[role]
        before = seat.bot
        seat.bot = bot
        try:
            await room.save()
        except GameServerError:
            seat.bot = before
            raise
    log.info("seat game=%s role=%s bot=%s", room.game_id, role, bot and bot.get("policy"))
    room.broadcast_status()  # carries "bots": players learn at once who plays which seat
    room.schedule_bots()


async def reset_seat(room: Room, role: str) -> str:
    """Free a seat whose player lost their token: the old token stops working, whoever is
    connected on it is closed (4002), and the seat gets a new join code (returned)."""
    async with room.lock:
        seat = room.seats[role]
        before = (seat.token_hash, seat.name, seat.join_code)
        seat.token_hash, seat.name = None, None
        seat.join_code = tokens.new_join_code(room.game_id)
        try:
            await room.save()
        except GameServerError:
            seat.token_hash, seat.name, seat.join_code = before
            raise
    for conn in seat.connections:
        conn.send(protocol.error_message("seat_reset", "the facilitator reset this seat"))
        conn.close(CloseCode.SEAT_RESET)
    seat.connections = []
    log.info("seat reset game=%s role=%s", room.game_id, role)
    room.broadcast_progress()
    return seat.join_code
