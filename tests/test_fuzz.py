"""Fuzzing one real server process while bots play a Beer Game on it.

Random and mutated WebSocket messages (before and after hello: wrong types in every field,
huge and negative numbers, floats for ints, deep nesting, long strings, unknown types, binary
frames, text that is not UTF-8, frames over the size limit, frames that break RFC 6455), random
requests to every API route (bad bodies, a wrong value in every field of every body, bad paths,
wrong methods, bad credentials) and raw request heads with bytes changed. Then: every error a
client got is a known ``ErrorCode`` or close code, every HTTP answer is below 500 and names a
known code, the log has no traceback, the server is healthy, and the game played alongside
finished equal to its decisions replayed offline and to the same policies played offline.

Seeded: ``GAMESERVER_FUZZ_SEED`` replays a run (the seed is in every failure message);
``GAMESERVER_FUZZ_SCALE`` multiplies the number of cases (1: about 30 s on two cores).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import orjson
import pytest
from starlette.routing import Match, Route
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from gameserver.client.bot import Bot
from gameserver.errors import CloseCode, ErrorCode
from gameserver.games import make_policy
from gameserver.server import api, classapi, presets, sessions
from gameserver.tools.chaos import replayed_twin
from gameserver.tools.simulate import simulate
from tests import fuzzing
from tests.support import (
    ADMIN_KEY,
    UPGRADE,
    RawConnection,
    ServerProcess,
    client_frame,
    close_code_of,
    server_frames,
)

SEED = int(os.environ.get("GAMESERVER_FUZZ_SEED", "20261130"))
SCALE = float(os.environ.get("GAMESERVER_FUZZ_SCALE", "1"))
WS_CONNECTIONS = int(600 * SCALE)
HTTP_REQUESTS = int(3000 * SCALE)
RAW_REQUESTS = int(100 * SCALE)
WORKERS = 4

ERROR_CODES = {str(code) for code in ErrorCode}
CLOSE_CODES = {int(code) for code in CloseCode}
SERVER_TYPES = {"welcome", "status", "sync", "round", "progress", "ack", "error", "pong"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("fuzz"),
        # Short bounds so that unfinished input is closed within the test's time.
        env={"GAMESERVER_REQUEST_TIMEOUT": "2", "GAMESERVER_HELLO_TIMEOUT": "2"},
    )
    proc.start()
    yield proc
    proc.kill()


class Findings:
    """What went wrong, each with enough to find it again."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.seen: Counter[str] = Counter()
        self.requested: set[tuple[str, str]] = set()  # (method, path) of every HTTP request

    def bad(self, what: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(what)


# -- WebSocket --------------------------------------------------------------------------------


async def ws_case(
    server: ServerProcess, rng: random.Random, targets: fuzzing.Targets, found: Findings
) -> None:
    """One connection: a hello (good or bad), a burst of fuzzed messages, a close."""
    try:
        ws = await connect(server.ws_url, max_size=2**22, open_timeout=10, ping_interval=None)
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        found.bad(f"cannot connect: {exc!r}")
        return
    received: list[dict[str, Any]] = []
    reader = asyncio.create_task(read_all(ws, received, found))
    sent = [fuzzing.frame(rng, fuzzing.hello(rng, targets))]
    for _ in range(rng.randint(1, 12)):
        sent.append(fuzzing.frame(rng, fuzzing.message(rng, rng.randint(1, 4))))
    aborted = rng.random() < 0.1
    try:
        for item in sent:
            await ws.send(item.data, text=item.text)
            if rng.random() < 0.3:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        if aborted:
            ws.transport.abort()
        else:
            await asyncio.wait_for(ws.close(), 15)
    except (ConnectionClosed, TimeoutError):
        pass
    try:
        await asyncio.wait_for(reader, 15)
    except TimeoutError:
        found.bad("the server did not finish a connection within 15 s of its close")
    for msg in received:
        if msg.get("type") == "welcome" and isinstance(msg.get("token"), str):
            targets.seats.append(msg["token"])
    code = ws.close_code
    if not aborted and code is not None and code not in CLOSE_CODES:
        frames = [(f.text, f.data[:60]) for f in sent]
        got = [f"{m.get('type')}:{m.get('code')}" for m in received]
        found.bad(f"closed with unknown code {code} {ws.close_reason!r} after {frames}: {got}")
    found.seen[f"close {code}"] += 1


async def read_all(ws: ClientConnection, into: list[dict[str, Any]], found: Findings) -> None:
    try:
        async for raw in ws:
            try:
                msg = orjson.loads(raw)
            except orjson.JSONDecodeError:
                found.bad(f"a server message that is not JSON: {raw[:80]!r}")
                continue
            if not isinstance(msg, dict) or msg.get("type") not in SERVER_TYPES:
                found.bad(f"an unknown server message: {str(msg)[:80]}")
                continue
            if msg["type"] == "error":
                found.seen[f"error {msg.get('code')}"] += 1
                if msg.get("code") not in ERROR_CODES or not msg.get("message"):
                    found.bad(f"an unknown error: {msg}")
            into.append(msg)
    except ConnectionClosed:
        pass


async def raw_ws_case(server: ServerProcess, rng: random.Random, found: Findings) -> None:
    """Frames no WebSocket library sends: reserved opcodes, unmasked, a bad close, a
    continuation out of place, a control frame too long."""
    conn = await RawConnection.open(server.port)
    await conn.send(UPGRADE)
    await conn.read_head()
    bad = rng.choice(
        [
            client_frame(3, b"{}"),
            client_frame(1, b"{}")[:1] + bytes([2]) + b"{}",  # unmasked
            client_frame(8, b"\x03\xe8\xff\xfe"),  # close reason not UTF-8
            client_frame(8, b"\x00\x01"),  # close code 1
            client_frame(0, b"{}"),
            client_frame(1, b'{"a"', fin=False) + client_frame(1, b"}"),
            client_frame(9, b"p" * 200),
            client_frame(1, b'{"type": "hello", "join": "\xc3"}'),
        ]
    )
    await conn.send(bad)
    if await conn.read_until_closed(15) is None:
        found.bad(f"a connection sent {bad[:12]!r} stayed open 15 s")
    code = close_code_of(server_frames(conn.received))
    found.seen[f"raw close {code}"] += 1
    if code not in CLOSE_CODES:
        found.bad(f"raw frame {bad[:12]!r} closed with {code}, not a known close code")
    conn.close()


# -- HTTP -------------------------------------------------------------------------------------


async def http_case(
    client: httpx.AsyncClient, rng: random.Random, targets: fuzzing.Targets, found: Findings
) -> None:
    request = fuzzing.http_request(rng, targets)
    found.requested.add((request.method, request.path))
    try:
        response = await client.request(
            request.method, request.path, content=request.body, headers=request.headers
        )
    except httpx.HTTPError as exc:
        found.bad(f"{request.method} {request.path[:80]}: no answer: {exc!r}")
        return
    what = f"{request.method} {request.path[:80]} {request.body[:80] if request.body else ''!r}"
    found.seen[f"http {response.status_code}"] += 1
    if response.status_code >= 500:
        found.bad(f"{what}: {response.status_code} {response.text[:200]}")
        return
    if response.status_code >= 400 and request.method != "HEAD":
        try:
            error = response.json()["error"]
            assert error["code"] in ERROR_CODES and error["message"]
        except (ValueError, KeyError, TypeError, AssertionError):
            found.bad(
                f"{what}: {response.status_code} without a named error: {response.text[:200]}"
            )
    if response.status_code == 201:
        learn(response.json(), targets)


def learn(created: dict[str, Any], targets: fuzzing.Targets) -> None:
    """Remember what the fuzzer created, to aim at it with credentials that work."""
    if len(targets.games) > 40:
        return
    games = created.get("games", [created] if "game_id" in created else [])  # not a student
    if "games" in created and created.get("session_id") and created.get("facilitator_token"):
        targets.sessions.append(created["session_id"])
        targets.tokens[created["session_id"]] = created["facilitator_token"]
    for game in games:
        targets.games.append(game["game_id"])
        if game.get("facilitator_token"):
            targets.tokens[game["game_id"]] = game["facilitator_token"]
        targets.codes.extend(link["code"] for link in game.get("join", [])[:1])


async def raw_http_case(server: ServerProcess, rng: random.Random, found: Findings) -> None:
    """A request head with bytes changed: any answer below 500, or a close."""
    head = (
        b"POST /api/games HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + ADMIN_KEY.encode() + b"\r\nContent-Length: 16\r\n\r\n"
        b'{"kind": "beer"}'
    )
    data = fuzzing.mutate(rng, head) if rng.random() < 0.7 else head[: rng.randrange(len(head))]
    conn = await RawConnection.open(server.port)
    await conn.send(data)
    if await conn.read_until_closed(15) is None and conn.status() is None:
        found.bad(f"raw request {data[:60]!r}: no answer and still open after 15 s")
    status = conn.status()
    found.seen[f"raw http {status}"] += 1
    if status is not None and status >= 500:
        found.bad(f"raw request {data[:60]!r}: {conn.received[:200]!r}")
    conn.close()


# -- the run ----------------------------------------------------------------------------------


async def test_fuzz_while_a_game_is_played(server: ServerProcess) -> None:
    started = time.monotonic()
    found = Findings()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        alongside = (
            await client.post(
                "/api/games", json={"kind": "beer", "seed": 7, "title": "alongside"}, headers=admin
            )
        ).json()
        targets = fuzzing.Targets(protected=alongside["game_id"], admin_key=ADMIN_KEY)
        for _ in range(2):
            made = await client.post(
                "/api/games",
                json={"kind": "beer", "autostart": True, "open_join": True},
                headers=admin,
            )
            learn(made.json(), targets)
            targets.codes.append(made.json()["open_join"]["code"])
        # Bots take their seats before anything can, then the game starts.
        bots = [
            Bot(server.url, make_policy("beer", "sterman"), join=link["code"], think=(0.1, 0.5),
                seed=n, give_up=30, max_seconds=120)
            for n, link in enumerate(alongside["join"])
        ]  # fmt: skip
        playing = [asyncio.create_task(bot.run()) for bot in bots]
        await asyncio.wait_for(asyncio.gather(*(bot.joined.wait() for bot in bots)), 30)
        gid = alongside["game_id"]
        assert (await client.post(f"/api/games/{gid}/start", headers=admin)).status_code == 200

        # Each worker draws from its own generator, seeded from the run's: the same cases
        # whatever the interleaving. Raw cases mostly wait for the server's bounds (the request
        # and close timeouts): they run all at once, beside the workers.
        async def worker(n: int) -> None:
            own = random.Random(f"{SEED}:{n}")
            for i in range(n, WS_CONNECTIONS + HTTP_REQUESTS, WORKERS):
                if i < WS_CONNECTIONS:
                    await ws_case(server, own, targets, found)
                else:
                    await http_case(client, own, targets, found)

        async def raw(n: int) -> None:
            own = random.Random(f"{SEED}:raw:{n}")
            if own.random() < 0.5:
                await raw_http_case(server, own, found)
            else:
                await raw_ws_case(server, own, found)

        await asyncio.gather(
            *(worker(n) for n in range(WORKERS)), *(raw(n) for n in range(RAW_REQUESTS))
        )
        fuzzed = time.monotonic() - started
        await asyncio.wait_for(asyncio.gather(*playing, return_exceptions=True), 120)
        health = await client.get("/health")
        export = (await client.get(f"/api/games/{gid}/export.json", headers=admin)).json()

    context = (
        f"seed {SEED} (GAMESERVER_FUZZ_SEED), {fuzzed:.1f} s of fuzzing; seen {dict(found.seen)}"
    )
    print(context)  # with pytest -s: what the run covered
    assert not found.problems, f"{context}\n" + "\n".join(found.problems)
    assert not unrequested(found.requested), "routes the fuzzer never asked for"
    log = server.log()
    assert "Traceback" not in log, f"{context}\n{log[log.find('Traceback') - 300 :][:4000]}"
    assert server.proc is not None and server.proc.poll() is None
    assert health.status_code == 200 and health.json()["status"] == "ok"
    # The game played alongside: finished, every round decided by its bots, equal offline.
    assert export["status"] == "finished", context
    assert all(not r["defaulted"] for r in export["rounds"])
    summaries, results = replayed_twin(export)
    assert summaries == [r["summary"] for r in export["rounds"]] and results == export["results"]
    offline = simulate("beer", {}, policy="sterman", seed=7)
    assert [w["roles"] for w in offline["weeks"]] == summaries
    assert offline["results"] == export["results"]
    assert all(bot.failure is None and not bot.errors for bot in bots), [
        (bot.failure, bot.errors) for bot in bots
    ]


def unrequested(requested: set[tuple[str, str]]) -> list[str]:
    """The API's routes that no request matched (method and path): a route added to the API
    and not to the fuzzer shows up here."""
    unmatched = []
    for route in (*api.routes, *sessions.routes, *classapi.routes, *presets.routes):
        assert isinstance(route, Route)
        scopes = (
            {"type": "http", "method": m, "path": unquote(p.split("?")[0])} for m, p in requested
        )
        if not any(route.matches(scope)[0] is Match.FULL for scope in scopes):
            unmatched.append(f"{sorted(route.methods or [])} {route.path}")
    return unmatched
