"""The WebSocket endpoint's handshake against input that fails before it is a message."""

from __future__ import annotations

import pytest

from tests.support import ServerProcess, WSClient


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
