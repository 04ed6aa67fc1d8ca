"""uvicorn's HTTP protocol, bounded against slow and malformed clients.

:class:`GameHttpProtocol` is uvicorn's h11 protocol with a request deadline:
uvicorn bounds only the wait *between* requests (``timeout_keep_alive``, armed once a response
is complete); a socket that opens and sends nothing, or sends a request a byte every few seconds
(slowloris), is kept forever. Here a request must arrive whole, head and body, within
``request_timeout`` of the connection opening (or of its first byte, on a kept-alive one). A
connection that sent nothing is then closed; one that sent part of a request is answered
``408`` and closed. A request that is not valid HTTP (a malformed chunked body, say) is answered
``400``, and if the app is already running that request it sees its client gone, where uvicorn
would let it answer too and log h11's refusal of a second response as a traceback. Both answers
have the API's JSON error body, code ``http_error``.

When the server begins to stop, uvicorn calls each connection's ``shutdown`` and then waits
for the requests in flight (up to its graceful timeout). A long-poll (a student waiting in a
class's lobby) would hold it that long: ``shutdown`` here first calls the app's hook, the
callable the app's lifespan put in its state under :data:`SHUTDOWN_HOOK`, which answers them.

WebSocket upgrades go to :mod:`gameserver.server.websocket`. Every connection starts with
:class:`FirstRead`: one whose first read is a whole WebSocket upgrade, nothing after it (as
browsers and client libraries send it), goes there as it came, without uvicorn's h11 protocol
ever being set up for it: websockets parses the request anyway, and h11's parse before it, the
scope uvicorn builds and the request it writes out again cost about a tenth of a join's CPU
(:func:`_whole_upgrade` says which go; anything else goes to :class:`GameHttpProtocol`, and
through h11 as any request). There the connection answers a plain upgrade itself, without
websockets' parse either (:meth:`~gameserver.server.websocket.WebSocketConnection.upgrade`).

One turn of the event loop takes up a few new connections' first requests (an upgrade, or an
HTTP request: 4, or in a long turn up to 32 at 1,000 a second); the others wait, their sockets
unread, for the next turns (:class:`Admission`). Without that bound a class whose players all
join at once is read in a few turns of the loop, each as long as the hundreds of joins it
takes up, and the rounds of the games already playing wait behind them.

The classes use attributes of uvicorn's that are not its public API (the h11 connection, the
request cycle, the server state's set of connections): pyproject.toml pins the uvicorn versions
this was tested with, and tests/test_transport.py checks each behaviour on real sockets.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar, cast

import h11
import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol
from uvicorn.server import ServerState

from gameserver.errors import ErrorCode

log = logging.getLogger(__name__)

#: The client's h11 states while a request is still arriving (its head, then its body).
_ARRIVING = (h11.IDLE, h11.SEND_BODY)
#: The key of the app's lifespan state that holds what to call when the server begins to stop.
SHUTDOWN_HOOK = "gameserver.shutdown"


#: The header lines of a request, names lowercased, values as they came around their colon.
Headers = list[tuple[bytes, bytes]]


def _whole_upgrade(data: bytes) -> Headers | None:
    """The header lines of ``data`` if it is one whole request head and nothing after it, a
    ``GET`` of the WebSocket path that uvicorn would upgrade: ``Connection`` lists ``upgrade``
    and ``Upgrade`` is ``websocket`` (as uvicorn reads them); None for anything else, which
    goes through h11 as before."""
    if not data.startswith(b"GET /ws") or data.find(b"\r\n\r\n") != len(data) - 4:
        return None
    request_line, *lines = data[:-4].split(b"\r\n")
    if not request_line.endswith(b" HTTP/1.1"):
        return None
    connection, upgrade = False, False
    headers: Headers = []
    for line in lines:
        name, _, value = line.partition(b":")
        name = name.lower()
        headers.append((name, value))
        if name == b"connection":
            connection = b"upgrade" in [token.strip() for token in value.lower().split(b",")]
        elif name == b"upgrade":
            upgrade = value.strip().lower() == b"websocket"
    return headers if connection and upgrade else None


def _peer(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "client"


class GameHttpProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's arrival and JSON refusals."""

    #: Seconds a request has to arrive whole; :func:`http_protocol` sets it per server.
    request_timeout: float = 10.0

    _request_timer: asyncio.TimerHandle | None = None
    _heard = False  # bytes of the request now arriving were received
    #: Loop time the connection opened, for the first request's deadline (:class:`FirstRead`).
    opened_at: float | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        self._heard = True
        super().data_received(data)
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        hook = self.app_state.get(SHUTDOWN_HOOK)
        if callable(hook):
            hook()  # idempotent: uvicorn calls this once per connection
        super().shutdown()

    def _watch(self) -> None:
        """Run the timer while a request is arriving; stop it once the request is whole, the
        connection is closing, or it became a WebSocket (which has its own hello timeout)."""
        transport = self.transport
        arriving = (
            transport.get_protocol() is self
            and not transport.is_closing()
            and self.conn.their_state in _ARRIVING
        )
        if not arriving:
            self._stop_timer()
            self._heard = False
        elif self._request_timer is None:
            delay = self.request_timeout
            if self.opened_at is not None:  # the first request: from the connection's opening
                delay -= self.loop.time() - self.opened_at
                self.opened_at = None
            self._request_timer = self.loop.call_later(max(0.0, delay), self._timed_out)

    def _stop_timer(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _timed_out(self) -> None:
        self._request_timer = None
        transport = self.transport
        if transport.is_closing() or transport.get_protocol() is not self:
            return
        if self.conn.their_state not in _ARRIVING:
            return
        if not self._heard:
            # Nothing sent at all (a browser's spare pre-connected socket, or a probe): closing
            # is the whole answer, as uvicorn's own keep-alive timeout does.
            transport.close()
            return
        message = f"no complete request within {self.request_timeout:g} s"
        log.info("%s: %s; closed (408)", _peer(transport), message)
        self._refuse(408, message)

    def send_400_response(self, msg: str) -> None:
        # uvicorn calls this when h11 finds the request malformed; it has logged the warning.
        self._refuse(400, "the request is not valid HTTP/1.1")

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` with the API's JSON error body while an answer can still be given,
        then close. A request the app is running sees its client gone: its reads end and what it
        sends is dropped, as when a client leaves (h11 allows one response per request)."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True
            cycle.message_event.set()
        body = orjson.dumps({"error": {"code": ErrorCode.HTTP_ERROR, "message": message}})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        events = (
            h11.Response(status_code=status, headers=headers, reason=STATUS_PHRASES[status]),
            h11.Data(data=body),
            h11.EndOfMessage(),
        )
        try:
            for event in events:
                self.transport.write(self.conn.send(event) or b"")
        except h11.LocalProtocolError:
            pass  # the app's response has begun or was sent: nothing more can be said
        self.transport.close()


class FirstRead(asyncio.Protocol):
    """Every connection's protocol until its first read. A WebSocket upgrade that comes whole
    in it goes to the WebSocket protocol (:func:`_whole_upgrade`); anything else to
    :class:`GameHttpProtocol`, which takes the connection from there as if it had had it from
    the start. A WebSocket then never pays for uvicorn's h11 protocol being set up (its h11
    state machine, loggers and the socket's addresses: 8% of a join's instructions). A
    connection that sends nothing is closed after the request timeout, as before."""

    __slots__ = (
        "_app_state",
        "_config",
        "_loop",
        "_opened_at",
        "_server_state",
        "_timer",
        "_transport",
    )

    #: What :func:`http_protocol` binds: the HTTP protocol, with this server's timeout.
    http_class: type[GameHttpProtocol] = GameHttpProtocol

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._config = config
        self._server_state = server_state
        self._app_state = app_state
        self._loop = _loop or asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._opened_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        # uvicorn shuts it down with the others (its set is typed for its own protocols).
        cast("set[Any]", self._server_state.connections).add(self)
        self._opened_at = self._loop.time()
        self._timer = self._loop.call_later(self.http_class.request_timeout, self._silent)

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        self._let_go()
        if transport is not None:
            Admission.of(self._loop).add(self._take, transport, data)

    def _take(self, transport: asyncio.Transport, data: bytes) -> None:
        """Hand the connection, with its first read, to the protocol it asks for."""
        config = self._config
        headers = _whole_upgrade(data)
        if headers is not None and config.ws_protocol_class is not None:
            websocket = config.ws_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self._server_state, app_state=self._app_state
            )
            websocket.connection_made(transport)
            transport.set_protocol(websocket)
            upgrade = getattr(websocket, "upgrade", None)
            if upgrade is not None:  # ours: a plain upgrade is answered without websockets
                upgrade(data, headers)
            else:
                websocket.data_received(data)
            return
        http = self.http_class(config, self._server_state, self._app_state, self._loop)
        http.opened_at = self._opened_at
        http.connection_made(transport)
        transport.set_protocol(http)
        http.data_received(data)

    def eof_received(self) -> bool | None:
        return None  # closed without a request: the transport closes

    def connection_lost(self, exc: Exception | None) -> None:
        self._let_go()

    def shutdown(self) -> None:
        """uvicorn is stopping: nothing was asked on this connection, so it just closes."""
        if self._transport is not None:
            self._transport.close()

    def _let_go(self) -> None:
        self._server_state.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._transport = None

    def _silent(self) -> None:
        # Nothing sent at all (a browser's spare pre-connected socket, or a probe): closing is
        # the whole answer, as uvicorn's own keep-alive timeout does.
        self._timer = None
        if self._transport is not None:
            self._transport.close()


#: New connections whose first request one turn of the event loop takes up: this many, ...
ADMITTED_PER_TURN = 4
#: ... or as many as this rate gives the time since the last turn that took some up (a loop
#: busy with rounds turns every 30-50 ms: 4 a turn would let a class in at 100 a second) ...
ADMITTED_PER_SECOND = 1000.0
#: ... up to this many.
ADMITTED_AT_MOST = 32

#: What takes up a new connection's first request: ``take(transport, first_read)``.
Take = Callable[[asyncio.Transport, bytes], None]


class Admission:
    """New connections' first requests (a WebSocket upgrade, an HTTP request) taken up a few
    a turn of the event loop, in the order they came: :data:`ADMITTED_PER_TURN`, or in long
    turns as many as :data:`ADMITTED_PER_SECOND` gives the turn's length, at most
    :data:`ADMITTED_AT_MOST`. The others wait for the next turns, their sockets not read
    meanwhile. One that finds the turn's share left is taken up at once, as before.
    Connections already open are not held: their reads, and every request after a kept-alive
    connection's first, go on as they come.

    A new connection's first request is the dearest thing a client asks (a join saves its seat
    and sends a whole view; a request goes through the HTTP stack and the app): taken up as
    they are read, those of a class that comes in at once fill a few turns of the loop, and
    every round of the games already playing waits behind them. This way each turn carries a
    few of them and the rounds go on between (``docs/deploy.md`` has the figures); and a
    server whose loop is busy with rounds still lets a class in at about 1,000 a second."""

    __slots__ = (
        "_at_most",
        "_loop",
        "_per_second",
        "_per_turn",
        "_scheduled",
        "_share",
        "_taken",
        "_turn_at",
        "_waiting",
    )

    _by_loop: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Admission]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        per_turn: int = ADMITTED_PER_TURN,
        per_second: float = ADMITTED_PER_SECOND,
        at_most: int = ADMITTED_AT_MOST,
    ) -> None:
        self._loop = loop
        self._per_turn = per_turn
        self._per_second = per_second
        self._at_most = at_most
        self._share = per_turn  # what this turn takes up
        self._taken = 0  # first requests taken up in this turn of the loop
        self._turn_at = loop.time()  # when the last turn that took some up began
        self._scheduled = False
        self._waiting: deque[tuple[Take, asyncio.Transport, bytes]] = deque()

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> Admission:
        """The event loop's admission (one per loop: a server's, and each test's)."""
        admission = cls._by_loop.get(loop)
        if admission is None:
            admission = cls._by_loop[loop] = cls(loop)
        return admission

    def add(self, take: Take, transport: asyncio.Transport, first_read: bytes) -> None:
        """Take up a first request now if this turn has room for it, else in a later turn."""
        if not self._waiting and self._taken < self._share:
            self._taken += 1
            self._schedule()
            take(transport, first_read)
            return
        transport.pause_reading()  # nothing more is read from it until it is taken up
        self._waiting.append((take, transport, first_read))
        self._schedule()

    @property
    def waiting(self) -> int:
        """First requests read and not taken up yet."""
        return len(self._waiting)

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._next_turn)

    def _next_turn(self) -> None:
        """A new turn: its share goes to the first requests that wait, oldest first."""
        self._scheduled = False
        self._taken = 0
        now = self._loop.time()
        since, self._turn_at = now - self._turn_at, now
        self._share = max(self._per_turn, min(self._at_most, int(self._per_second * since)))
        waiting = self._waiting
        while waiting and self._taken < self._share:
            take, transport, first_read = waiting.popleft()
            if transport.is_closing():
                continue  # aborted meanwhile (the server stopping, or the client reset)
            self._taken += 1
            transport.resume_reading()
            try:
                take(transport, first_read)
            except Exception:  # as the loop does with a read callback that raises
                log.exception("taking up a new connection's first request failed")
                transport.abort()
        if waiting or self._taken:
            self._schedule()


def http_protocol(request_timeout: float) -> type[FirstRead]:
    """The protocol class for ``uvicorn.run(http=...)``, with this server's request timeout
    (uvicorn builds protocols itself, from the class, with arguments of its own)."""

    class BoundHttpProtocol(GameHttpProtocol):
        pass

    BoundHttpProtocol.request_timeout = request_timeout

    class BoundFirstRead(FirstRead):
        __slots__ = ()
        http_class = BoundHttpProtocol

    return BoundFirstRead
