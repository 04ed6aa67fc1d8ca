"""A client's WebSocket, on websockets' sans-I/O protocol, with no ASGI layer in between.

uvicorn serves HTTP and hands every WebSocket upgrade to a :class:`WebSocketConnection` (made by
:class:`Upgrades`, its ``ws`` protocol factory). From there the bytes go through websockets'
``ServerProtocol`` (the handshake, ping, close, fragments, and every broken frame) or, for the
common single-frame messages, :mod:`gameserver.protocol.framing`; a plain upgrade that came
whole is answered here (:meth:`WebSocketConnection.upgrade`). Each complete message goes
straight to the connection's :class:`~gameserver.server.session.Session`, inside the event
loop's read callback: no queue, no task switch, no Starlette object per message.

Sending never waits: :meth:`WebSocketConnection.send` frames a message into the protocol's
buffer, and the frames of one turn of the event loop leave in one socket write (a round's view,
an ack and a progress to the same client cost one system call, not three). A client that stops
reading is dropped with 4000 once its unsent frames pass ``outbox_limit`` messages; it gets a
full ``sync`` when it comes back. One timer per server pings idle connections and closes those
that stop answering (1011), sooner for a page that heartbeats (:class:`Keepalive`); uvicorn's
shutdown closes every connection with 1012.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import hashlib
import logging
import re
import time
from collections.abc import Sequence
from typing import Any, cast

from websockets.exceptions import PayloadTooBig, ProtocolError
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import Protocol, State
from websockets.server import ServerProtocol

from gameserver.errors import CloseCode
from gameserver.protocol.framing import Reader, text_header
from gameserver.server.hub import Hub
from gameserver.server.session import Session

log = logging.getLogger(__name__)

#: The only path that upgrades to a WebSocket.
PATH = "/ws"
#: Seconds to wait for the client's side of the closing handshake before dropping the socket.
CLOSE_TIMEOUT = 5.0

_DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)
#: RFC 6455's GUID, which a handshake's accept key hashes with the client's key.
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# A header name, as websockets' request parser takes it (websockets.http11): a token.
_TOKEN = rb"[-!#$%&\'*+.^_`|~0-9a-zA-Z]+"
# Header lines as that parser accepts them: a token, a colon, then a value of tab, printable
# and non-ASCII bytes; each line ends with CRLF.
_HEADER_LINES = re.compile(rb"(?:" + _TOKEN + rb":[\x09\x20-\x7e\x80-\xff]*\r\n)*")
#: A ``Connection`` header's value: tokens, separated by commas.
_TOKENS = re.compile(_TOKEN + rb"(?:[ \t]*,[ \t]*" + _TOKEN + rb")*")
#: A request head answered here is at most this long, with at most this many headers
#: (websockets' bounds, a line of 8,192 bytes and 128 headers, are well beyond them).
_MAX_HEAD = 4096
_MAX_HEADERS = 64
#: Headers of a request that websockets refuses or answers in a way of its own.
_FALL_BACK = (b"transfer-encoding", b"content-length")
# websockets logs every connection opened and closed at INFO: thousands of lines under load.
_protocol_log = logging.getLogger(__name__ + ".protocol")
_protocol_log.setLevel(logging.WARNING)


class WebSocketConnection(asyncio.Protocol):
    """One client connection: a player on a seat, or a facilitator watching a game."""

    __slots__ = (
        "_buffered",
        "_closer",
        "_eof_due",
        "_flush_due",
        "_hub",
        "_keepalive",
        "_open",
        "_out",
        "_parts",
        "_paused",
        "_reader",
        "_server_state",
        "_session",
        "_text",
        "_transport",
        "_ws",
        "close_code",
        "game_id",
        "heard",
        "kind",
        "pinged",
        "seat",
    )

    def __init__(self, hub: Hub, keepalive: Keepalive, server_state: Any = None) -> None:
        config = hub.config
        extensions = [ServerPerMessageDeflateFactory()] if config.ws_deflate else None
        self._ws = ServerProtocol(
            extensions=extensions, max_size=config.max_message_bytes, logger=_protocol_log
        )
        self._hub = hub
        self._server_state = server_state
        self._transport: asyncio.Transport | None = None
        self._session: Session | None = None
        self._parts: list[bytes] = []
        # Bytes to write at the end of this turn: our frames (see send) and websockets' output,
        # taken from it after every call that may make some (see _took), in order.
        self._out: list[bytes] = []
        self._open = False  # websockets' state is OPEN (kept here: read on every send)
        self._eof_due = False  # websockets asked to end our half of the stream
        # Reads the common frames once open (protocol/framing.py); websockets all before.
        self._reader = Reader(config.max_message_bytes)
        self._text = True  # the message being assembled came in a text frame
        self._flush_due = False
        self._paused = False
        self._buffered = 0  # messages written while the socket would not take more
        self._closer: asyncio.TimerHandle | None = None
        self._keepalive = keepalive
        self.heard = 0.0  # loop time the client last sent anything
        self.pinged = False  # a ping went out since the client was last heard
        self.close_code: int | None = None
        self.game_id: str | None = None
        self.seat: str | None = None
        self.kind = "player"

    # -- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # a stream (asyncio or uvloop)
        self.heard = self._keepalive.loop.time()
        if self._server_state is not None:
            self._server_state.connections.add(self)

    def data_received(self, data: bytes) -> None:
        self.heard = self._keepalive.loop.time()
        self.pinged = False
        for payload, text in self._reader.feed(data):
            if text is None:
                self._through_websockets(payload)
            else:
                self._message(payload, text)
        if self._out or self._eof_due:  # anything reading it made goes out now
            self._write()

    def upgrade(self, request: bytes, headers: Sequence[tuple[bytes, bytes]]) -> None:
        """A WebSocket upgrade that came whole in the connection's first read (the transport
        split its header lines, names lowercased). One that websockets would accept as it is
        and that asks for nothing beyond a plain WebSocket is answered here, with the bytes
        websockets would answer: websockets parsing the request, checking it and writing its
        answer was a fifth of a join's instructions (callgrind, 400 joins: 1,199,661 -> 966,212
        a join). Any other is read by websockets, as every byte before it was."""
        accept = _plain_accept(request, headers, deflate=bool(self._hub.config.ws_deflate))
        if accept is None:
            self.data_received(request)
            return
        self.heard = self._keepalive.loop.time()
        ws = self._ws
        ws.parser.close()  # the request's parser: it never ran, and the frames' replaces it
        ws.parser = Protocol.parse(ws)
        next(ws.parser)
        ws.state = State.OPEN
        self._open = True
        self._out.append(
            b"HTTP/1.1 101 Switching Protocols\r\nDate: %s\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % (_http_date(), accept)
        )
        self._opened()
        self._write()

    def _through_websockets(self, data: bytes) -> None:
        ws = self._ws
        ws.receive_data(data)
        self._took()  # a pong or a close it answered with goes before what we answer
        for event in ws.events_received():
            if isinstance(event, Frame):
                if event.opcode in _DATA:
                    self._frame(event)
            elif isinstance(event, Request):
                self._handshake(event)
        if ws.parser_exc is not None and self.close_code is None:
            self._refused(ws.parser_exc)

    def eof_received(self) -> bool | None:
        self._ws.receive_eof()
        self._took()
        self._write()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._keepalive.connections.discard(self)
        if self._server_state is not None:
            self._server_state.connections.discard(self)
        if self._closer is not None:
            self._closer.cancel()
            self._closer = None
        session, self._session = self._session, None
        if session is not None:
            session.ended()
            if self.close_code == CloseCode.TOO_SLOW:
                self._hub.metrics.dropped_slow += 1
        self._transport = None
        # Nothing reads from it any more. Its parser, a generator that refers back to it, is
        # closed, as the session and the timer above are let go: a closed connection is then
        # freed at once, not by the next collection of the cycle collector (which, with the
        # server's thresholds, came after hundreds of closed connections).
        self._ws.parser.close()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._buffered = 0

    # -- what the session and the driver call ----------------------------------------------------

    def send(self, data: bytes) -> None:
        """Frame one encoded message; it leaves with the others of this loop turn."""
        if not self._open or self.close_code is not None:
            return
        if self._paused:
            self._buffered += 1
            if self._buffered > self._hub.config.outbox_limit:
                log.info("dropping slow client game=%s seat=%s", self.game_id, self.seat)
                self._drop_slow()
                return
        if self._ws.extensions:  # permessage-deflate: websockets compresses and frames
            self._ws.send_text(data)
            self._took()
        else:
            # An unmasked, unfragmented text frame is a header and the payload; framing it
            # here costs a tenth of websockets' general path (a Frame, its checks, a copy),
            # which was 3% of the server's time.
            out = self._out
            out.append(text_header(len(data)))
            out.append(data)
        if not self._flush_due:
            self._flush_due = True
            self._hub.turn.flush(id(self), self._write)

    def close(self, code: int = CloseCode.NORMAL) -> None:
        """Close with ``code`` after what was sent (the closing handshake, then the socket)."""
        if self.close_code is not None:
            return
        self.close_code = int(code)
        if self._open:
            self._ws.send_close(code)
            self._took()
        self._write()
        if self._closer is None and self._transport is not None:
            self._closer = self._keepalive.loop.call_later(CLOSE_TIMEOUT, self._abort)

    def shutdown(self) -> None:
        """uvicorn is stopping: tell the client to come back (1012)."""
        self.close(CloseCode.RESTARTING)

    def give_up(self) -> None:
        """It stopped answering: the close frame (1011), then the socket, without waiting for a
        closing handshake it will not answer."""
        self.close(CloseCode.SERVER_ERROR)
        if self._transport is not None:
            self._transport.close()  # after what is buffered, the close frame included

    def ping(self) -> None:
        self.pinged = True
        if self._open:
            self._ws.send_ping(b"")
            self._took()
            self._write()

    @property
    def heartbeats(self) -> bool:
        """The client sends the protocol's ``ping`` (a page's heartbeat): it is held to the
        shorter silence limit, so its seat shows offline soon after it goes silent."""
        return self._session is not None and self._session.heartbeats

    # -- inside ------------------------------------------------------------------------------

    def _handshake(self, request: Request) -> None:
        ws = self._ws
        if request.path.split("?", 1)[0] != PATH:
            response = ws.reject(404, "Not Found\n")
        else:
            response = ws.accept(request)
        ws.send_response(response)
        self._took()
        if response.status_code != 101:
            return
        if not ws.reader.buffer:
            # websockets' handshake parser goes on to parse frames in the same generator,
            # whose frame keeps the request it parsed for the connection's whole life: 3.4 KB
            # of headers a connection. Nothing follows the request yet, so a frame parser of
            # its own starts where the old one stands (websockets swaps parsers the same way).
            ws.parser.close()
            ws.parser = Protocol.parse(ws)
            next(ws.parser)
        self._opened()

    def _opened(self) -> None:
        """The handshake is done: the client gets a session, and the keepalive watches it."""
        self._session = Session(self._hub, self)
        self._keepalive.connections.add(self)
        if not self._ws.extensions:
            # From here the common frames are read in framing.py. websockets has seen the
            # request alone (uvicorn hands over the request it parsed, not what followed it),
            # so its parser stands at a frame boundary, as framing.Reader needs.
            self._reader.start()

    def _refused(self, exc: Exception) -> None:
        """The client broke the WebSocket protocol: websockets has sent the close frame (1002,
        1007, 1009); one line in the log says what it was."""
        sent = self._ws.close_sent
        self.close_code = sent.code if sent is not None else CloseCode.PROTOCOL_ERROR
        what = _REFUSALS.get(type(exc), "the frame breaks the WebSocket protocol")
        log.info("client %s: %s (%s); closed %s", self._peer(), what, exc, self.close_code)

    def _peer(self) -> str:
        peer = self._transport.get_extra_info("peername") if self._transport else None
        return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "?"

    def _frame(self, frame: Frame) -> None:
        payload = bytes(frame.data)
        if not frame.fin:
            if not self._parts:
                self._text = frame.opcode is Opcode.TEXT
            self._parts.append(payload)
            return
        if self._parts:
            payload = b"".join([*self._parts, payload])
            self._parts.clear()
        elif frame.opcode is not Opcode.CONT:
            self._text = frame.opcode is Opcode.TEXT
        self._message(payload, self._text)

    def _message(self, payload: bytes, text: bool) -> None:
        """One whole message from the client, read here or by websockets."""
        if self._session is None or self.close_code is not None:
            return
        if text and not payload.isascii():
            try:
                payload.decode()
            except UnicodeDecodeError as exc:
                # RFC 6455 wants 1007 for this; websockets' sans-I/O layer leaves it to us.
                self._ws.fail(CloseCode.MALFORMED, "text frame is not valid UTF-8")
                self._took()
                self._refused(exc)
                return
        self._session.receive(payload)

    def _took(self) -> None:
        """After every call into websockets that may change its state or make output (what it
        read, a close, a ping): its output joins ours, in order, and its state is noted. Sends
        then need no call into websockets: eight calls a decision fewer, and the server's CPU
        for the same games 4% less (median of six pairs)."""
        ws = self._ws
        queued = ws.data_to_send()
        if queued:
            if not queued[-1]:  # an empty chunk: end our half of the stream (after a close)
                self._eof_due = True
                queued = [chunk for chunk in queued if chunk]
            self._out += queued
        self._open = ws.state is State.OPEN
        if self._closer is None and self._transport is not None and ws.close_expected():
            self._closer = self._keepalive.loop.call_later(CLOSE_TIMEOUT, self._abort)

    def _write(self) -> None:
        self._flush_due = False
        transport = self._transport
        if transport is None:
            return
        out = self._out
        if out:
            transport.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()
        if self._eof_due:
            self._eof_due = False
            if transport.can_write_eof():
                transport.write_eof()

    def _drop_slow(self) -> None:
        # No more frames: a close frame behind what is buffered, and the socket is dropped if
        # it is not read within CLOSE_TIMEOUT. It resynchronises with a sync when it comes back.
        self.close(CloseCode.TOO_SLOW)

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


_REFUSALS: dict[type[Exception], str] = {
    UnicodeDecodeError: "text frame is not UTF-8",
    PayloadTooBig: "message too big",
    ProtocolError: "the frame breaks the WebSocket protocol",
}


class Keepalive:
    """One timer per server, not per connection. A connection may stay quiet for twice
    ``interval`` seconds, or ``heartbeat`` seconds once it has sent the protocol's ``ping`` (a
    page that heartbeats every few seconds): it is pinged (a WebSocket ping, which browsers
    answer by themselves, even in a background tab whose timers are slowed) after half of its
    limit, and closed with 1011 at its limit. The timer ticks every half ``interval`` or
    quarter ``heartbeat``, whichever is shorter, so each step comes at most one tick late."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, interval: float, heartbeat: float | None = None
    ) -> None:
        self.loop = loop
        self.interval = interval
        self.heartbeat = 2 * interval if heartbeat is None else heartbeat
        self.tick = min(interval / 2, self.heartbeat / 4)
        self.connections: set[WebSocketConnection] = set()
        self._timer = loop.call_later(self.tick, self._tick)

    def _tick(self) -> None:
        now = self.loop.time()
        quiet_limit, beat_limit = 2 * self.interval, self.heartbeat
        for conn in list(self.connections):
            quiet = now - conn.heard
            limit = beat_limit if conn.heartbeats else quiet_limit
            if quiet >= limit:
                conn.give_up()
            elif quiet >= limit / 2 and not conn.pinged:
                conn.ping()
        self._timer = self.loop.call_later(self.tick, self._tick)


