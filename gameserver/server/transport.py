"""uvicorn's sans-I/O WebSocket protocol, with a cheaper read path and a direct send.

Reading:
The base class pauses the socket after each frame it hands to the app and resumes it on each
``receive()``: two selector registrations (``epoll_ctl`` calls plus the selector's bookkeeping)
per message, measured at about a quarter of the event loop's time under load. Here the socket is
paused only when frames pile up (``HIGH_WATER``) and resumed once the app has caught up; the
per-connection rate limit in :mod:`gameserver.server.endpoint` bounds what a client can queue.

Sending: an ASGI ``send`` is a coroutine behind Starlette's state checks and uvicorn's
``writable`` wait, and our outbox adds a task switch per message; sends are most of the server's
work under load. The protocol therefore offers ``FAST_SEND`` in the scope's extensions: a plain
function that frames and writes one text message at once when the socket can take it, and says
False otherwise (the caller then queues it for the ASGI path, which waits as usual).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

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


class GameWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
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
        self.read_paused = True  # the base class pauses the socket only when this is False
        try:
            super().send_receive_event_to_app()
        finally:
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
