"""A client's hello against a real server process: a join whose ``welcome`` was lost (a dropped
connection, a SIGKILL between the seat claim's save and the ``welcome``) is retried with the
same ``join_id`` and gets its seat back, never ``seat_taken`` (docs/protocol.md, "Joining again
after a lost welcome")."""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

from tests.support import ServerProcess, WSClient, resume
from tests.test_live import create


def _hello(code: str, join_id: str | None = None, **extra: Any) -> dict[str, Any]:
    hello: dict[str, Any] = {"type": "hello", "v": 1, "join": code, **extra}
    if join_id is not None:
        hello["join_id"] = join_id
    return hello


async def _answer(server: ServerProcess, hello: dict[str, Any]) -> tuple[WSClient, dict[str, Any]]:
    """Send ``hello`` on a new connection: the client and the welcome or error it got."""
    client = await WSClient.open(server.ws_url, hello)
    while True:
        message = await client.recv()
        if message["type"] in ("welcome", "error"):
            return client, message


def _seats(server: ServerProcess, game: dict[str, Any]) -> dict[str, dict[str, Any]]:
    with server.http(game["facilitator_token"]) as http:
        detail = http.get(f"/api/games/{game['game_id']}").json()
    return {seat["role"]: seat for seat in detail["seats"]}


async def test_a_join_sent_again_with_its_join_id_gets_the_seat_and_a_new_token(
    server: ServerProcess,
) -> None:
    game = create(server, autostart=True)
    code = game["join"][1]["code"]  # the wholesaler's
    join_id = "j-" + os.urandom(16).hex()
    first, welcome = await _answer(server, _hello(code, join_id, name="Bo"))
    assert welcome["type"] == "welcome" and welcome["role"] == "wholesaler"
    # The welcome is lost with the connection: the page has no token. It joins again.
    again, rewelcome = await _answer(server, _hello(code, join_id, name="Bo"))
    assert rewelcome["type"] == "welcome" and rewelcome["role"] == "wholesaler"
    assert rewelcome["resumed"] is False and rewelcome["token"] not in (None, welcome["token"])
    superseded = await first.expect("error")
    assert superseded["code"] == "superseded"
    sync = await again.expect("sync")
    assert sync["role"] == "wholesaler" and "wholesaler" in sync["online"]
    # The new token resumes the seat; the one given before does not any more.
    back, back_sync = await resume(server.ws_url, rewelcome["token"])
    assert back_sync["role"] == "wholesaler"
    stale, refused = await _answer(server, {"type": "hello", "v": 1, "token": welcome["token"]})
    assert refused["code"] == "bad_token"
    # Anyone else with the code, or the code without its join id, finds the seat taken.
    for other in ("j-" + os.urandom(16).hex(), None):
        taken_client, taken = await _answer(server, _hello(code, other))
        assert taken["code"] == "seat_taken", taken
        await taken_client.close()
    seats = _seats(server, game)
    assert [role for role, seat in seats.items() if seat["claimed"]] == ["wholesaler"]
    assert seats["wholesaler"]["name"] == "Bo"
    for client in (first, again, back, stale):
        await client.close()


async def test_an_open_join_retried_gets_the_seat_it_took_whatever_role_it_names(
    server: ServerProcess,
) -> None:
    game = create(server, open_join=True)
    code = game["open_join"]["code"]
    mine = "j-" + os.urandom(16).hex()
    first, welcome = await _answer(server, _hello(code, mine))
    assert welcome["role"] == "retailer"
    await first.close()
    # A reloaded page offers only free roles: the retry names one, and gets its own seat.
    for extra in ({}, {"role": "factory"}):
        client, again = await _answer(server, _hello(code, mine, **extra))
        assert again["type"] == "welcome" and again["role"] == "retailer", again
        await client.close()
    other, theirs = await _answer(server, _hello(code, "j-" + os.urandom(16).hex()))
    assert theirs["role"] == "wholesaler"
    seats = _seats(server, game)
    assert [role for role, seat in seats.items() if seat["claimed"]] == ["retailer", "wholesaler"]
    await other.close()


async def test_a_join_id_out_of_range_is_refused_by_name(server: ServerProcess) -> None:
    game = create(server)
    code = game["join"][0]["code"]
    bad: Any
    for bad in ("short", "x" * 65, 1234):
        client, refused = await _answer(server, {**_hello(code), "join_id": bad})
        assert refused["code"] == "bad_field" and "'join_id'" in refused["message"], refused
        await client.close()
    assert not _seats(server, game)["retailer"]["claimed"]


async def test_joins_cut_by_sigkill_are_retried_into_their_seats_never_seat_taken(
    fresh_server: ServerProcess,
) -> None:
    """Four players join one open code while the server is killed during each join: some
    claims were saved before the kill (their welcome lost), some not. Each page retries its
    join with its join id until it is welcomed: every one gets a seat, none gets
    ``seat_taken`` or ``game_full``, and no seat is left claimed by nobody."""
    seed = int(os.environ.get("CHAOS_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    server = fresh_server
    server.start()
    game = create(server, open_join=True, autostart=True)
    code = game["open_join"]["code"]
    tokens: dict[str, str] = {}
    for n in range(4):
        join_id = f"j-{n}-" + os.urandom(12).hex()
        client = await WSClient.open(server.ws_url, _hello(code, join_id, name=f"P{n}"))
        if n % 2 == 0:
            await client.expect("welcome")  # saved and sent: lost with the crash all the same
        else:
            await asyncio.sleep(rng.choice([0, 0.001, 0.003, 0.01, 0.03]))
        server.kill()
        await client.close()
        server.start()
        retry, welcome = await _answer(server, _hello(code, join_id, name=f"P{n}"))
        assert welcome["type"] == "welcome", f"seed {seed}: {welcome}"
        assert welcome["role"] not in tokens, f"seed {seed}: two joins got one seat"
        tokens[welcome["role"]] = welcome["token"]
        await retry.close()
    seats = _seats(server, game)
    assert all(seat["claimed"] for seat in seats.values()), f"seed {seed}: {seats}"
    assert sorted(seat["name"] for seat in seats.values()) == ["P0", "P1", "P2", "P3"]
    for role, token in tokens.items():
        client, sync = await resume(server.ws_url, token)
        assert sync["role"] == role
        await client.close()
