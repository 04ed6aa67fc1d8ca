"""The WebSocket transport extends uvicorn's sans-I/O protocol: check what it relies on.

``gameserver/server/transport.py`` reads and sets attributes of uvicorn's
``WebSocketsSansIOProtocol`` that are not a public API. pyproject.toml bounds uvicorn to the
releases the tests ran on; this test is what fails first if a release in that range (or a
widened bound) moves them.
"""

from __future__ import annotations

import asyncio

import uvicorn
from uvicorn.server import ServerState

from gameserver.server.transport import RELIES_ON, GameWebSocketProtocol


async def _app(scope: object, receive: object, send: object) -> None:  # pragma: no cover
    pass


async def test_uvicorn_protocol_has_what_the_transport_relies_on() -> None:
    config = uvicorn.Config(_app, ws=GameWebSocketProtocol)
    config.load()
    protocol = GameWebSocketProtocol(config, ServerState(), {}, asyncio.get_running_loop())
    missing = [name for name in RELIES_ON if not hasattr(protocol, name)]
    assert missing == []
    assert isinstance(protocol.queue, asyncio.Queue)
    assert isinstance(protocol.writable, asyncio.Event)
    for method in ("handle_connect", "send_receive_event_to_app", "receive", "data_received"):
        assert callable(getattr(super(GameWebSocketProtocol, protocol), method))
