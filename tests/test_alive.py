"""The alive mark, and a round's deadline across a crash: the server's downtime does not eat the
round's time (docs/protocol.md, "How rounds close"). The end-to-end tests kill a real server
with SIGKILL and read the deadline a reconnecting player is given."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from gameserver.server.alive import AliveMark
from tests.support import ServerProcess, WSClient, join, resume
from tests.test_live import create

#: The default alive interval: a round gets back its time left at the crash, and at most this.
INTERVAL = 2.0


def test_a_mark_reads_back_and_a_missing_or_damaged_one_is_unknown(tmp_path: Path) -> None:
    mark = AliveMark(tmp_path / "alive", 2.0)
    assert mark.read() is None
    mark.write(1_800_000_000.25)
    mark.write(1_700_000_000.5)  # rewritten in place: no tail of the longer one before
    assert mark.read() == 1_700_000_000.5
    mark.close()
    (tmp_path / "alive").write_text("yesterday")
    assert AliveMark(tmp_path / "alive", 2.0).read() is None
    (tmp_path / "alive").write_text("-5")
    assert AliveMark(tmp_path / "alive", 2.0).read() is None


def test_a_mark_that_cannot_be_written_is_logged_once_and_never_raises(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mark = AliveMark(tmp_path / "missing" / "alive", 2.0)
    with caplog.at_level(logging.WARNING):
        mark.write(1.0)
        mark.write(2.0)
    assert [r.getMessage().startswith("cannot write the alive mark") for r in caplog.records] == [
        True
    ]
    assert mark.read() is None


def _left(sync: dict[str, Any]) -> float:
    """Seconds the open round had left when the server sent ``sync``."""
    deadline = sync["deadline"]
    assert isinstance(deadline, float | int), sync
    return float(deadline - sync["server_time"])


async def _left_now(client: WSClient) -> float:
    await client.send({"type": "sync"})
    return _left(await client.expect("sync"))


async def _resumed(url: str, token: str) -> tuple[WSClient, float, float]:
    """Resume ``token``'s seat after a restart: the connection, the seconds its round had left
    when the server answered, by the deadline the player ends up with, and when (monotonic)
    that answer came. A player who comes back while the restart's moved deadline is still being
    saved gets the old one in its ``sync``, then the new one in a ``status`` (saved before
    told): so ask again until the deadline holds still."""
    client, sync = await resume(url, token)
    answered = time.monotonic()
    deadline = sync["deadline"]
    for _ in range(50):
        await asyncio.sleep(0.1)
        await client.send({"type": "sync"})
        again = (await client.expect("sync"))["deadline"]
        if again == deadline:
            break
        deadline = again
    return client, _left({**sync, "deadline": deadline}), answered


async def test_a_round_gets_back_the_time_it_had_left_when_the_server_was_killed(
    fresh_server: ServerProcess,
) -> None:
    server = fresh_server
    server.start()
    game = create(server, autostart=True, round_seconds=120)
    client, welcome, _ = await join(server.ws_url, game["join"][0]["code"])
    await asyncio.sleep(2.5)  # the round runs; the server marks that it is alive meanwhile
    left_at_kill = await _left_now(client)  # read just before the kill
    server.kill()
    await client.close()
    await asyncio.sleep(6)  # down for 6 s
    restarting = time.monotonic()
    server.start()
    client, after, answered = await _resumed(server.ws_url, welcome["token"])
    since_restart = answered - restarting
    # The time it had left at the kill, and at most one alive interval more; less only by
    # the time since the restart (the round runs again once restored).
    assert left_at_kill - since_restart - 0.5 <= after <= left_at_kill + INTERVAL + 0.5, (
        left_at_kill,
        after,
        since_restart,
    )
    assert after > left_at_kill - 3, "the 6 s of downtime were taken from the round"

    # The moved deadline was saved: a second crash does not take the first downtime back.
    await asyncio.sleep(2.5)
    before = await _left_now(client)
    server.kill()
    await client.close()
    await asyncio.sleep(4)
    restarting = time.monotonic()
    server.start()
    client, after, answered = await _resumed(server.ws_url, welcome["token"])
    since_restart = answered - restarting
    assert before - since_restart - 0.5 <= after <= before + INTERVAL + 0.5, (before, after)
    # 120 s, minus the time it really ran (about 5 s up), whatever the 10 s it was down
    assert 110 < after < 117, after
    await client.close()


async def test_a_graceful_restart_gives_back_the_time_left_too(
    fresh_server: ServerProcess,
) -> None:
    server = fresh_server
    server.start()
    game = create(server, autostart=True, round_seconds=60)
    client, welcome, _ = await join(server.ws_url, game["join"][0]["code"])
    before = await _left_now(client)
    stopping = time.monotonic()
    await client.close()
    server.terminate()  # SIGTERM: uvicorn stops gracefully, then exits by the signal
    await asyncio.sleep(3)
    server.start()
    client, after, answered = await _resumed(server.ws_url, welcome["token"])
    # Marked at the stop: back to what it had then, less the time the stop itself took.
    assert before - (answered - stopping - 3) - 0.5 <= after <= before + 0.2, (
        before,
        after,
    )
    await client.close()
