"""A bot against a scripted server: what it records from each kind of ``ack``.

The server here is a few lines of websockets that send the protocol's own typed messages
(:mod:`gameserver.protocol`), so a test can send what a real server sends only after a race (a
resend answered for a round that has just closed, a resend of an id a newer one replaced).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection, serve

from gameserver.client.bot import Bot
from gameserver.protocol import (
    PROTOCOL_VERSION,
    CloseCode,
    GameInfo,
    GameStatus,
    Round,
    ServerMessage,
    Sync,
    ack,
    encode,
)
from gameserver.protocol import welcome as welcome_message

ROLE = "retailer"


def round_view(status: GameStatus, round_no: int, view: dict[str, Any]) -> Round:
    return {**info(status, round_no), "type": "round", "role": ROLE, "view": view}


TOKEN = "G.secret"
Script = Callable[[ServerConnection], Awaitable[None]]


@asynccontextmanager
async def scripted(*connections: Script) -> AsyncIterator[str]:
    """A server on 127.0.0.1 that plays ``connections[n]`` on its n-th connection."""
    scripts = iter(connections)

    async def handler(ws: ServerConnection) -> None:
        await next(scripts)(ws)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"http://127.0.0.1:{port}"


async def send(ws: ServerConnection, message: ServerMessage) -> None:
    await ws.send(encode(message).decode())


async def receive(ws: ServerConnection, kind: str) -> dict[str, Any]:
    """The next message of type ``kind`` from the bot (pings and the like skipped)."""
    while True:
        message: dict[str, Any] = orjson.loads(await ws.recv())
        if message.get("type") == kind:
            return message


def info(status: GameStatus, round_no: int) -> GameInfo:
    return {
        "type": "status",
        "game_id": "G",
        "kind": "beer",
        "status": status,
        "round": round_no,
        "open_round": round_no + 1,
        "announced_rounds": None,
        "deadline": None,
        "paused_remaining": None,
        "submitted": [],
        "online": [ROLE],
        "bots": [],
        "roles": [ROLE],
        "server_time": 0.0,
    }


async def welcome(ws: ServerConnection, *, resumed: bool, round_no: int = 0) -> dict[str, Any]:
    """Answer the bot's hello with a welcome and a sync of the open round, no decision in it."""
    hello = await receive(ws, "hello")
    assert hello["v"] == PROTOCOL_VERSION
    token = None if resumed else TOKEN
    await send(ws, welcome_message("G", ROLE, token=token, resumed=resumed))
    view = {"week": round_no}
    running = info(GameStatus.RUNNING, round_no)
    sync: Sync = {
        **running,
        "type": "sync",
        "role": ROLE,
        "view": view,
        "decision": None,
        "decision_id": None,
    }
    await send(ws, sync)
    return hello


def order_eight(view: Any) -> dict[str, int]:
    return {"order": 8}


async def play(bot: Bot) -> None:
    async with asyncio.timeout(10):
        await bot.run()


async def test_a_resend_the_closed_round_used_is_recorded_with_the_decision_sent() -> None:
    submits: list[dict[str, Any]] = []

    async def first(ws: ServerConnection) -> None:
        await welcome(ws, resumed=False)
        submits.append(await receive(ws, "submit"))
        await ws.close(CloseCode.RESTARTING)  # saved, and the round closed; the ack never left

    async def second(ws: ServerConnection) -> None:
        hello = await welcome(ws, resumed=True)  # this sync raced the round's close
        assert hello["token"] == TOKEN
        resent = await receive(ws, "submit")
        submits.append(resent)
        await send(ws, ack(resent["id"], 1, None, duplicate=True))
        await send(ws, round_view(GameStatus.FINISHED, 1, {"week": 1}))
        await ws.wait_closed()

    async with scripted(first, second) as url:
        bot = Bot(url, order_eight, join="G-CODE", backoff=(0.01, 0.05))
        await play(bot)
    assert [s["id"] for s in submits] == ["1.1", "1.1"]  # the same id: counted once
    assert bot.acks == {1: ("1.1", {"order": 8})}
    assert bot.reconnects == 1 and bot.drops == {CloseCode.RESTARTING: 1}
    assert bot.done and bot.status == GameStatus.FINISHED and not bot.errors


