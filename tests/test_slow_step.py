"""A game whose step is slow (a big model) is played off the event loop, in a real server.

``tests/slowserver.py`` runs the real server with ``slowbeer``: the Beer Game with a sleep of
``step_seconds`` before each week, declared ``slow_step`` with a 3 s timeout.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import ServerProcess, WSClient
from tests.test_live import act, create, seat_all, submit


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "data", module="tests.slowserver")
    proc.start()
    yield proc
    proc.stop()


async def watch(server: ServerProcess, game: dict[str, Any]) -> WSClient:
    watcher = await WSClient.open(
        server.ws_url,
        {"type": "hello", "watch": game["game_id"], "token": game["facilitator_token"]},
    )
    await watcher.expect("sync")
    return watcher


async def play_week(players: dict[str, WSClient], week: int) -> None:
    for client in players.values():
        await submit(client, week, {"order": 4})
    for client in players.values():
        await client.expect("round", round=week)


async def test_other_games_play_on_while_a_slow_round_is_played(
    slow_server: ServerProcess,
) -> None:
    slow = create(slow_server, kind="slowbeer", settings={"step_seconds": 1.5}, autostart=True)
    fast = create(slow_server, autostart=True)
    slow_players = await seat_all(slow_server, slow)
    fast_players = await seat_all(slow_server, fast)
    for client in slow_players.values():
        await submit(client, 1, {"order": 8})
    slow_round = asyncio.create_task(slow_players["factory"].expect("round", round=1))
    # The slow game's week takes 1.5 s: meanwhile the other game plays two whole weeks.
    await play_week(fast_players, 1)
    await play_week(fast_players, 2)
    assert not slow_round.done()
    message = await slow_round
    assert message["open_round"] == 2
    # Decisions for the slow game's round 1 are refused while it is played, not lost.
    with slow_server.http(slow["facilitator_token"]) as http:
        export = http.get(f"/api/games/{slow['game_id']}/export.json").json()
    (record,) = export["rounds"]
    assert record["closed_by"] == "all_submitted" and record["defaulted"] == []
    assert record["decisions"]["retailer"] == {"order": 8}
    for client in [*slow_players.values(), *fast_players.values()]:
        await client.close()


async def test_a_round_too_slow_pauses_its_game_and_the_server_stays_up(
    slow_server: ServerProcess,
) -> None:
    slow = create(slow_server, kind="slowbeer", settings={"step_seconds": 30}, autostart=True)
    fast = create(slow_server, autostart=True)
    slow_players = await seat_all(slow_server, slow)
    fast_players = await seat_all(slow_server, fast)
    watcher = await watch(slow_server, slow)
    for client in slow_players.values():
        await submit(client, 1, {"order": 8})
    error = await watcher.expect("error", timeout=10)
    assert error["code"] == "round_not_played"
    assert "round 1 could not be played: it took longer than 3 s" in error["message"]
    assert "the game is paused, resume it to try again" in error["message"]
    for client in slow_players.values():
        await client.expect("status", status="paused")
    with slow_server.http(slow["facilitator_token"]) as http:
        info = http.get(f"/api/games/{slow['game_id']}").json()
    assert info["status"] == "paused" and info["round"] == 0
    # Its players' decisions stand; the other game never noticed.
    assert all(seat["submitted"] for seat in info["seats"])
    await play_week(fast_players, 1)
    # A facilitator's close tries the round again (and it is too slow again): a 409 that says so.
    closed = act(slow_server, slow, "close-round")
    assert closed.status_code == 409
    assert closed.json()["error"] == {
        "code": "round_not_played",
        "message": "round 1 could not be played: it took longer than 3 s",
    }
    assert (await watcher.expect("error"))["code"] == "round_not_played"
    for client in [*slow_players.values(), *fast_players.values(), watcher]:
        await client.close()
    # A round given up on goes on sleeping in its thread: it does not hold up a shutdown.
    started = time.monotonic()
    assert slow_server.terminate(timeout=15) in (0, -signal.SIGTERM)  # uvicorn re-raises it
    assert time.monotonic() - started < 10
    assert "gameserver stopped" in slow_server.log()
