"""Memory that connections and games leave behind goes back to the system (glibc's
``malloc_trim``), at most once an interval: the real C library's, in this process and in a
real server."""

from __future__ import annotations

import asyncio
import platform
import re
from pathlib import Path

import pytest

from gameserver.server.heap import HeapTrim
from tests.support import ServerProcess, join
from tests.test_live import create

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def rss_anon_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise AssertionError("no RssAnon in /proc/self/status")


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_freed_blocks_in_the_middle_of_the_heap_go_back_to_the_system() -> None:
    trim = HeapTrim.of_libc()
    assert trim.works
    # 48 MB of 6 KB blocks (what an encoded last view weighs), one in eight kept: glibc cannot
    # give the rest back by itself, as the kept ones hold every part of the heap.
    blocks = [bytes(6000) + bytes([i % 256]) for i in range(8000)]
    kept = blocks[::8]
    del blocks
    before = rss_anon_kb()
    trim.soon()
    after = rss_anon_kb()
    assert trim.trims == 1
    assert before - after > 20_000, (before, after)
    assert len(kept) == 1000


async def test_a_trim_at_most_once_an_interval_and_the_last_of_a_burst_later() -> None:
    calls: list[float] = []
    loop = asyncio.get_running_loop()
    trim = HeapTrim(lambda: calls.append(loop.time()), interval=0.2)
    trim.soon()
    assert len(calls) == 1  # the first at once
    for _ in range(100):
        trim.soon()
    assert len(calls) == 1
    await asyncio.sleep(0.3)
    assert len(calls) == 2  # the burst's, once the interval passed
    assert calls[1] - calls[0] >= 0.19
    await asyncio.sleep(0.25)
    trim.soon()
    assert len(calls) == 3  # quiet for longer than the interval: at once again
    trim.soon()
    trim.stop()  # a server that stops cancels the one waiting
    await asyncio.sleep(0.3)
    assert len(calls) == 3 and trim.trims == 3


def test_without_malloc_trim_nothing_is_done() -> None:
    trim = HeapTrim(None)
    trim.soon()
    assert not trim.works and trim.trims == 0


def trims(server: ServerProcess) -> int:
    with server.http() as http:
        text = http.get("/metrics").text
    match = re.search(r"^gameserver_heap_trims_total (\d+)$", text, re.M)
    assert match, text
    return int(match.group(1))


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
async def test_a_server_trims_after_a_connection_ends(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    server.start()
    try:
        game = create(server, autostart=True)
        assert trims(server) == 0
        player, _, _ = await join(server.ws_url, game["join"][0]["code"])
        assert trims(server) == 0
        await player.close()
        for _ in range(100):
            if trims(server) >= 1:
                break
            await asyncio.sleep(0.05)
        assert trims(server) == 1
    finally:
        server.stop()