async def test_an_ack_records_the_id_and_decision_the_round_keeps() -> None:
    async def game(ws: ServerConnection) -> None:
        await welcome(ws, resumed=False)
        first = await receive(ws, "submit")
        plain = ack(first["id"], 1, {"order": 8})
        assert orjson.loads(encode(plain))["duplicate"] is False  # always there, false
        await send(ws, plain)
        await send(ws, round_view(GameStatus.RUNNING, 1, {"week": 1}))
        second = await receive(ws, "submit")
        # Another window of the seat sent a newer decision for round 2 under its own id.
        await send(
            ws,
            ack(second["id"], 2, {"order": 3}, duplicate=True, superseded_by="w-9"),
        )
        await send(ws, round_view(GameStatus.FINISHED, 2, {"week": 2}))
        await ws.wait_closed()

    async with scripted(game) as url:
        bot = Bot(url, order_eight, join="G-CODE")
        await play(bot)
    assert bot.acks == {1: ("1.1", {"order": 8}), 2: ("w-9", {"order": 3})}
    assert len(bot.ack_latencies) == 2 and bot.rounds == 2
    assert bot.done and bot.reconnects == 0 and not bot.drops


async def test_a_join_whose_welcome_was_lost_is_sent_again_with_the_same_join_id() -> None:
    hellos: list[dict[str, Any]] = []

    async def lost(ws: ServerConnection) -> None:
        hellos.append(await receive(ws, "hello"))  # the seat is claimed; the server dies
        await ws.close(CloseCode.RESTARTING)

    async def again(ws: ServerConnection) -> None:
        hellos.append(await welcome(ws, resumed=False))
        await send(ws, round_view(GameStatus.FINISHED, 1, {"week": 1}))
        await ws.wait_closed()

    async with scripted(lost, again) as url:
        bot = Bot(url, order_eight, join="G-CODE", backoff=(0.01, 0.05))
        await play(bot)
    assert [(h.get("join"), h.get("token")) for h in hellos] == [("G-CODE", None)] * 2
    join_ids = {h["join_id"] for h in hellos}
    assert join_ids == {bot.join_id} and len(bot.join_id) >= 16  # the server finds the claim
    assert bot.token == TOKEN and bot.done
    other = Bot("http://127.0.0.1:1", order_eight, join="G-CODE")
    assert other.join_id != bot.join_id  # every bot its own


async def test_a_bot_answers_the_servers_pings_alone_or_read_with_its_messages() -> None:
    """The server's keepalive pings a quiet connection and drops one that does not answer: a
    bot answers a ping that comes alone, and one written just before a round message (most
    often read with it, in one read of the socket)."""
    answered: list[str] = []

    async def game(ws: ServerConnection) -> None:
        await welcome(ws, resumed=False)
        submit = await receive(ws, "submit")
        async with asyncio.timeout(5):
            await (await ws.ping(b"alone"))
            answered.append("alone")
            await send(ws, ack(submit["id"], 1, {"order": 8}))
            together = await ws.ping(b"with a round")  # its pong not awaited yet
            await send(ws, round_view(GameStatus.RUNNING, 1, {"week": 1}))
            await together
            answered.append("with a round")
        await receive(ws, "submit")
        await send(ws, round_view(GameStatus.FINISHED, 2, {"week": 2}))
        await ws.wait_closed()

    async with scripted(game) as url:
        bot = Bot(url, order_eight, join="G-CODE", ping_interval=None)
        await play(bot)
    assert answered == ["alone", "with a round"]
    assert bot.done and bot.rounds == 2 and not bot.drops


def test_the_client_package_does_not_import_the_server() -> None:
    """A bot process needs the protocol and the games' policies, never the server itself."""
    modules = ", ".join(f"gameserver.client.{m}" for m in ("api", "bot", "link", "teams", "timing"))
    server = "[m for m in sys.modules if m.startswith('gameserver.server')]"
    code = f"import sys, {modules}; print({server})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]"]
