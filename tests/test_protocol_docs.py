"""docs/protocol.md says what the server does: its codes are the protocol module's, its field
lists are the messages' TypedDicts, and a real server sends exactly those fields."""

from __future__ import annotations

import json
import re
from typing import Any, get_args

import pytest

from gameserver import protocol
from gameserver.errors import CloseCode, ErrorCode
from tests.support import ROOT, ServerProcess, WSClient, join, markdown_table, resume
from tests.test_live import act, create

DOC = (ROOT / "docs" / "protocol.md").read_text()
FIELDS = re.compile(r"^\*\*Fields\*\*(?: \(([^)]*)\))?: (.+)$", re.MULTILINE)
NAMES = re.compile(r"`([^`]+)`")

#: Each server message as the doc names it (the message type, and whose variant), its class.
MESSAGES: dict[tuple[str, str | None], type] = {
    ("welcome", None): protocol.Welcome,
    ("sync", "player"): protocol.Sync,
    ("sync", "facilitator"): protocol.FacilitatorSync,
    ("sync", "each of `seats`"): protocol.SeatInfo,
    ("round", "player"): protocol.Round,
    ("round", "facilitator"): protocol.FacilitatorRound,
    ("round", "player taking updates"): protocol.RoundUpdate,
    ("status", None): protocol.GameInfo,
    ("progress", None): protocol.Progress,
    ("ack", None): protocol.Ack,
    ("error", None): protocol.Error,
    ("pong", None): protocol.Pong,
    ("announcement", None): protocol.Announcement,
}


def sections() -> dict[str, str]:
    """The text under each ``### `name` …`` heading, by name."""
    out = {}
    for part in DOC.split("\n### ")[1:]:
        heading, _, body = part.partition("\n")
        out[NAMES.findall(heading)[0]] = body.split("\n## ")[0]
    return out


def documented_fields() -> dict[tuple[str, str | None], list[str]]:
    return {
        (name, match.group(1)): NAMES.findall(match.group(2))
        for name, body in sections().items()
        for match in FIELDS.finditer(body)
    }


def table(header: str) -> list[list[str]]:
    return markdown_table(DOC, header)


def fields_of(cls: type) -> list[str]:
    """A message's keys, in order: its TypedDict's annotations, a base's first."""
    return list(cls.__annotations__)


def test_every_server_message_is_documented_with_its_fields() -> None:
    documented = documented_fields()
    assert set(documented) == set(MESSAGES)
    for key, cls in MESSAGES.items():
        assert documented[key] == fields_of(cls), key
    # A new kind of message must come with its fields here.
    assert set(get_args(protocol.ServerMessage)) <= set(MESSAGES.values())


def test_the_examples_have_exactly_the_documented_fields() -> None:
    documented = documented_fields()
    seen = set()
    for name, body in sections().items():
        for block in re.findall(r"```json\n(.*?)```", body, re.DOTALL):
            example = json.loads(block)
            variants = [fields for (n, _), fields in documented.items() if n == name]
            assert list(example) in variants, (name, list(example))
            seen.add(name)
    assert seen == {name for name, _ in MESSAGES}


def test_the_error_codes_are_the_modules() -> None:
    rows = table("| code | when |")
    codes = [code for row in rows for code in NAMES.findall(row[0])]
    assert sorted(codes) == sorted(str(code) for code in ErrorCode)
    assert all(row[1] for row in rows)


def test_the_close_codes_are_the_modules() -> None:
    rows = table("| code | name | meaning |")
    assert {int(row[0]): row[1] for row in rows} == {
        int(code): code.name.lower().replace("_", " ") for code in CloseCode
    }
    assert all(row[2] for row in rows)


def check(message: dict[str, Any], key: tuple[str, str | None]) -> None:
    assert message["type"] == key[0]
    assert list(message) == fields_of(MESSAGES[key]), (key, message)


async def test_a_real_server_sends_exactly_the_documented_fields(server: ServerProcess) -> None:
    game = create(server, round_seconds=600)
    hello = {"type": "hello", "watch": game["game_id"], "token": game["facilitator_token"]}
    watcher = await WSClient.open(server.ws_url, hello)
    welcome = await watcher.expect("welcome")
    check(welcome, ("welcome", None))
    assert welcome["role"] is None and welcome["token"] is None and welcome["resumed"] is False
    sync = await watcher.expect("sync")
    check(sync, ("sync", "facilitator"))
    assert sync["seats"] and all(list(s) == fields_of(protocol.SeatInfo) for s in sync["seats"])
    player, joined, own = await join(server.ws_url, game["join"][0]["code"])
    check(joined, ("welcome", None))
    assert joined["token"] and joined["resumed"] is False
    check(own, ("sync", "player"))
    assert own["decision"] is None and own["decision_id"] is None
    check(await watcher.expect("progress"), ("progress", None))
    await player.send({"type": "ping", "id": "p1"})
    check(await player.expect("pong"), ("pong", None))
    await player.send({"type": "ping"})
    assert (await player.expect("pong"))["id"] is None
    await player.send({"type": "dance"})
    error = await player.expect("error")
    check(error, ("error", None))
    assert error["id"] is None
    assert act(server, game, "start").status_code == 200
    status = await player.expect("status")
    check(status, ("status", None))
    assert status["status"] == "running" and status["deadline"] is not None
    await player.send({"type": "submit", "round": 1, "id": "a1", "decision": {"order": 5}})
    ack = await player.expect("ack", id="a1")
    check(ack, ("ack", None))
    assert ack["duplicate"] is False and ack["superseded_by"] is None
    hello = {"type": "hello", "join": game["join"][1]["code"], "view_updates": True}
    updated = await WSClient.open(server.ws_url, hello)
    await updated.expect("sync")
    assert act(server, game, "close-round").status_code == 200
    check(await player.expect("round"), ("round", "player"))
    check(await watcher.expect("round"), ("round", "facilitator"))
    update = await updated.expect("round")
    check(update, ("round", "player taking updates"))
    assert set(update["view_update"]) == {"set", "extend"}
    again, resumed = await resume(server.ws_url, joined["token"])
    welcome_back = again.received[0]
    check(welcome_back, ("welcome", None))
    assert welcome_back["resumed"] is True and welcome_back["token"] is None
    check(resumed, ("sync", "player"))
    for client in (watcher, player, again, updated):
        await client.close()


