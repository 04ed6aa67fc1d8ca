"""The WebSocket endpoint: in-process (Starlette's test client, real SQLite) for the handshake,
decisions, errors that keep the connection and the closes that end it; and against a real
server process for input that fails before it is a message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from gameserver.errors import CloseCode
from gameserver.server.app import create_app
from gameserver.server.config import Config
from gameserver.server.session import RateLimiter
from tests.support import ADMIN_KEY, ServerProcess, WSClient, join

KEY = "endpoint-key"


def test_rate_limiter_allows_a_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate=10.0, burst=5)
    start = limiter.stamp
    assert all(limiter.allow(start) for _ in range(5))
    assert not limiter.allow(start)
    # 0.35 s later: 3.5 messages' worth came back, so 3 pass and the fourth does not.
    assert [limiter.allow(start + 0.35) for _ in range(4)] == [True, True, True, False]
    # A long pause refills only up to the burst.
    assert sum(limiter.allow(start + 100) for _ in range(10)) == 5


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    config = Config(data=tmp_path, admin_key=KEY, hello_timeout=2.0)
    with TestClient(create_app(config)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {KEY}"
        yield test_client


def _game(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/api/games", json={"kind": "beer", **body})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def _next(ws: WebSocketTestSession) -> dict[str, Any]:
    """The next message that is not a ``progress`` (those come whenever someone joins)."""
    while True:
        message: dict[str, Any] = ws.receive_json()
        if message["type"] != "progress":
            return message


def _join(ws: WebSocketTestSession, code: str) -> dict[str, Any]:
    ws.send_json({"type": "hello", "v": 1, "join": code})
    welcome: dict[str, Any] = ws.receive_json()
    assert welcome["type"] == "welcome", welcome
    assert ws.receive_json()["type"] == "sync"
    return welcome


def test_join_submit_ack_and_resume(client: TestClient) -> None:
    game = _game(client, autostart=True)
    with client.websocket_connect("/ws") as ws:
        welcome = _join(ws, game["join"][0]["code"])
        assert welcome["role"] == "retailer" and welcome["resumed"] is False
        assert welcome["token"]
        ws.send_json({"type": "submit", "round": 1, "id": "a", "decision": {"order": 7}})
        ack = _next(ws)
        assert ack == {
            "type": "ack",
            "id": "a",
            "round": 1,
            "decision": {"order": 7},
            "duplicate": False,
            "superseded_by": None,
        }
    with client.websocket_connect("/ws") as again:
        again.send_json({"type": "hello", "token": welcome["token"]})
        resumed = _next(again)
        assert resumed["resumed"] is True and resumed["token"] is None
        sync = _next(again)
        assert sync["decision"] == {"order": 7} and sync["decision_id"] == "a"


def test_errors_keep_the_connection_and_name_the_problem(client: TestClient) -> None:
    game = _game(client, autostart=True)
    with client.websocket_connect("/ws") as ws:
        _join(ws, game["join"][1]["code"])
        _errors(ws)


def _errors(ws: WebSocketTestSession) -> None:
    cases = [
        ({"type": "submit", "round": "1", "id": "x", "decision": {}}, "bad_field"),
        ({"type": "submit", "round": 1, "decision": {}}, "missing_field"),
        ({"type": "submit", "round": 3.0, "id": "y", "decision": {"order": 1}}, "wrong_round"),
        ({"type": "submit", "round": 1, "id": "z", "decision": {"order": 2**60}}, "bad_field"),
        ({"type": "submit", "round": 1, "id": "w", "decision": {"order": -1}}, "invalid_decision"),
        ({"type": "dance"}, "unknown_type"),
        ({"type": "hello", "join": "X"}, "bad_message"),
    ]
    for message, code in cases:
        ws.send_json(message)
        error = _next(ws)
        assert error["type"] == "error" and error["code"] == code, (message, error)
    deep: Any = {"order": 1}
    for _ in range(40):
        deep = [deep]
    ws.send_json({"type": "submit", "round": 1, "id": "d", "decision": deep})
    assert _next(ws)["code"] == "too_deep"
    ws.send_json({"type": "ping", "id": "p"})
    assert _next(ws)["type"] == "pong"  # still open


@pytest.mark.parametrize("version", [[1], {"v": 1}, "1", 2])
def test_a_bad_version_is_an_error_not_a_dead_handler(client: TestClient, version: Any) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "hello", "v": version, "token": "x.y"})
        error = _next(ws)
        assert error["code"] == "unsupported_version" and error["message"]
        ws.send_json({"type": "hello", "token": "nope.nope"})
        assert _next(ws)["code"] == "bad_token"


def test_a_malformed_frame_says_why_then_closes_1007(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_text("{not json")
        error = _next(ws)
        assert error["code"] == "closing" and "not valid JSON" in error["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            _next(ws)
        assert closed.value.code == CloseCode.MALFORMED


def test_a_hello_nested_too_deep_is_answered_and_may_be_tried_again(client: TestClient) -> None:
    game = _game(client)
    deep: Any = "x"
    for _ in range(40):
        deep = [deep]
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "hello", "join": deep})
        assert _next(ws)["code"] == "too_deep"
        ws.send_json({"type": "hello", "v": 2**60, "join": "X"})
        assert _next(ws)["code"] == "bad_field"
        assert _join(ws, game["join"][2]["code"])["role"] == "distributor"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('{"type": "hello", "join": ' + "[" * 40 + "]" * 40 + "}", "too_deep"),
        ('{"type": "hello", "v": 9007199254740993, "token": "x"}', "bad_field"),
    ],
    ids=["nested-too-deep", "number-out-of-range"],
)
async def test_a_hello_refused_while_reading_it_is_named_and_the_client_may_try_again(
    server: ServerProcess, frame: str, code: str
) -> None:
    """Refused before it is a message at all, a hello is answered like any bad hello (it used
    to end the connection with a traceback in the server's log)."""
    with server.http() as http:
        game = http.post("/api/games", json={"kind": "beer"}).json()
    client = await WSClient.open(server.ws_url)
    await client.send_raw(frame)
    error = await client.expect("error")
    assert error["code"] == code and error["message"]
    await client.send({"type": "hello", "join": game["join"][0]["code"]})
    assert (await client.expect("welcome"))["role"] == game["join"][0]["role"]
    await client.close()
    assert "Traceback" not in server.log()


async def test_bots_with_no_think_time_are_never_dropped_as_a_flood(server: ServerProcess) -> None:
    """A fast client sends one decision a round as fast as the game goes: the first decision
    of each round costs no token, so 200 weeks at full speed pass; a real flood still closes
    (tests/test_live.py: test_flood_closes_with_4001, and the changed-decision flood below)."""
    from gameserver.client.api import Api
    from gameserver.client.teams import Plan, create_teams, play, summarize

    api = Api(server.url, ADMIN_KEY)
    plan = Plan(games=2, policy="sterman", settings={"weeks": 200, "weeks_announced": 200})
    teams = await create_teams(api, server.url, plan)
    seconds = await play(teams)
    summary = summarize(teams, seconds, "beer")
    assert summary["finished"] == 2 and summary["failed_games"] == 0
    assert summary["drops"] == {} and summary["reconnects"] == 0, summary["drops"]


async def test_changing_a_decision_over_and_over_is_still_a_flood(server: ServerProcess) -> None:
    with server.http() as http:
        game = http.post("/api/games", json={"kind": "beer", "autostart": True}).json()
    client, _, _ = await join(server.ws_url, game["join"][0]["code"])
    for n in range(200):
        try:
            frame = {"type": "submit", "round": 1, "id": f"c{n}", "decision": {"order": n % 9}}
            await client.send(frame)
        except Exception:
            break
    assert await client.closed_with() == 4001


async def test_a_first_decision_passes_when_the_limit_is_spent(server: ServerProcess) -> None:
    """The burst spent on pings, a seat's first decision of the round is still taken (it
    costs no token); the pings after it are over the limit and close the connection (twenty
    of them: sent in a few milliseconds, they outrun what the limit gives back, 20 a second)."""
    with server.http() as http:
        game = http.post("/api/games", json={"kind": "beer", "autostart": True}).json()
    client, _, _ = await join(server.ws_url, game["join"][0]["code"])
    burst = [{"type": "ping", "id": f"p{n}"} for n in range(40)]
    submit = {"type": "submit", "round": 1, "id": "first", "decision": {"order": 4}}
    for frame in [*burst, submit]:
        await client.send(frame)
    ack = await client.expect("ack")
    assert ack["id"] == "first" and ack["decision"] == {"order": 4}
    for n in range(20):
        try:
            await client.send({"type": "ping", "id": f"over{n}"})
        except Exception:
            break
    assert await client.closed_with() == 4001


async def test_refused_decisions_for_new_rounds_are_still_a_flood(server: ServerProcess) -> None:
    """A decision for a round the seat has not decided yet costs no token only if the game
    takes it: decisions for rounds that have not opened are refused and counted."""
    with server.http() as http:
        game = http.post("/api/games", json={"kind": "beer", "autostart": True}).json()
    client, _, _ = await join(server.ws_url, game["join"][0]["code"])
    for n in range(200):
        try:
            frame = {"type": "submit", "round": n + 2, "id": f"r{n}", "decision": {"order": 1}}
            await client.send(frame)
        except Exception:
            break
    assert await client.closed_with() == 4001
