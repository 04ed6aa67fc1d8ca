"""The storage adapter conformance suite: every adapter, yours included, must pass it.

Importing this module needs pytest and pytest-asyncio (the ``test`` extra); the rest of
``storage`` does not. Use it from a test module of your own::

    import pytest
    from storage.testing import AdapterConformance

    class TestMyAdapter(AdapterConformance):
        @pytest.fixture
        def adapter_factory(self, tmp_path):
            return lambda: MyAdapter(tmp_path / "store")

``adapter_factory`` returns a callable that makes a fresh, unopened adapter. For a durable
adapter (``durable = True``) every adapter it makes must use the same store, so that what one
wrote is there when the next one opens; the suite then checks persistence across close and
reopen. The suite opens, uses and closes adapters itself, and also runs the :class:`Store`
(encoding, compression, damaged records) over your adapter.

pytest rewrites ``assert`` statements for detailed failure messages only in test modules; add
``pytest.register_assert_rewrite("storage.testing")`` to your ``conftest.py`` to get them here
too. The tests carry the asyncio mark, so pytest-asyncio's strict mode works.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import pytest_asyncio

from storage import (
    DAMAGED,
    CorruptRecord,
    HeaderQuery,
    SnapshotHeader,
    StorageAdapter,
    StorageError,
    Store,
    StoredGame,
)
from storage.codec import ZSTD_MAGIC, Codec
from storage.testing.documents import DocumentConformance
from storage.testing.records import (
    ALL_BYTES,
    AdapterFactory,
    decision,
    document,
    round_record,
    snap,
)
from storage.testing.snapshots import SnapshotConformance

__all__ = [
    "ALL_BYTES",
    "AdapterConformance",
    "AdapterFactory",
    "decision",
    "document",
    "round_record",
    "snap",
]


@pytest.mark.asyncio
class AdapterConformance(DocumentConformance, SnapshotConformance):
    """Contract tests for :class:`storage.StorageAdapter`; subclass and give ``adapter_factory``."""

    @pytest.fixture
    def adapter_factory(self) -> AdapterFactory:
        raise NotImplementedError("define an adapter_factory fixture in your test class")

    @pytest_asyncio.fixture
    async def adapter(self, adapter_factory: AdapterFactory) -> AsyncIterator[StorageAdapter]:
        adapter = adapter_factory()
        await adapter.open()
        yield adapter
        await adapter.close()

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

    # -- the Store over this adapter

    async def test_store_round_trip(self, adapter: StorageAdapter) -> None:
        store = Store(adapter)
        game = StoredGame("g1", "beer", "running", True, 3, data={"weeks": list(range(500))})
        await store.save_game(game)
        await store.save_decision("g1", 4, "retailer", {"order": 4})
        await store.append_round("g1", 4, {"orders": [4, 4, 4, 4]}, game)
        loaded = await store.load_game("g1")
        assert loaded is not None and loaded.data == game.data and loaded.round == 3
        assert await store.load_decisions("g1", 4) == {"retailer": {"order": 4}}
        assert [(r.round, r.data) for r in await store.load_rounds("g1")] == [
            (4, {"orders": [4, 4, 4, 4]})
        ]
        result = await store.load_games(in_progress_only=True)
        assert [g.game_id for g in result.games] == ["g1"] and result.errors == []

    async def test_store_load_group_decodes(self, adapter: StorageAdapter) -> None:
        store = Store(adapter)
        data = {"weeks": list(range(300))}
        for n in range(3):
            await store.save_game(StoredGame(f"a{n}", "beer", "running", True, 0, group="A"))
        await store.save_game(StoredGame("b0", "beer", "running", True, 0, data=data, group="B"))
        await store.save_game(StoredGame("none", "beer", "created", True, 0, data=data))
        played = StoredGame("a1", "beer", "finished", False, 1, data=data, group="A")
        await store.append_round("a1", 1, {"orders": [4]}, played)
        await adapter.save_snapshot(snap("a-bad", payload=b"\x01 not json", group="A"))
        result = await store.load_group("A")
        games = {g.game_id: g for g in result.games}
        assert sorted(games) == ["a0", "a1", "a2"]
        assert all(g.group == "A" for g in result.games)
        assert (games["a1"].status, games["a1"].round, games["a1"].data) == ("finished", 1, data)
        assert [e.game_id for e in result.errors] == ["a-bad"]
        assert isinstance(result.errors[0], CorruptRecord)
        b_group = await store.load_group("B")
        assert [(g.game_id, g.data) for g in b_group.games] == [("b0", data)]
        unknown = await store.load_group(None)
        assert [(g.game_id, g.group) for g in unknown.games] == [("none", None)]
        loaded = await store.load_game("a2")
        assert loaded is not None and loaded.group == "A"
        stored = await adapter.load_snapshot("b0")
        assert stored is not None and stored.group == "B"

    async def test_store_headers_decode_summaries_only(self, adapter: StorageAdapter) -> None:
        store = Store(adapter)
        summary = {"title": "Team 1", "seats": [{"role": "retailer", "name": "Ann"}]}
        game = StoredGame("g1", "beer", "running", True, 2, 5.0, data={"big": [1] * 500})
        await store.save_game(game)
        await store.save_game(StoredGame("g2", "beer", "created", True, 0, 6.0, summary=summary))
        # A damaged payload is never read by a listing: its game is listed from its summary.
        await adapter.save_snapshot(snap("g3", created_at=7.0, payload=b"\x01", summary="{}"))
        await adapter.save_snapshot(snap("g4", created_at=8.0, summary="[not an object"))
        headers = await store.load_headers(HeaderQuery())
        assert [(h.game_id, h.summary) for h in headers] == [
            ("g1", None),
            ("g2", summary),
            ("g3", {}),
            ("g4", None),
        ]
        assert (headers[0].status, headers[0].round, headers[0].created_at) == ("running", 2, 5.0)
        loaded = await store.load_game("g2")
        assert loaded is not None and loaded.summary == summary

    async def test_store_documents(self, adapter: StorageAdapter) -> None:
        store = Store(adapter)
        data = {"students": [{"name": f"Student {n}", "seat": None} for n in range(300)]}
        assert await store.load_document("classes", "S1") is None
        await store.save_document("classes", "S1", data)
        assert await store.load_document("classes", "S1") == data
        stored = await adapter.load_document("classes", "S1")
        assert stored is not None and len(stored.payload) < len(str(data))  # compressed
        await adapter.save_document(document("classes", "bad", b"\x01\x02"))
        with pytest.raises(CorruptRecord, match="classes/bad"):
            await store.load_document("classes", "bad")
        with pytest.raises(ValueError):
            await store.save_document("classes", "a b", {})

    async def test_store_reads_every_compression(self, adapter: StorageAdapter) -> None:
        data = {"history": [{"week": n, "order": n % 7} for n in range(200)]}
        for compression in ("zstd", "zlib", None):
            writer = Store(adapter, compression=compression)
            await writer.save_game(
                StoredGame(f"g-{compression}", "beer", "running", True, 1, data=data)
            )
            await writer.save_decision(f"g-{compression}", 1, "retailer", data)
        for compression in ("zstd", "zlib", None):
            reader = Store(adapter, compression=compression)
            result = await reader.load_games()
            assert len(result.games) == 3 and result.errors == []
            assert all(game.data == data for game in result.games)
            for writer_compression in ("zstd", "zlib", None):
                decisions = await reader.load_decisions(f"g-{writer_compression}", 1)
                assert decisions == {"retailer": data}

    async def test_store_reports_damaged_records_per_game(self, adapter: StorageAdapter) -> None:
        store = Store(adapter)
        for n in range(5):
            await store.save_game(StoredGame(f"ok{n}", "beer", "running", True, 1, data={"n": n}))
        zstd_good = Codec("zstd").encode({"x": "y" * 500})
        assert zstd_good[:4] == ZSTD_MAGIC
        await adapter.save_snapshot(snap("garbage", payload=b"\x01\x02not json"))
        await adapter.save_snapshot(snap("truncated", payload=zstd_good[: len(zstd_good) // 2]))
        await adapter.save_snapshot(snap("future", payload=b"{}", schema_version=99))
        await adapter.save_snapshot(snap("damaged", payload=b"??", schema_version=DAMAGED))
        await adapter.save_snapshot(snap("list", payload=b"[1, 2]"))
        result = await store.load_games()
        assert sorted(g.game_id for g in result.games) == [f"ok{n}" for n in range(5)]
        bad = {"garbage", "truncated", "future", "damaged", "list"}
        assert {e.game_id for e in result.errors} == bad
        for error in result.errors:
            assert isinstance(error, CorruptRecord) and repr(error.game_id) in str(error)
        for game_id in bad:
            with pytest.raises(CorruptRecord, match=game_id):
                await store.load_game(game_id)
