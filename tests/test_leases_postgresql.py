"""Leases on a real PostgreSQL server: one owner per game, and the fence.

Two "servers" here are two adapters on one database, each with its leases, as two processes
would have them. The fence is checked the way a server meets it: a write through the adapter.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from storage import DecisionRecord, Snapshot, StorageError
from storage.errors import Fenced

asyncpg = pytest.importorskip("asyncpg", reason="the postgresql extra is not installed")

from storage.adapters.postgresql import PostgreSQLAdapter, from_url  # noqa: E402
from storage.adapters.postgresql_leases import PostgreSQLLeases  # noqa: E402

SECONDS = 1.0


def snap(game_id: str, in_progress: bool = True) -> Snapshot:
    status = "running" if in_progress else "finished"
    return Snapshot(game_id, "beer", status, in_progress, 0, 1, 1.0, 2.0, b"{}", None)


def decision(game_id: str, seat: str = "retailer") -> DecisionRecord:
    return DecisionRecord(game_id, 1, seat, 1, 1.0, b"{}")


class Server:
    """An adapter and its leases, as one server process holds them."""

    def __init__(self, url: str, name: str) -> None:
        self.adapter: PostgreSQLAdapter = from_url(url)
        self.leases = self.adapter.leases(name, SECONDS)
        self.asked: list[str] = []
        self.left = 0

    async def __aenter__(self) -> Server:
        await self.adapter.open()
        self.leases.on_handover = self.asked.append
        self.leases.on_node_left = self._left
        await self.leases.open()
        return self

    def _left(self) -> None:
        self.left += 1

    async def __aexit__(self, *exc: object) -> None:
        await self.leases.close()
        await self.adapter.close()


@pytest.fixture
async def pair(postgresql_url: str) -> AsyncIterator[tuple[Server, Server]]:
    async with Server(postgresql_url, "a") as a, Server(postgresql_url, "b") as b:
        yield a, b


async def test_a_game_has_one_owner_and_only_it_may_write(pair: tuple[Server, Server]) -> None:
    a, b = pair
    assert await a.leases.acquire(["g1", "g2"]) == {"g1": 1, "g2": 1}
    assert await b.leases.acquire(["g1", "g3"]) == {"g3": 1}  # g1 is a's, live
    await a.adapter.save_snapshot(snap("g1"))
    await a.adapter.save_decision(decision("g1"))
    with pytest.raises(Fenced, match="refused by the fence"):
        await b.adapter.save_snapshot(snap("g1"))
    with pytest.raises(Fenced):
        await b.adapter.save_snapshot(snap("g9"))  # nobody's game: nobody writes it
    # In one batch, the refused write fails alone.
    outcomes = await b.adapter.save_decisions([decision("g3"), decision("g1", "factory")])
    assert outcomes[0] is None and isinstance(outcomes[1], Fenced)
    assert await a.leases.owner_of("g1") == "a" and await a.leases.owner_of("g9") is None


async def test_a_released_game_goes_to_the_next_server_with_a_new_epoch(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    await a.leases.acquire(["g1"])
    await a.adapter.save_snapshot(snap("g1"))
    await a.leases.release("g1")
    assert await b.leases.acquire(["g1"]) == {"g1": 2}
    await b.adapter.save_snapshot(snap("g1"))
    with pytest.raises(Fenced):  # a let it go: a's old epoch opens nothing
        await a.adapter.save_snapshot(snap("g1"))
    assert await b.leases.orphans() == []  # released, not lapsed: nobody takes it over


async def test_a_lapsed_lease_is_an_orphan_and_its_owner_finds_it_lost(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    await a.leases.acquire(["g1", "done"])
    await a.adapter.save_snapshot(snap("g1"))
    await a.adapter.save_snapshot(snap("done", in_progress=False))
    assert await a.leases.renew() == set()
    await asyncio.sleep(SECONDS + 0.2)  # a froze: no renewal
    orphans = await b.leases.orphans()
    assert [game_id for game_id, _ in orphans] == ["g1"]  # a finished game is nobody's worry
    assert orphans[0][1] > 0
    assert await b.leases.acquire(["g1"]) == {"g1": 2}
    assert await a.leases.renew() == {"g1"}  # a wakes up: g1 is gone, "done" is still a's
    assert a.leases.held == {"done": 1}
    with pytest.raises(Fenced):
        await a.adapter.save_decision(decision("g1"))


async def test_a_lease_renewed_in_time_never_lapses(pair: tuple[Server, Server]) -> None:
    a, b = pair
    await a.leases.acquire(["g1"])
    await a.adapter.save_snapshot(snap("g1"))
    for _ in range(4):
        await asyncio.sleep(SECONDS / 3)
        assert await a.leases.renew() == set()
    assert await b.leases.orphans() == []
    assert await b.leases.acquire(["g1"]) == {}


async def test_a_handover_is_asked_for_and_waited_for(pair: tuple[Server, Server]) -> None:
    a, b = pair
    await a.leases.acquire(["g1"])

    async def give_when_asked() -> None:
        while not a.asked:
            await asyncio.sleep(0.01)
        await a.leases.release("g1")

    giving = asyncio.create_task(give_when_asked())
    started = asyncio.get_running_loop().time()
    assert await b.leases.ask_handover("g1", within=5)
    assert asyncio.get_running_loop().time() - started < SECONDS  # not the lapse: the release
    await giving
    assert a.asked == ["g1"]
    assert await b.leases.acquire(["g1"]) == {"g1": 2}


async def test_a_handover_nobody_answers_waits_for_the_lapse_or_gives_up(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    await a.leases.acquire(["g1"])
    assert not await b.leases.ask_handover("g1", within=0.2)
    assert await b.leases.ask_handover("g1", within=SECONDS + 1)  # a never renews: it lapses
    assert await b.leases.acquire(["g1"]) == {"g1": 2}


async def test_a_server_that_leaves_lets_its_leases_lapse_at_once(postgresql_url: str) -> None:
    async with Server(postgresql_url, "b") as b:
        a = Server(postgresql_url, "a")
        await a.__aenter__()
        await a.leases.acquire(["g1"])
        await a.adapter.save_snapshot(snap("g1"))
        names = [(n.name, n.games) for n in await b.leases.nodes()]
        assert names == [("a", 1), ("b", 0)]
        await a.__aexit__()
        for _ in range(100):
            if b.left:
                break
            await asyncio.sleep(0.01)
        assert b.left == 1
        assert [game_id for game_id, _ in await b.leases.orphans()] == ["g1"]
        assert [n.name for n in await b.leases.nodes()] == ["b"]
        assert await b.leases.acquire(["g1"]) == {"g1": 2}


async def test_forgetting_a_lease_removes_it(pair: tuple[Server, Server]) -> None:
    a, b = pair
    await a.leases.acquire(["nothing"])
    await a.leases.release("nothing", forget=True)
    rows = await b.adapter.pool.fetch("SELECT count(*) FROM leases")
    assert rows[0][0] == 0


async def test_a_lease_time_out_of_range_is_refused(postgresql_url: str) -> None:
    adapter = from_url(postgresql_url)
    with pytest.raises(ValueError, match=r"a lease must last from 0\.5 to 3600 seconds, not 0\.1"):
        PostgreSQLLeases(adapter, "a", 0.1)


async def test_leases_need_an_open_adapter(postgresql_url: str) -> None:
    leases = from_url(postgresql_url).leases("a", SECONDS)
    with pytest.raises(StorageError, match="is not open"):
        await leases.acquire(["g1"])