async def test_a_class_message_is_an_announcement_with_exactly_its_fields(
    server: ServerProcess,
) -> None:
    with server.http() as http:
        made = http.post("/api/sessions", json={"kind": "beer", "teams": 2}).json()
    first, second = made["games"]
    one, _, _ = await join(server.ws_url, first["join"][0]["code"])
    two, _, _ = await join(server.ws_url, second["join"][3]["code"])
    hello = {"type": "hello", "watch": first["game_id"], "token": made["facilitator_token"]}
    watcher = await WSClient.open(server.ws_url, hello)
    await watcher.expect("sync")
    with server.http(made["facilitator_token"]) as http:
        sent = http.post(f"/api/sessions/{made['session_id']}/message", json={"text": " Go! "})
    assert sent.status_code == 200 and sent.json()["sent"] == 3
    for client in (one, two, watcher):
        message = await client.expect("announcement")
        check(message, ("announcement", None))
        assert message["text"] == "Go!" and message["number"] == 1
        await client.close()


async def test_resends_are_acked_as_documented(server: ServerProcess) -> None:
    game = create(server, autostart=True)
    player, _, _ = await join(server.ws_url, game["join"][0]["code"])

    async def send(msg_id: str, order: int, round_no: float = 1) -> dict[str, Any]:
        frame = {"type": "submit", "round": round_no, "id": msg_id, "decision": {"order": order}}
        await player.send(frame)
        return await player.expect("ack", id=msg_id)

    assert (await send("a1", 3, 1.0))["round"] == 1  # 1.0 is round 1
    assert (await send("a2", 4))["decision"] == {"order": 4}
    stale = await send("a1", 3)
    assert stale["duplicate"] is True and stale["superseded_by"] == "a2"
    assert stale["decision"] == {"order": 4}
    same = await send("a2", 9)
    assert same["duplicate"] is True and same["superseded_by"] is None
    assert same["decision"] == {"order": 4}
    await player.send({"type": "sync"})
    sync = await player.expect("sync")
    assert sync["decision"] == {"order": 4} and sync["decision_id"] == "a2"
    assert act(server, game, "close-round").status_code == 200
    await player.expect("round", round=1)
    late = await send("a2", 4)
    assert late["duplicate"] is True and late["decision"] is None and late["round"] == 1
    await player.send({"type": "submit", "round": 1, "id": "a1", "decision": {"order": 3}})
    assert (await player.expect("error", id="a1"))["code"] == "round_closed"
    await player.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('{"type": "sync", "x": ' + "[" * 40 + "]" * 40 + "}", "too_deep"),
        ('{"type": "ping", "n": 9007199254740992}', "bad_field"),
        (
            '{"type": "submit", "round": 1, "id": "x", "decision": {"order": -9007199254740992}}',
            "bad_field",
        ),
        ('{"type": "submit", "round": "1", "id": "x", "decision": {"order": 1}}', "bad_field"),
        ('{"type": "submit", "id": "x", "decision": {"order": 1}}', "missing_field"),
    ],
)
async def test_bad_frames_after_hello_get_an_error_and_the_connection_stays(
    server: ServerProcess, frame: str, code: str
) -> None:
    game = create(server, autostart=True)
    player, _, _ = await join(server.ws_url, game["join"][0]["code"])
    await player.send_raw(frame)
    assert (await player.expect("error"))["code"] == code
    await player.send({"type": "ping", "id": "alive"})
    assert (await player.expect("pong"))["id"] == "alive"
    await player.close()


@pytest.mark.parametrize("version", ["1", 1.5, True, [1]])
async def test_a_version_that_is_not_a_whole_number_is_unsupported(
    server: ServerProcess, version: object
) -> None:
    client = await WSClient.open(server.ws_url, {"type": "hello", "v": version, "token": "X.y"})
    assert (await client.expect("error"))["code"] == "unsupported_version"
    await client.close()


@pytest.mark.parametrize(("frame", "close_code"), [("[1, 2]", 1007), ("not json", 1007)])
async def test_closing_comes_before_the_close(
    server: ServerProcess, frame: str, close_code: int
) -> None:
    game = create(server)
    client, _, _ = await join(server.ws_url, game["join"][0]["code"])
    await client.send_raw(frame)
    error = await client.expect("error")
    assert error["code"] == "closing" and error["message"]
    assert await client.closed_with() == close_code
