"""The end of a turn: progress messages once, then every connection's write once; and
:meth:`Turn.now`, which does that at once (after a round's views) instead of at the turn's end."""

from __future__ import annotations

import asyncio

from gameserver.server.turn import Turn


async def test_progress_then_writes_each_once_at_the_end_of_the_turn() -> None:
    turn, calls = Turn(), []
    turn.flush(1, lambda: calls.append("write 1"))
    turn.flush(1, lambda: calls.append("write 1 again"))  # one write a connection and turn
    turn.progress(7, lambda: calls.append("progress 7"))
    assert calls == []
    await asyncio.sleep(0)
    assert calls == ["progress 7", "write 1 again"]


async def test_now_writes_at_once_and_the_end_of_the_turn_does_not_write_again() -> None:
    turn, calls = Turn(), []

    def progress() -> None:
        calls.append("progress 7")
        turn.flush(2, lambda: calls.append("write 2"))  # a progress message is sent, then flushed

    turn.flush(1, lambda: calls.append("write 1"))
    turn.progress(7, progress)
    turn.now()
    assert calls == ["progress 7", "write 1", "write 2"]
    await asyncio.sleep(0)
    assert calls == ["progress 7", "write 1", "write 2"]
    turn.flush(1, lambda: calls.append("write 1 later"))  # what comes after is written as before
    await asyncio.sleep(0)
    assert calls[-1] == "write 1 later"
