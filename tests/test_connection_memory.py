"""A WebSocket connection that closes is freed at once, by reference counting, rather than left
for the cycle collector (which, with the server's thresholds, comes after hundreds of closed
connections); one that stays open does not keep its upgrade request. The real app and uvicorn,
in this process on a free port, so that the test can count the server's objects; the collector
is off while clients come and go."""

from __future__ import annotations

import asyncio
import gc
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

import httpx
import pytest
import uvicorn
from websockets.http11 import Request

from gameserver.server.app import create_app
from gameserver.server.config import Config
from gameserver.server.session import Session
from gameserver.server.transport import http_protocol
from gameserver.server.websocket import Upgrades, WebSocketConnection
from tests.support import ADMIN_KEY, WSClient, join


def alive(kind: type) -> int:
    """Objects of exactly this class the collector tracks: garbage not yet collected too."""
    return sum(1 for o in gc.get_objects() if type(o) is kind)


@pytest.fixture
async def url(tmp_path: Path) -> AsyncIterator[str]:
    config = Config(data=tmp_path, storage="memory://", admin_key=ADMIN_KEY)
    app = create_app(config)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            http=http_protocol(config.request_timeout),
            ws=cast("type[asyncio.Protocol]", Upgrades(app.state.hub)),
            log_level="warning",
        )
    )
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        assert not serving.done(), "the server did not start"
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving


async def four_seats(url: str) -> tuple[list[str], str]:
    """A new Beer Game's join codes, and the WebSocket URL."""
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as http:
        response = await http.post("/api/games", json={"kind": "beer"})
    assert response.status_code == 201, response.text
    codes = [link["code"] for link in response.json()["join"]]
    return codes, url.replace("http", "ws", 1) + "/ws"


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[tuple[list[WSClient], WSClient]]:
    """Four players who joined a seat of a new game and a connection that never said hello,
    with the cycle collector off."""
    codes, ws_url = await four_seats(url)
    gc.collect()
    gc.disable()
    try:
        players = [(await join(ws_url, code))[0] for code in codes]
        silent = await WSClient.open(ws_url)
        assert alive(WebSocketConnection) == 5 and alive(Session) == 5
        yield players, silent
    finally:
        gc.enable()


async def test_a_closed_connection_is_freed_without_the_cycle_collector(url: str) -> None:
    async with connected(url) as (players, silent):
        for client in [*players, silent]:
            await client.close()
        deadline = time.monotonic() + 10
        while alive(WebSocketConnection) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert alive(WebSocketConnection) == 0 and alive(Session) == 0


async def test_an_open_connection_does_not_keep_its_upgrade_request(url: str) -> None:
    # The request's headers were 3.4 KB of every connection's memory, for its whole life.
    async with connected(url) as (players, silent):
        # The clients, in this process too, keep theirs.
        ours = {id(client.ws.request) for client in players} | {id(silent.ws.request)}
        kept = [o for o in gc.get_objects() if type(o) is Request and id(o) not in ours]
        assert kept == []
        # Each connection still reads what websockets parses for it (a ping, a message in
        # fragments) and what framing.py reads (a whole message).
        client = players[0]
        pong = await client.ws.ping()
        await asyncio.wait_for(pong, 10)
        await client.ws.send(['{"type": "sy', 'nc"}'])
        assert (await client.expect("sync"))["type"] == "sync"
        await client.send({"type": "ping", "id": "p1"})
        assert (await client.expect("pong"))["id"] == "p1"
        for other in [*players, silent]:
            await other.close()
