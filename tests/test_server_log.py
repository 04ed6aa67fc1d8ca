"""What the server writes to its log: a line per event, time, level, logger and message."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.support import ServerProcess, join
from tests.test_live import create

LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO gameserver\.server\.room "
    r"seat claimed game=(\w+) role=retailer$",
    re.M,
)


async def test_a_seat_claimed_is_a_line_of_the_log(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    server.start()
    try:
        game = create(server, autostart=True)
        player, welcome, _ = await join(server.ws_url, game["join"][0]["code"])
        assert welcome["role"] == "retailer"
        for _ in range(100):
            if LINE.search(server.log()):
                break
            await asyncio.sleep(0.05)
        assert [m.group(1) for m in LINE.finditer(server.log())] == [game["game_id"]]
        await player.close()
    finally:
        server.stop()
