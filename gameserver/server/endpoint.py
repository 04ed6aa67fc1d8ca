"""The WebSocket endpoint: the handshake, then a receive loop that hands frames to the game.

Frames become typed messages in :mod:`gameserver.protocol`; everything a game does with them
is its driver's. Bad input gets an ``error`` message and the connection stays open. Only a
malformed frame (1007), an oversized message (1009), a flood (4001) or no valid hello in time
(1008) close it; each of those closes is preceded by an ``error`` with code ``closing``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from gameserver import protocol
from gameserver.errors import (
    CloseCode,
    Conflict,
    ErrorCode,
    GameServerError,
    NotAuthorized,
    NotFound,
)
from gameserver.server import events as ev
from gameserver.server import tokens
from gameserver.server.connection import Connection
from gameserver.server.driver import Driver
from gameserver.server.hub import Hub

log = logging.getLogger(__name__)

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

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.level = min(self.burst, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.level < 1.0:
            return False
        self.level -= 1.0
        return True

    def refund(self) -> None:
        """Give back the token of a message that moved the game on (see the endpoint)."""
        self.level = min(self.burst, self.level + 1.0)


async def _next_frame(websocket: WebSocket, limit: int) -> str | bytes:
    """The next frame, as it came; :class:`_Closing` for one over the size limit."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    frame: str | bytes | None = message.get("text")
    if frame is None:
        frame = message.get("bytes") or b""
    if len(frame) > limit:
        raise _Closing(CloseCode.TOO_BIG, f"message larger than {limit} bytes")
    return frame


def _parse(frame: str | bytes) -> dict[str, Any]:
    """A frame as a JSON object: :class:`_Closing` (1007) if it is not one at all, and
    :class:`GameServerError` if it nests too deep or holds unsafe numbers (the connection
    stays: it is an answerable mistake)."""
    try:
        return protocol.loads_frame(frame)
    except protocol.MalformedFrame as exc:
        raise _Closing(CloseCode.MALFORMED, str(exc)) from exc


async def _claim(driver: Driver, role: str | None, name: str | None) -> tuple[str, str]:
    """Give a seat to a new player; the role taken and the seat token (saved before it is
    shown). The room picks the seat, so players joining at once get different seats."""
    token = tokens.new_token(driver.game_id)
    claimed = await driver.command(
        lambda ref: ev.ClaimSeat(ref, role, name, tokens.hash_secret(token))
    )
    assert isinstance(claimed, str)
    return claimed, token


async def _handshake(
    hub: Hub, hello: protocol.Hello
) -> tuple[Driver, str | None, protocol.Welcome]:
    if isinstance(hello, protocol.Resume):
        driver, seat = await hub.driver_for_token(hello.token)
        return driver, seat, protocol.welcome(driver.game_id, seat, resumed=True)
    if isinstance(hello, protocol.Watch):
        driver = await hub.driver(hello.game_id)
        record = driver.room.record
        ok = (
            tokens.matches(hello.token, record.facilitator_hash)
            or tokens.matches(hello.token, record.session_hash)
            or hmac.compare_digest(hello.token.encode(), hub.admin_key.encode())
        )
        if not ok:
            raise NotAuthorized("this token does not control that game", code=ErrorCode.BAD_TOKEN)
        return driver, None, protocol.welcome(driver.game_id, None)
    driver = await hub.driver_for_code(hello.code)
    record = driver.room.record
    role: str | None = None
    if hello.code == record.open_code:
        role = hello.role
        if role is not None and role not in record.roles:
            raise NotFound(
                f"no role {role!r}; roles are {', '.join(record.roles)}",
                code=ErrorCode.NO_SUCH_ROLE,
            )
    else:
        match = [s.role for s in record.seats if s.join_code == hello.code]
        if not match:
            raise NotFound(f"no game has the join code {hello.code!r}")
        role = match[0]
        if hello.role is not None and hello.role != role:
            raise Conflict(f"this join code is for the {role} seat", code=ErrorCode.WRONG_ROLE)
    claimed, token = await _claim(driver, role, hello.name)
    return driver, claimed, protocol.welcome(driver.game_id, claimed, token=token)