def _plain_accept(
    request: bytes, headers: Sequence[tuple[bytes, bytes]], *, deflate: bool
) -> bytes | None:
    """The ``Sec-WebSocket-Accept`` for a whole upgrade request (see
    :meth:`WebSocketConnection.upgrade`) that websockets would accept as it is, for the
    WebSocket path, with nothing to negotiate (no extension asked for while the server offers
    one): the checks of websockets' request parser and of its ``process_request``, each on the
    headers a plain upgrade has. None for anything else, and for anything near one of
    websockets' bounds: websockets reads it, and answers as it always has."""
    if len(request) > _MAX_HEAD or len(headers) > _MAX_HEADERS:
        return None
    line_end = request.find(b"\r\n")
    path = request[4 : line_end - 9]  # between "GET " and " HTTP/1.1"
    if path != b"/ws" and not (path.startswith(b"/ws?") and path.isascii() and b" " not in path):
        return None
    if not _HEADER_LINES.fullmatch(request, line_end + 2, len(request) - 2):
        return None
    keys: list[bytes] = []
    versions: list[bytes] = []
    connections = upgrades = 0
    for name, raw in headers:
        if name == b"sec-websocket-key":
            keys.append(raw.strip(b" \t"))
        elif name == b"sec-websocket-version":
            versions.append(raw.strip(b" \t"))
        elif name == b"connection":
            connections += 1
            if not _TOKENS.fullmatch(raw.strip(b" \t")):
                return None
        elif name == b"upgrade":
            upgrades += 1
        elif name in _FALL_BACK or (deflate and name == b"sec-websocket-extensions"):
            return None
    if connections != 1 or upgrades != 1 or versions != [b"13"] or len(keys) != 1:
        return None
    try:
        if len(base64.b64decode(keys[0], validate=True)) != 16:
            return None
    except binascii.Error:
        return None
    return base64.b64encode(hashlib.sha1(keys[0] + _GUID).digest())


_dates: tuple[int, bytes] = (0, b"")


def _http_date() -> bytes:
    """The ``Date`` of a response, as websockets writes it; made once a second."""
    global _dates
    now = int(time.time())
    if _dates[0] != now:
        _dates = (now, email.utils.formatdate(now, usegmt=True).encode())
    return _dates[1]


class Upgrades:
    """What uvicorn calls on each WebSocket upgrade (its ``ws`` protocol class): a new
    connection to the hub, under the server's one keepalive timer."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.keepalive: Keepalive | None = None

    def __call__(self, *, server_state: Any = None, **_uvicorn: Any) -> WebSocketConnection:
        if self.keepalive is None:  # uvicorn calls from inside the running loop
            loop = asyncio.get_running_loop()
            config = self.hub.config
            self.keepalive = Keepalive(loop, config.ping_interval, config.heartbeat_timeout)
        return WebSocketConnection(self.hub, self.keepalive, server_state)
