"""uvicorn's sans-I/O WebSocket protocol, reading without a pause after every frame.

The base class pauses the socket after each frame it hands to the app and resumes it on each
``receive()``: two selector registrations (``epoll_ctl`` calls plus the selector's bookkeeping)
per message, measured at about a quarter of the event loop's time under load. Here the socket is
paused only when frames pile up (``HIGH_WATER``) and resumed once the app has caught up; the
per-connection rate limit in :mod:`gameserver.ws` bounds what a client can queue anyway.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

HIGH_WATER = 32
LOW_WATER = 8


class GameWebSocketProtocol(WebSocketsSansIOProtocol):
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
