"""One client's conversation: the hello, then its messages, whatever carries the frames.

A :class:`Session` gets each complete message from its connection (:meth:`Session.receive`,
called from the transport's read callback or an ASGI receive loop) and answers through the
connection's ``send`` and ``close``. Nothing here waits on a socket: a hello that must load a
game or claim a seat runs in a task of the session's own (later frames queue behind it); a
decision is taken at once, and its save is awaited in a task the hub owns. Bad input gets an
``error`` and the connection stays; a frame that is not a JSON object (1007), no valid hello in
time (1008) and a flood (4001) close it, each after an ``error`` with code ``closing``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from typing import Any, Protocol

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
from gameserver.server.driver import Driver
from gameserver.server.hub import Hub

log = logging.getLogger(__name__)

#: Hellos one connection may try before it is closed (1008).
MAX_HELLO_TRIES = 10


class Peer(Protocol):
    """What a session needs of its connection; the driver sends to it too."""

    game_id: str | None
    seat: str | None
    kind: str

    def send(self, data: bytes) -> None: ...

    def close(self, code: int) -> None: ...

    def __hash__(self) -> int: ...


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


class Session:
    """A connection's hello and messages, in the order they came."""

    def __init__(self, hub: Hub, peer: Peer) -> None:
        self.hub = hub
        self.peer = peer
        self.driver: Driver | None = None
        self.role: str | None = None
        config = hub.config
        self._limiter = RateLimiter(config.rate_limit, config.rate_burst)
        # A seat's first decision for each round costs nothing: a fast client (a bot with no
        # think time) sends one a round, as fast as the game goes, and is no flood. Changed
        # decisions, resends, pings and mistakes still count, so a real flood is cut off.
        self._decided_round = 0
        self._hellos = 0
        #: The client sends ``ping``: a page's heartbeat, held to a short silence limit.
        self.heartbeats = False
        self._joining: asyncio.Task[None] | None = None
        # Frames that came while joining. A list, not a deque: an empty deque holds a block of
        # 64 slots (760 bytes), on every connection for its whole life.
        self._waiting: list[str | bytes] = []
        self._ended = False
        loop = asyncio.get_running_loop()
        self._hello_timer: asyncio.TimerHandle | None = loop.call_later(
            config.hello_timeout, self._close, CloseCode.POLICY, "no 'hello' in time"
        )
        hub.metrics.connections += 1
        hub.metrics.connections_total += 1

    # -- what the connection calls --------------------------------------------------------------

    def receive(self, frame: str | bytes) -> None:
        """One complete message from the client."""
        if self._ended:
            return
        if self.driver is None:
            if self._joining is not None:
                self._waiting.append(frame)
            else:
                self._hello(frame)
        else:
            self._message(frame)

    def ended(self) -> None:
        """The connection is gone: leave the game."""
        if self._ended:
            return
        self._ended = True
        self.hub.metrics.connections -= 1
        self.hub.heap.soon()  # what the connection held is free: back to the system
        if self._hello_timer is not None:
            self._hello_timer.cancel()
        if self._joining is not None:
            self._joining.cancel()
        if self.driver is not None:
            self.driver.disconnect(self.peer)

    # -- the hello ----------------------------------------------------------------------------

    def _hello(self, frame: str | bytes) -> None:
        self._hellos += 1
        try:
            hello = protocol.parse_hello(protocol.loads_frame(frame))
        except protocol.MalformedFrame as exc:
            self._close(CloseCode.MALFORMED, str(exc))
            return
        except GameServerError as exc:
            self._refused(exc)
            return
        self._joining = asyncio.get_running_loop().create_task(self._join(hello), name="hello")

    async def _join(self, hello: protocol.Hello) -> None:
        try:
            driver, role, welcome = await _handshake(self.hub, hello)
        except GameServerError as exc:
            self._joining = None
            self._refused(exc)
            self._next_waiting()
            return
        self._joining = None
        if self._ended:  # gone while the game loaded: a claimed seat stays claimed, as it would
            return
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None
        self.driver, self.role = driver, role
        peer = self.peer
        peer.game_id, peer.seat = driver.game_id, role
        peer.kind = "player" if role is not None else "facilitator"
        peer.send(protocol.encode(welcome))
        updates = isinstance(hello, protocol.Join | protocol.Resume) and hello.view_updates
        driver.connect(peer, role, updates=updates)
        while self._waiting and not self._ended:
            self.receive(self._waiting.pop(0))

    def _refused(self, exc: GameServerError) -> None:
        """A hello refused: say why; the client may try again, up to :data:`MAX_HELLO_TRIES`.
        A game moving between servers ends the connection with 1012: reconnect and resume."""
        self.peer.send(protocol.encode(protocol.error(exc)))
        code = _CLOSES_WITH.get(exc.code)
        if code is not None:
            self._ended_by_server(code)
        elif self._hellos >= MAX_HELLO_TRIES:
            self._close(CloseCode.POLICY, "no valid 'hello' in time")

    def _next_waiting(self) -> None:
        if self._waiting and not self._ended:
            self.receive(self._waiting.pop(0))

    # -- messages -----------------------------------------------------------------------------

    def _message(self, frame: str | bytes) -> None:
        driver, peer = self.driver, self.peer
        assert driver is not None
        data: dict[str, Any] = {}
        # Every frame takes a token of the rate limit, answerable mistakes too, but a seat's
        # first decision for a round that the game takes: taken before the limit is asked,
        # it never asks at all (two calls and a clock read fewer on every decision).
        counted = False
        try:
            # A frame that is not a JSON object closes the connection (1007); one nested too
            # deep or holding unsafe numbers is answered with an error (ProtocolError).
            data = protocol.loads_frame(frame)
            message = protocol.parse_client_message(data)
            if isinstance(message, protocol.Submit):
                if message.round <= self._decided_round:
                    counted = True
                    if not self._allowed():
                        return
                if self.role is None:
                    raise Conflict("a facilitator connection cannot submit decisions")
                saving = driver.submit_now(peer, self.role, message)
                if not counted:  # taken: the seat's first decision for this round
                    self._decided_round = message.round
                if saving is not None:
                    self.hub.spawn(saving, "decision")
            else:
                counted = True
                if not self._allowed():
                    return
                if isinstance(message, protocol.Ping):
                    self.heartbeats = True
                    peer.send(protocol.encode(protocol.pong(message.id, time.time())))
                else:
                    driver.sync(peer)
        except protocol.MalformedFrame as exc:
            self._close(CloseCode.MALFORMED, str(exc))
        except GameServerError as exc:
            if not counted and not self._allowed():
                return
            self.hub.metrics.errors_sent += 1
            given = data.get("id")  # the error names the message it answers, if it had an id
            ref = given if isinstance(given, str) and len(given) <= protocol.MAX_ID else None
            peer.send(protocol.encode(protocol.error(exc, ref)))

    def _allowed(self) -> bool:
        """Whether the rate limit lets one more frame through; if not, the connection closes
        (4001)."""
        if self._limiter.allow():
            return True
        self._close(CloseCode.FLOOD, "too many messages")
        return False

    def _close(self, code: int, reason: str) -> None:
        """End the connection: an ``error`` with code ``closing`` saying why, then ``code``."""
        if self._ended:
            return
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None
        self.peer.send(protocol.encode(protocol.error_message(ErrorCode.CLOSING, reason)))
        self.peer.close(code)

    def _ended_by_server(self, code: int) -> None:
        """Close after an error that says why (:data:`protocol.CLOSES_WITH`)."""
        if self._hello_timer is not None:
            self._hello_timer.cancel()
            self._hello_timer = None
        self.peer.close(code)


_CLOSES_WITH: dict[str, int] = {str(e): int(c) for e, c in protocol.CLOSES_WITH.items()}


async def _claim(
    driver: Driver, role: str | None, hello: protocol.Join, open_join: bool
) -> tuple[str, str]:
    """Give a seat to a new player; the role taken and the seat token (saved before it is
    shown). The room picks the seat, so players joining at once get different seats; a join
    id that already holds the seat gets it back. The join id is a secret of the client's, kept
    hashed like the token."""
    token = tokens.new_token(driver.game_id)
    join_hash = tokens.hash_secret(hello.join_id) if hello.join_id is not None else None
    claimed = await driver.command(
        lambda ref: ev.ClaimSeat(
            ref, role, hello.name, tokens.hash_secret(token), join_hash, open_join
        )
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
    open_join = hello.code == record.open_code
    if open_join:
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
    claimed, token = await _claim(driver, role, hello, open_join)
    return driver, claimed, protocol.welcome(driver.game_id, claimed, token=token)
