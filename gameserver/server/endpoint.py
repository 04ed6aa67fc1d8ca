"""The WebSocket endpoint as an ASGI route: frames from Starlette's receive loop to a session.

``gameserver serve`` does not use this: uvicorn hands every WebSocket upgrade straight to
:class:`gameserver.server.websocket.WebSocketConnection`, which reads frames in the event loop's
read callback with no ASGI queue, task switch or Starlette wrapper per message. This route
serves the same protocol to anything that runs the app as plain ASGI (Starlette's test client,
another ASGI server), through the same :class:`~gameserver.server.session.Session`.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

from gameserver import protocol
from gameserver.errors import CloseCode, ErrorCode
from gameserver.server.connection import Connection
from gameserver.server.hub import Hub
from gameserver.server.session import Session

log = logging.getLogger(__name__)


async def websocket_endpoint(websocket: WebSocket) -> None:
    hub: Hub = websocket.app.state.hub
    await websocket.accept()
    conn = Connection(websocket, limit=hub.config.outbox_limit)
    sender = asyncio.create_task(conn.run_sender(), name="ws sender")
    session = Session(hub, conn)
    limit = hub.config.max_message_bytes
    try:
        while not conn.closed:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            frame = message.get("text")
            if frame is None:
                frame = message.get("bytes") or b""
            if len(frame) > limit:
                text = f"message larger than {limit} bytes"
                conn.send(protocol.encode(protocol.error_message(ErrorCode.CLOSING, text)))
                conn.close(CloseCode.TOO_BIG)
                break
            session.receive(frame)
    except (WebSocketDisconnect, ConnectionError):
        pass
    except Exception:  # a bug of ours: say so in the log, and close with 1011, not 1000
        log.exception("connection handler failed game=%s seat=%s", conn.game_id, conn.seat)
        conn.close(CloseCode.SERVER_ERROR)
    finally:
        session.ended()
        if conn.close_code == CloseCode.TOO_SLOW:
            hub.metrics.dropped_slow += 1
        conn.close(CloseCode.NORMAL)
        try:
            await asyncio.wait_for(sender, timeout=5)
        except (TimeoutError, WebSocketDisconnect, ConnectionError, RuntimeError):
            sender.cancel()
