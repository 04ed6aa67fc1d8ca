"""End-to-end: a real ``gameserver serve`` process on PostgreSQL (the session's throwaway cluster).

Bots play whole games over the network, the server is killed with SIGKILL, and the restarted
server finds every game as the bots left it: what it acknowledged was in PostgreSQL already.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ADMIN_KEY, ROOT, ServerProcess

asyncpg = pytest.importorskip("asyncpg", reason="the postgresql extra is not installed")


async def count_rounds(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM rounds")
        return count
    finally:
        await conn.close()


def test_the_server_plays_on_postgresql_and_survives_a_kill(
    postgresql_url: str, tmp_path: Path
) -> None:
    server = ServerProcess(tmp_path / "data", args=["--storage", postgresql_url])
    try:
        server.start()
        out = tmp_path / "figures.json"
        bots = [sys.executable, "-m", "gameserver", "bots", "--url", server.url]
        bots += ["--admin-key", ADMIN_KEY, "--games", "3", "--settings", "weeks=6"]
        bots += ["--policy", "sterman", "--seed", "5", "--json", str(out)]
        done = subprocess.run(bots, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        figures = json.loads(out.read_text())
        assert figures["finished"] == 3 and figures["errors"] == {}
        server.kill()  # SIGKILL: whatever was acknowledged must be in PostgreSQL already
        server.start()
        with server.http() as http:
            for game in figures["per_game"]:
                stored = http.get(f"/api/games/{game['game_id']}").json()
                assert (stored["status"], stored["round"]) == ("finished", 6), stored
    finally:
        server.stop()
    assert asyncio.run(count_rounds(postgresql_url)) == 3 * 6
