"""A client that stops reading is dropped with 4000; the game and everyone else go on."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import orjson
from websockets.asyncio.client import connect

from tests.support import ServerProcess, join
from tests.test_live import create, submit


async def test_a_client_that_stops_reading_is_dropped(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path / "data",
        env={
            "GAMESERVER_OUTBOX_LIMIT": "8",
            "GAMESERVER_RATE_LIMIT": "100000",
            "GAMESERVER_RATE_BURST": "100000",
        },
    )
    server.start()
    try:
        game = create(server, autostart=True)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        # max_queue=1: the client library stops reading the socket after one unread message.
        slow = await connect(server.ws_url, sock=sock, max_queue=1, compression=None)
        hello = {"type": "hello", "watch": game["game_id"], "token": game["facilitator_token"]}
        await slow.send(orjson.dumps(hello).decode())
        # Ask for far more than socket buffers hold, and read none of it: the kernel grows a
        # socket's send buffer up to tcp_wmem's largest (4 MB here), which held all of 4,000
        # replies in some runs (then nothing was ever too slow), and about 1,500 in most.
        for _ in range(12000):
            await slow.send('{"type": "sync"}')
        player, _, _ = await join(server.ws_url, game["join"][0]["code"])
        await submit(player, 1, {"order": 5})  # the game is not held up by the slow client
        codes = []
        try:
            async with asyncio.timeout(30):
                async for _ in slow:
                    pass
        except Exception:
            pass
        codes.append(slow.close_code)
        assert codes == [4000]
        with server.http() as http:
            assert "gameserver_clients_dropped_slow_total 1" in http.get("/metrics").text
        await player.close()
    finally:
        server.stop()
