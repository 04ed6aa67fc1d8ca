"""uvicorn's HTTP and WebSocket protocols, bounded against slow and malformed clients, with a
cheaper WebSocket read path and a direct send.

HTTP (:class:`GameHttpProtocol`, uvicorn's h11 protocol):
uvicorn bounds only the wait *between* requests (``timeout_keep_alive``, armed once a response
is complete); a socket that opens and sends nothing, or sends a request a byte every few seconds
(slowloris), is kept forever. Here a request must arrive whole, head and body, within
``request_timeout`` of the connection opening (or of its first byte, on a kept-alive one). A
connection that sent nothing is then closed; one that sent part of a request is answered
``408`` and closed. A request that is not valid HTTP (a malformed chunked body, say) is answered
``400``, and if the app is already running that request it sees its client gone, where uvicorn
would let it answer too and log h11's refusal of a second response as a traceback. Both answers
have the API's JSON error body, code ``http_error``.

WebSocket (:class:`GameWebSocketProtocol`, uvicorn's sans-I/O websockets protocol):
A text frame that is not UTF-8 closes the connection with 1007 and one log line (uvicorn logs
a traceback). An upgrade request that websockets refuses before it becomes an event (a request
line or header beyond websockets' limits, which are below h11's) gets websockets' 4xx and is
closed (uvicorn left it open and unanswered).

Reading: the base class pauses the socket after each frame it hands to the app and resumes it
on each ``receive()``: two selector registrations per message, measured at about a quarter of
the event loop's time under load. Here the socket is paused only when frames pile up
(``HIGH_WATER``) and resumed once the app has caught up; the per-connection rate limit in
:mod:`gameserver.server.endpoint` bounds what a client can queue.

Sending: an ASGI ``send`` is a coroutine behind Starlette's state checks and uvicorn's
``writable`` wait, and sends are most of the server's work under load. The protocol therefore
offers ``FAST_SEND`` in the scope's extensions: a plain function that frames and writes one text
message at once when the socket can take it, and says False otherwise (the caller then queues
it for the ASGI path, which waits as usual).

Both classes use attributes of uvicorn's that are not its public API (the h11 connection and
request cycle, the websockets connection, frames and queue): pyproject.toml pins the uvicorn
versions this was tested with, and tests/test_transport.py checks each behaviour on real sockets.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
import orjson
from uvicorn.protocols.http.h11_impl import STATUS_PHRASES, H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from gameserver.errors import CloseCode, ErrorCode

log = logging.getLogger(__name__)

HIGH_WATER = 32
LOW_WATER = 8

#: Scope extension: ``Callable[[bytes], bool]``, see the module docstring.
FAST_SEND = "gameserver.fast_send"

#: What this subclass reads or sets of uvicorn's class, none of it public API: pyproject.toml
#: bounds uvicorn to the releases tested, and tests/test_transport.py checks these exist.
#: (It also reads ``scope``, which the base class sets when the handshake arrives.)
RELIES_ON = (
    "transport",
    "conn",
    "queue",
    "writable",
    "read_paused",
    "handshake_complete",
    "close_sent",
    "disconnected",
    "initial_response",
)

#: The client's h11 states while a request is still arriving (its head, then its body).
_ARRIVING = (h11.IDLE, h11.SEND_BODY)


def _peer(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "client"


class GameHttpProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's arrival and JSON refusals."""

    #: Seconds a request has to arrive whole; :func:`http_protocol` sets it per server.
    request_timeout: float = 10.0

    _request_timer: asyncio.TimerHandle | None = None
    _heard = False  # bytes of the request now arriving were received

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
            self._request_timer = self.loop.call_later(self.request_timeout, self._timed_out)

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


def http_protocol(request_timeout: float) -> type[GameHttpProtocol]:
    """The HTTP protocol class for ``uvicorn.run(http=...)`` with this server's timeout
    (uvicorn builds protocols itself, from the class, with arguments of its own)."""

    class BoundHttpProtocol(GameHttpProtocol):
        pass

    BoundHttpProtocol.request_timeout = request_timeout
    return BoundHttpProtocol


class GameWebSocketProtocol(WebSocketsSansIOProtocol):
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.handshake_initiated and self.conn.handshake_exc is not None:
            # websockets refused the request before it became an event (a line or header over
            # its limits, or no valid request at all) and wrote its answer, 414 or 431, or
            # nothing; uvicorn sends only what follows an event, so send it now and close.
            log.info(
                "%s: WebSocket upgrade refused: %s", _peer(self.transport), self.conn.handshake_exc
            )
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.handshake_initiated = self.handshake_complete = self.close_sent = True
            self.transport.close()

    def handle_parser_exception(self) -> None:
        # A frame broke the protocol (websockets failed the connection: 1002, 1007, 1009) or was
        # not UTF-8. uvicorn closes the socket here at once, and a client that has sent more
        # frames meanwhile is then reset by the kernel, which can cost it the close frame: it
        # sees 1006 instead of the code that says what it did wrong. As websockets' own server
        # does: send the close frame, end our side of the stream, read and drop whatever still
        # comes, and close once the client does (or after close_timeout).
        if self.close_sent:
            return  # done already: websockets keeps its parser error, and every read calls this
        assert self.conn.close_sent is not None
        close = self.conn.close_sent
        self.queue.put_nowait({"type": "websocket.disconnect", "code": close.code})
        transport = self.transport
        transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if transport.can_write_eof():
            transport.write_eof()
        if not transport.is_reading():
            self.read_paused = False
            transport.resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, transport.close)

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        if self.response.status_code != 101:
            return  # refused (and answered) by websockets: no app, no scope
        # The app's task has been created but not run yet: it will see this extension.
        extensions: dict[str, Any] = self.scope["extensions"]
        extensions[FAST_SEND] = self.send_text_now

    def send_text_now(self, data: bytes) -> bool:
        """Write ``data`` (UTF-8 JSON) as one text frame now, if nothing stands in the way."""
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or self.initial_response is not None
            or not self.writable.is_set()
            or self.transport.is_closing()
        ):
            return False
        self.conn.send_text(data)
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True

    def send_receive_event_to_app(self) -> None:
        frames = self.frames
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        self.frames = []
        if self.close_sent:
            return  # past the app's close: dropped, reading goes on until the peer's close
        if self.curr_msg_data_type == "text":
            try:
                text = str(data, "utf-8")
            except UnicodeDecodeError as exc:
                # The client's mistake, not the server's: one line, and 1007 as RFC 6455 asks.
                log.info(
                    "%s: text frame is not UTF-8 (%s); closed (1007)",
                    _peer(self.transport),
                    exc.reason,
                )
                self.conn.send_close(CloseCode.MALFORMED, "text frame is not valid UTF-8")
                self.handle_parser_exception()
                return
            self.queue.put_nowait({"type": "websocket.receive", "text": text})
        else:
            self.queue.put_nowait({"type": "websocket.receive", "bytes": bytes(data)})
        transport = self.transport
        if self.queue.qsize() >= HIGH_WATER and transport.is_reading():
            transport.pause_reading()
        self.read_paused = not transport.is_reading()

    async def receive(self) -> Any:
        message = await self.queue.get()
        transport = self.transport
        if self.read_paused and self.queue.qsize() <= LOW_WATER and not transport.is_closing():
            self.read_paused = False
            transport.resume_reading()
        return message
