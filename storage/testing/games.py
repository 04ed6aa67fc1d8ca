"""The conformance tests of a game's writes: decisions, rounds, delete, many at once, reopen."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from storage import HeaderQuery, SnapshotHeader, StorageAdapter, StorageError
from storage.testing.records import ALL_BYTES, AdapterFactory, decision, round_record, snap


class GameConformance:
    """A game's decisions and rounds, its delete, concurrent writers, close and persistence.

    Mixed into :class:`storage.testing.AdapterConformance`, which gives the fixtures.
    """

    # -- decisions

    async def test_decisions_upsert_per_round_and_seat(self, adapter: StorageAdapter) -> None:
        await adapter.save_decision(decision("g1", 1, "retailer", b"4"))
        await adapter.save_decision(decision("g1", 1, "factory", b"8"))
        await adapter.save_decision(decision("g1", 1, "retailer", b"5"))  # changed their mind
        await adapter.save_decision(decision("g1", 2, "retailer", b"6"))
        await adapter.save_decision(decision("g2", 1, "retailer", b"7"))
        round1 = {d.seat: d for d in await adapter.load_decisions("g1", 1)}
        assert {seat: d.payload for seat, d in round1.items()} == {
            "retailer": b"5",
            "factory": b"8",
        }
        assert round1["factory"] == decision("g1", 1, "factory", b"8")
        assert [d.payload for d in await adapter.load_decisions("g1", 2)] == [b"6"]
        assert await adapter.load_decisions("g1", 3) == []

    async def test_decision_seats_with_any_text(self, adapter: StorageAdapter) -> None:
        seats = ["Fábrica", "team 2", "a/b", "..", ""]
        for seat in seats:
            await adapter.save_decision(decision("g1", 1, seat, seat.encode()))
        stored = {d.seat: d.payload for d in await adapter.load_decisions("g1", 1)}
        assert stored == {seat: seat.encode() for seat in seats}

    async def test_save_decisions_saves_each_and_answers_each(
        self, adapter: StorageAdapter
    ) -> None:
        batch = [
            decision("g1", 1, "retailer", b"4"),
            decision("g2", 1, "retailer", b"5"),
            decision("g1", 1, "factory", b"6"),
            decision("g1", 1, "retailer", b"7"),  # the same key again: the later one wins
        ]
        assert await adapter.save_decisions(batch) == [None, None, None, None]
        g1 = {d.seat: d.payload for d in await adapter.load_decisions("g1", 1)}
        assert g1 == {"retailer": b"7", "factory": b"6"}
        assert [d.payload for d in await adapter.load_decisions("g2", 1)] == [b"5"]
        assert await adapter.save_decisions([]) == []

    # -- rounds

    async def test_append_round_stores_round_and_snapshot(self, adapter: StorageAdapter) -> None:
        await adapter.save_snapshot(snap("g1", 0))
        await adapter.append_round(round_record("g1", 1, b"r1"), snap("g1", 1, payload=b"s1"))
        assert await adapter.load_rounds("g1") == [round_record("g1", 1, b"r1")]
        assert await adapter.load_snapshot("g1") == snap("g1", 1, payload=b"s1")

    async def test_rounds_come_back_in_order(self, adapter: StorageAdapter) -> None:
        numbers = [3, 1, 12, 2, 10, 11, 4]
        for n in numbers:
            await adapter.append_round(round_record("g1", n, b"r%d" % n), snap("g1", n))
        await adapter.append_round(round_record("g2", 5), snap("g2", 5))
        assert [r.round for r in await adapter.load_rounds("g1")] == sorted(numbers)
        assert [r.round for r in await adapter.load_rounds("g1", after=3)] == [4, 10, 11, 12]
        assert await adapter.load_rounds("g1", after=12) == []
        assert [r.payload for r in await adapter.load_rounds("g1", after=10)] == [b"r11", b"r12"]

    async def test_append_round_replaces_same_round(self, adapter: StorageAdapter) -> None:
        await adapter.append_round(round_record("g1", 1, b"old"), snap("g1", 1))
        await adapter.append_round(round_record("g1", 1, b"new"), snap("g1", 1, payload=b"n"))
        assert [r.payload for r in await adapter.load_rounds("g1")] == [b"new"]

    async def test_advance_round_keeps_the_payload_and_moves_the_columns(
        self, adapter: StorageAdapter
    ) -> None:
        first = snap("g1", 1, payload=b"whole at 1", group="A", summary='{"v": 1}')
        await adapter.append_round(round_record("g1", 1, b"r1"), first)
        later = snap(
            "g1",
            3,
            payload=b"not written",
            status="finished",
            in_progress=False,
            group="A",
            summary='{"v": 2}',
            updated_at=1_700_000_999.5,
        )
        for n in (2, 3):
            await adapter.advance_round(round_record("g1", n, b"r%d" % n), SnapshotHeader.of(later))
        stored = await adapter.load_snapshot("g1")
        assert stored == replace(later, payload=b"whole at 1", created_at=first.created_at)
        assert [r.payload for r in await adapter.load_rounds("g1")] == [b"r1", b"r2", b"r3"]
        [header] = await adapter.load_headers(HeaderQuery(groups=frozenset({"A"})))
        assert header == SnapshotHeader.of(stored)
        assert [s.game_id for s in await adapter.load_snapshots(in_progress_only=True)] == []

    async def test_advance_round_of_a_game_without_a_snapshot_stores_nothing(
        self, adapter: StorageAdapter
    ) -> None:
        await adapter.save_snapshot(snap("g2", 0))
        missing, present = await asyncio.gather(
            adapter.advance_round(round_record("g1", 1), SnapshotHeader.of(snap("g1", 1))),
            adapter.advance_round(round_record("g2", 1), SnapshotHeader.of(snap("g2", 1))),
            return_exceptions=True,
        )
        assert missing is None or isinstance(missing, StorageError), missing
        assert present is None, present
        assert await adapter.load_rounds("g1") == []
        assert await adapter.load_snapshot("g1") is None
        # The other game's round, in the same batch, is not taken down with it.
        assert [r.round for r in await adapter.load_rounds("g2")] == [1]
        assert (await adapter.load_snapshot("g2")).round == 1  # type: ignore[union-attr]

    # -- delete

    async def test_delete_removes_everything(self, adapter: StorageAdapter) -> None:
        for game_id in ("g1", "g2"):
            await adapter.save_snapshot(snap(game_id))
            await adapter.save_decision(decision(game_id, 1, "retailer"))
            await adapter.append_round(round_record(game_id, 1), snap(game_id, 1))
        assert await adapter.delete_game("g1") is True
        assert await adapter.load_snapshot("g1") is None
        assert await adapter.load_decisions("g1", 1) == []
        assert await adapter.load_rounds("g1") == []
        assert [s.game_id for s in await adapter.load_snapshots()] == ["g2"]
        assert await adapter.delete_game("g1") is False
        assert len(await adapter.load_rounds("g2")) == 1
        assert len(await adapter.load_decisions("g2", 1)) == 1

    async def test_delete_of_unknown_or_partial_game(self, adapter: StorageAdapter) -> None:
        assert await adapter.delete_game("never") is False
        await adapter.save_decision(decision("only-decisions", 1, "retailer"))
        assert await adapter.delete_game("only-decisions") is True
        assert await adapter.load_decisions("only-decisions", 1) == []
        await adapter.save_snapshot(snap("again"))  # a deleted id can be used again
        assert await adapter.load_snapshot("again") == snap("again")

    # -- concurrency and durability

    async def test_concurrent_writers_all_land(self, adapter: StorageAdapter) -> None:
        games, rounds = 40, 5

        async def play(n: int) -> None:
            game_id = f"c{n}"
            for r in range(1, rounds + 1):
                await asyncio.gather(
                    *(adapter.save_decision(decision(game_id, r, s, b"%d" % n)) for s in "abcd")
                )
                await adapter.append_round(round_record(game_id, r), snap(game_id, r))
                # Every write whose await returned is readable at once.
                assert len(await adapter.load_decisions(game_id, r)) == 4
                latest = await adapter.load_snapshot(game_id)
                assert latest is not None and latest.round == r

        await asyncio.wait_for(asyncio.gather(*(play(n) for n in range(games))), 60)
        snapshots = await adapter.load_snapshots()
        assert sorted(s.game_id for s in snapshots) == sorted(f"c{n}" for n in range(games))
        for n in range(games):
            assert [r.round for r in await adapter.load_rounds(f"c{n}")] == [1, 2, 3, 4, 5]

    async def test_persists_across_close_and_reopen(self, adapter_factory: AdapterFactory) -> None:
        first = adapter_factory()
        if not first.durable:
            pytest.skip(f"{first.name} is not durable")
        await first.open()
        await first.save_snapshot(snap("g1", 2, payload=ALL_BYTES))
        await first.save_decision(decision("g1", 3, "retailer", b"d"))
        await first.append_round(round_record("g1", 2, b"r"), snap("g1", 2, payload=ALL_BYTES))
        await first.save_snapshot(snap("gone"))
        await first.delete_game("gone")
        await first.close()
        second = adapter_factory()
        await second.open()
        try:
            assert await second.load_snapshot("g1") == snap("g1", 2, payload=ALL_BYTES)
            assert await second.load_decisions("g1", 3) == [decision("g1", 3, "retailer", b"d")]
            assert await second.load_rounds("g1") == [round_record("g1", 2, b"r")]
            assert await second.load_snapshot("gone") is None
        finally:
            await second.close()

    async def test_close_finishes_writes_in_flight(self, adapter_factory: AdapterFactory) -> None:
        first = adapter_factory()
        await first.open()
        tasks = [asyncio.ensure_future(first.save_snapshot(snap(f"w{n}"))) for n in range(50)]
        await asyncio.sleep(0)
        await first.close()
        await asyncio.gather(*tasks)  # none failed
        if not first.durable:
            return
        second = adapter_factory()
        await second.open()
        try:
            assert len(await second.load_snapshots()) == 50
        finally:
            await second.close()
