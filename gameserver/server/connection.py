"""A client connection on the ASGI route: a bounded outbox drained by its own sender task.

(``gameserver serve`` uses :mod:`gameserver.server.websocket` instead; see
:mod:`gameserver.server.endpoint` for when this one serves.)

Broadcasting never waits on a client. :meth:`Connection.send` only appends to the outbox; a
separate task writes to the socket. When a client falls so far behind that its outbox is full,
it is dropped with :attr:`CloseCode.TOO_SLOW` and resynchronises when it reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Literal

from starlette.websockets import WebSocket, WebSocketState

from gameserver.errors import CloseCode

log = logging.getLogger(__name__)

Kind = Literal["player", "facilitator"]


class Connection:
    """A joined WebSocket: a player on a seat, or a facilitator watching a game."""

    __slots__ = (
        "_close_code",
        "_closed",
        "_outbox",
        "_sending",
        "_wakeup",
        "game_id",
        "kind",
        "limit",
        "seat",
        "websocket",
    )

    def __init__(self, websocket: WebSocket, *, limit: int) -> None:
        self.websocket = websocket
        self.limit = limit
        self.game_id: str | None = None
        self.seat: str | None = None
        self.kind: str = "player"
        self._outbox: deque[bytes] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False
        self._close_code: int | None = None
        self._sending = False  # the sender task holds a message it has not finished sending

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def close_code(self) -> int | None:
        """The code this side closed with, once it has."""
        return self._close_code

    def send(self, data: bytes) -> None:
        """Queue one encoded message; never blocks. Drops the client when its outbox is full."""
        if self._closed:
            return
        if len(self._outbox) >= self.limit:
            log.info("dropping slow client game=%s seat=%s", self.game_id, self.seat)
            self.close(CloseCode.TOO_SLOW)
            return
        self._outbox.append(data)
        self._wakeup.set()

    def close(self, code: int = CloseCode.NORMAL) -> None:
        """Ask the sender to close the socket after nothing more (queued messages are dropped
        for a too-slow client, sent for any other reason)."""
        if self._closed:
            return
        self._closed = True
        self._close_code = int(code)
        if code == CloseCode.TOO_SLOW:
            self._outbox.clear()
        self._wakeup.set()

    async def run_sender(self) -> None:
        """Write queued messages until closed. Owned and awaited by the WebSocket endpoint."""
        ws = self.websocket
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._outbox:
                data = self._outbox.popleft()
                if ws.application_state != WebSocketState.CONNECTED:
                    return
                self._sending = True
                try:
                    await ws.send({"type": "websocket.send", "text": data.decode()})
                finally:
                    self._sending = False
            if self._closed:
                if ws.application_state == WebSocketState.CONNECTED:
                    await ws.close(self._close_code or CloseCode.NORMAL)
                return
