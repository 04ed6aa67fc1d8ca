"""The WebSocket endpoint: handshake, then a receive loop that turns frames into room calls.

Bad input gets an ``error`` message and the connection stays open. Only a malformed frame
(1007), an oversized message (1009), a flood (4001) or a failed handshake (1008) close it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from gameserver import protocol, tokens
from gameserver.connection import Connection
from gameserver.errors import CloseCode, Conflict, GameServerError, NotAuthorized, NotFound
from gameserver.hub import Hub
from gameserver.room import Room

log = logging.getLogger("gameserver.ws")

MAX_HELLO_TRIES = 10


class _Closing(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class RateLimiter:
    """Token bucket: ``rate`` messages a second on average, ``burst`` at once."""

    __slots__ = ("burst", "level", "rate", "stamp")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.level = float(burst)
        self.stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.level = min(self.burst, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.level < 1.0:
            return False
        self.level -= 1.0
        return True


async def _next_frame(websocket: WebSocket, limit: int) -> dict[str, Any]:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    frame = message.get("text")
    if frame is None:
        frame = message.get("bytes") or b""
    if len(frame) > limit:
        raise _Closing(CloseCode.TOO_BIG, f"message larger than {limit} bytes")
    try:
        return protocol.loads_frame(frame)
    except protocol.MalformedFrame as exc:
        raise _Closing(CloseCode.MALFORMED, str(exc)) from exc


async def _claim(room: Room, role: str | None, name: str | None) -> tuple[str, str]:
    """Give a seat to a new player: ``role``, or with None the first free one, chosen under
    the room's lock so that players joining at the same moment get different seats. Returns
    the role and the seat token (saved before it is shown)."""
    async with room.lock:
        if role is None:
            free = [r for r, s in room.seats.items() if not s.claimed]
            if not free:
                raise Conflict("every seat of this game is taken", code="game_full")
            role = free[0]
        seat = room.seats[role]
        if seat.claimed:
            raise Conflict(
                f"the {role} seat is already taken; to come back, resume with your token",
                code="seat_taken",
            )
        token = tokens.new_token(room.game_id)
        seat.token_hash = tokens.hash_secret(token)
        seat.name = name
        try:
            await room.save()
        except GameServerError:
            seat.token_hash = None
            seat.name = None
            raise
    log.info("seat claimed game=%s role=%s", room.game_id, role)
    return role, token


async def _handshake(
    hub: Hub, hello: protocol.Hello, admin_key: str
) -> tuple[Room, str | None, dict[str, Any]]:
    if isinstance(hello, protocol.Resume):
        room, seat = await hub.room_for_token(hello.token)
        return room, seat, {"resumed": True}
    if isinstance(hello, protocol.Watch):
        room = await hub.get_room(hello.game_id)
        ok = (
            tokens.matches(hello.token, room.facilitator_hash)
            or tokens.matches(hello.token, room.session_hash)
            or hmac.compare_digest(hello.token.encode(), admin_key.encode())
        )
        if not ok:
            raise NotAuthorized("this token does not control that game", code="bad_token")
        return room, None, {}
    room = await hub.room_for_code(hello.code)
    role: str | None = None
    if hello.code == room.open_code:
        role = hello.role
        if role is not None and role not in room.seats:
            raise NotFound(
                f"no role {role!r}; roles are {', '.join(room.seats)}", code="no_such_role"
            )
    else:
        match = [r for r, s in room.seats.items() if s.join_code == hello.code]
        if not match:
            raise NotFound(f"no game has the join code {hello.code!r}")
        role = match[0]
        if hello.role is not None and hello.role != role:
            raise Conflict(f"this join code is for the {role} seat", code="wrong_role")
    claimed, token = await _claim(room, role, hello.name)
    return room, claimed, {"token": token}


async def websocket_endpoint(websocket: WebSocket) -> None:
    hub: Hub = websocket.app.state.hub
    config = hub.config
    await websocket.accept()
    conn = Connection(websocket, limit=config.outbox_limit)
    sender = asyncio.create_task(conn.run_sender(), name="ws sender")
    hub.metrics.connections += 1
    hub.metrics.connections_total += 1
    joined: list[Room] = []  # filled by _serve once the handshake succeeds
    try:
        await _serve(websocket, conn, hub, joined)
    except _Closing as exc:
        conn.send(protocol.error_message("closing", exc.reason))
        conn.close(exc.code)
    except (WebSocketDisconnect, ConnectionError):
        pass
    finally:
        hub.metrics.connections -= 1
        if conn.close_code == CloseCode.TOO_SLOW:
            hub.metrics.dropped_slow += 1
        for room in joined:
            room.detach(conn)
        conn.close(CloseCode.NORMAL)
        try:
            await asyncio.wait_for(sender, timeout=5)
        except (TimeoutError, WebSocketDisconnect, ConnectionError, RuntimeError):
            sender.cancel()


async def _serve(websocket: WebSocket, conn: Connection, hub: Hub, joined: list[Room]) -> None:
    config = hub.config
    limit = config.max_message_bytes
    # Handshake: errors are reported and the client may try again on the same connection.
    room: Room | None = None
    role: str | None = None
    deadline = time.monotonic() + config.hello_timeout
    attempts = 0
    while room is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or attempts >= MAX_HELLO_TRIES:
            raise _Closing(CloseCode.POLICY, "no valid 'hello' in time")
        try:
            data = await asyncio.wait_for(_next_frame(websocket, limit), remaining)
        except TimeoutError:
            raise _Closing(CloseCode.POLICY, "no 'hello' in time") from None
        attempts += 1
        try:
            hello = protocol.parse_hello(data)
            room, role, extra = await _handshake(hub, hello, hub.admin_key)
        except GameServerError as exc:
            conn.send(protocol.error_message(exc.code, exc.message))
            continue
        welcome: dict[str, Any] = {
            "type": "welcome",
            "v": protocol.PROTOCOL_VERSION,
            "game_id": room.game_id,
            "role": role,
            **extra,
        }
        conn.send(protocol.encode(welcome))
        room.attach(conn, role)
        joined.append(room)
    limiter = RateLimiter(config.rate_limit, config.rate_burst)
    while True:
        data = await _next_frame(websocket, limit)
        if not limiter.allow():
            raise _Closing(CloseCode.FLOOD, "too many messages")
        if conn.closed:
            return
        ref = data.get("id") if isinstance(data.get("id"), str) else None
        try:
            message = protocol.parse_client_message(data)
            if isinstance(message, protocol.Submit):
                if role is None:
                    raise Conflict("a facilitator connection cannot submit decisions")
                ack = await room.submit(role, message.round, message.id, message.decision)
                conn.send(protocol.encode(ack))
                if not ack.get("duplicate"):
                    await room.after_submit()
            elif isinstance(message, protocol.Ping):
                conn.send(protocol.encode({"type": "pong", "id": message.id, "time": time.time()}))
            else:
                conn.send(protocol.encode(room.sync_message(role)))
        except GameServerError as exc:
            hub.metrics.errors_sent += 1
            conn.send(protocol.error_message(exc.code, exc.message, ref))