async def websocket_endpoint(websocket: WebSocket) -> None:
    hub: Hub = websocket.app.state.hub
    await websocket.accept()
    conn = Connection(websocket, limit=hub.config.outbox_limit)
    sender = asyncio.create_task(conn.run_sender(), name="ws sender")
    hub.metrics.connections += 1
    hub.metrics.connections_total += 1
    joined: list[Driver] = []  # filled by _serve once the handshake succeeds
    try:
        await _serve(websocket, conn, hub, joined)
    except _Closing as exc:
        conn.send(protocol.encode(protocol.error_message(ErrorCode.CLOSING, exc.reason)))
        conn.close(exc.code)
    except (WebSocketDisconnect, ConnectionError):
        pass
    except Exception:  # a bug of ours: say so in the log, and close with 1011, not 1000
        log.exception("connection handler failed game=%s seat=%s", conn.game_id, conn.seat)
        conn.close(CloseCode.SERVER_ERROR)
    finally:
        hub.metrics.connections -= 1
        if conn.close_code == CloseCode.TOO_SLOW:
            hub.metrics.dropped_slow += 1
        for driver in joined:
            driver.disconnect(conn)
        conn.close(CloseCode.NORMAL)
        try:
            await asyncio.wait_for(sender, timeout=5)
        except (TimeoutError, WebSocketDisconnect, ConnectionError, RuntimeError):
            sender.cancel()


async def _hello(websocket: WebSocket, conn: Connection, hub: Hub) -> tuple[Driver, str | None]:
    """Handshake: errors are reported and the client may try again on the same connection."""
    config = hub.config
    deadline = time.monotonic() + config.hello_timeout
    for _ in range(MAX_HELLO_TRIES):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            frame = await asyncio.wait_for(
                _next_frame(websocket, config.max_message_bytes), remaining
            )
        except TimeoutError:
            raise _Closing(CloseCode.POLICY, "no 'hello' in time") from None
        try:
            hello = protocol.parse_hello(_parse(frame))
            driver, role, welcome = await _handshake(hub, hello)
        except GameServerError as exc:
            conn.send(protocol.encode(protocol.error(exc)))
            continue
        conn.send(protocol.encode(welcome))
        return driver, role
    raise _Closing(CloseCode.POLICY, "no valid 'hello' in time")


async def _serve(websocket: WebSocket, conn: Connection, hub: Hub, joined: list[Driver]) -> None:
    config = hub.config
    driver, role = await _hello(websocket, conn, hub)
    conn.game_id, conn.seat = driver.game_id, role
    conn.kind = "player" if role is not None else "facilitator"
    joined.append(driver)
    driver.connect(conn, role)
    limiter = RateLimiter(config.rate_limit, config.rate_burst)
    # A seat's first decision for each round costs nothing: a fast client (a bot with no think
    # time) sends one a round, as fast as the game goes, and is no flood. Changed decisions,
    # resends, pings and mistakes still count, so a real flood is still cut off.
    decided_round = 0
    limit = config.max_message_bytes
    while True:
        frame = await _next_frame(websocket, limit)
        if not limiter.allow():  # every frame counts, answerable mistakes too
            raise _Closing(CloseCode.FLOOD, "too many messages")
        if conn.closed:
            return
        ref: str | None = None
        try:
            data = _parse(frame)
            given = data.get("id")
            ref = given if isinstance(given, str) and len(given) <= protocol.MAX_ID else None
            message = protocol.parse_client_message(data)
            if isinstance(message, protocol.Submit):
                if role is None:
                    raise Conflict("a facilitator connection cannot submit decisions")
                await driver.submit(conn, role, message)
                if message.round > decided_round:
                    decided_round = message.round
                    limiter.refund()
            elif isinstance(message, protocol.Ping):
                conn.send(protocol.encode(protocol.pong(message.id, time.time())))
            else:
                driver.sync(conn)
        except GameServerError as exc:
            hub.metrics.errors_sent += 1
            conn.send(protocol.encode(protocol.error(exc, ref)))
